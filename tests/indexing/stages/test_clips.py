"""Clip segmentation: hand-built word streams for the edge cases, real subtitles for the rest."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from indexing.stages.clips import speech_clips, subtitle_clips
from indexing.stages.subtitles import read_cues
from indexing.types import Clip, ClipKind, Cue, Media, Segment, Shot, Word


def _media(duration: float = 120.0, name: str = "talk.mp4") -> Media:
    return Media(media_id="m1", path=Path("/footage") / name, duration=duration, size=1,
                 mtime_ns=0, has_audio=True, has_video=True)


def _words(text: str, start: float, step: float = 0.5, gap: float = 0.1) -> list[Word]:
    """faster-whisper style words (leading space), each ``step - gap`` long, ``gap`` apart."""
    out = []
    t = start
    for token in text.split():
        out.append(Word(" " + token, t, t + step - gap))
        t += step
    return out


def _segment(words: list[Word]) -> Segment:
    return Segment(words[0].start, words[-1].end, "".join(w.text for w in words), tuple(words))


def _assert_whole_words(clips: list[Clip], words: list[Word]) -> None:
    """Every word lies inside exactly one clip, in order, and the texts add up."""
    for w in words:
        inside = [c for c in clips if c.start <= w.start and w.end <= c.end]
        assert len(inside) == 1, f"word {w} split or duplicated across {inside}"
    for a, b in itertools.pairwise(clips):
        assert a.end <= b.start
    joined = " ".join(c.text for c in clips)
    assert joined == " ".join(w.text.strip() for w in words)


def test_empty_input() -> None:
    assert speech_clips(_media(), []) == []
    assert speech_clips(_media(), [Segment(0.0, 1.0, "  ", ())]) == []
    assert subtitle_clips(_media(), []) == []


def test_short_speech_is_one_clip_with_metadata() -> None:
    words = _words("And so, my fellow Americans: ask not.", 1.0)
    clips = speech_clips(_media(), [_segment(words)])
    assert len(clips) == 1
    c = clips[0]
    assert c.text == "And so, my fellow Americans: ask not."
    assert (c.kind, c.media_id, c.media_path, c.seq) == (ClipKind.SPEECH, "m1",
                                                        "/footage/talk.mp4", 0)
    # Bracketing the words, padded by a little silence only.
    assert words[0].start - 0.25 <= c.start <= words[0].start
    assert words[-1].end <= c.end <= words[-1].end + 0.25
    assert c.shot_index is None and c.keyframe is None


def test_long_pause_splits() -> None:
    first = _words(" ".join(f"alpha{i}" for i in range(20)), 0.0)  # 0-9.9 s
    second = _words(" ".join(f"beta{i}" for i in range(20)), 12.5)  # 2.6 s of silence before
    words = first + second
    clips = speech_clips(_media(), [_segment(words)])
    assert [c.text.split()[-1] for c in clips] == ["alpha19", "beta19"]
    _assert_whole_words(clips, words)
    assert clips[0].end <= 11.2 and clips[1].start >= 11.2  # padding shares the silence


def test_prefers_sentence_ends() -> None:
    sentence = "the quick brown fox jumps over the lazy dog and runs far away."
    words = _words(" ".join([sentence] * 5), 0.0)  # 65 words, 32.5 s, sentence every 6.5 s
    clips = speech_clips(_media(), [_segment(words)])
    assert len(clips) >= 2
    assert all(c.text.endswith("away.") for c in clips), [c.text for c in clips]
    _assert_whole_words(clips, words)


def test_max_length_respected_without_any_good_break() -> None:
    words = _words(" ".join(f"w{i}" for i in range(400)), 0.0, step=0.3, gap=0.02)  # 120 s
    clips = speech_clips(_media(130.0), [_segment(words)], target=12.0, max_len=30.0)
    assert all(c.duration <= 30.0 + 0.4 for c in clips), [c.duration for c in clips]
    # With nothing better to go on, clips settle near the target length.
    assert all(8.0 <= c.duration <= 16.0 for c in clips), [c.duration for c in clips]
    assert [c.seq for c in clips] == list(range(len(clips)))
    _assert_whole_words(clips, words)


def test_shot_boundary_splits_and_is_recorded(tmp_path: Path) -> None:
    words = _words(" ".join(f"w{i}" for i in range(48)), 0.0)  # 0-23.9 s, no punctuation
    shots = [Shot(0, 0.0, 11.45, tmp_path / "k0.jpg", 5.0),
             Shot(1, 11.45, 120.0, tmp_path / "k1.jpg", 60.0)]  # cut in the gap after w22
    clips = speech_clips(_media(), [_segment(words)], shots)
    assert [c.text.split()[-1] for c in clips] == ["w22", "w47"]
    assert [c.shot_index for c in clips] == [0, 1]
    assert [c.keyframe for c in clips] == [str(tmp_path / "k0.jpg"), str(tmp_path / "k1.jpg")]


def test_cut_inside_a_word_never_splits_it() -> None:
    words = _words(" ".join(f"w{i}" for i in range(60)), 0.0, gap=0.0)  # words touch
    shots = [Shot(0, 0.0, 9.27), Shot(1, 9.27, 20.13), Shot(2, 20.13, 120.0)]  # mid-word cuts
    clips = speech_clips(_media(), [_segment(words)], shots)
    _assert_whole_words(clips, words)


def test_wordless_segments_keep_segment_timing() -> None:
    segments = [
        _segment(_words("Good evening.", 0.5)),
        Segment(2.0, 40.0, " A long passage the recogniser gave no word times for.", ()),
        Segment(42.0, 44.0, " And a short one.", ()),
    ]
    clips = speech_clips(_media(), segments)
    texts = [c.text for c in clips]
    assert "A long passage the recogniser gave no word times for." in texts
    long = next(c for c in clips if c.text.startswith("A long"))
    # Longer than max_len but indivisible: kept whole rather than cut mid-word.
    assert long.start <= 2.0 and long.end >= 40.0
    assert " ".join(texts) == ("Good evening. A long passage the recogniser gave no word times "
                               "for. And a short one.")


def test_padding_clamped_to_media_and_neighbours() -> None:
    words = _words("Hello there.", 0.05) + _words("General Kenobi.", 29.5)
    clips = speech_clips(_media(duration=30.45), [_segment(words)], max_len=30.0)
    assert clips[0].start == 0.0
    assert clips[-1].end == pytest.approx(30.45)
    for a, b in itertools.pairwise(clips):
        assert a.end <= b.start


def test_overlapping_words_meet_halfway() -> None:
    a = _words("one two three four five six seven eight nine ten.", 0.0, step=1.0)
    b = [Word(" " + t, 9.8 + 1.0 * i, 10.7 + 1.0 * i) for i, t in enumerate("x y z".split())]
    clips = speech_clips(_media(), [_segment(a), _segment(b)], target=6.0, min_len=1.0)
    for left, right in itertools.pairwise(clips):
        assert left.end <= right.start


def test_plain_words_are_joined_with_spaces() -> None:
    words = [Word("hello", 0.0, 0.4), Word("world", 0.5, 0.9)]
    assert speech_clips(_media(), [_segment(words)])[0].text == "hello world"


def test_isolated_cues_stay_apart_and_short_cues_merge() -> None:
    cues = [Cue(1.0, 2.0, "[door slams]"),  # alone: 10 s of silence follows
            Cue(12.0, 13.0, "Who's there?"), Cue(13.1, 14.0, "Only me."),
            Cue(14.1, 15.5, "Come in,\nthen.")]
    clips = subtitle_clips(_media(), cues)
    assert [c.text for c in clips] == ["[door slams]", "Who's there? Only me. Come in, then."]
    assert all(c.kind == ClipKind.SUBTITLE for c in clips)
    assert [c.seq for c in clips] == [0, 1]


def test_popeye_buzzard_subtitle_clip(popeye3: Path) -> None:
    from indexing.media import probe

    media = probe(popeye3)
    cues = read_cues(popeye3.with_suffix(".srt"))
    clips = subtitle_clips(media, cues, target=12.0, max_len=30.0, min_len=3.0)
    hits = [c for c in clips if "buzzard" in c.text]
    assert len(hits) == 1
    clip = hits[0]
    # The cue is 57.012-59.012 s; the clip holds it whole and stays a searchable few seconds.
    assert clip.start <= 57.012 and clip.end >= 59.012
    assert clip.start >= 45.0 and clip.end <= media.duration and clip.duration <= 30.0
    assert clip.media_path == str(popeye3) and clip.kind == ClipKind.SUBTITLE
    # Every cue's text lands in exactly one clip, in order.
    assert " ".join(c.text for c in clips) == " ".join(" ".join(c.text.split()) for c in cues)


def test_popeye_subtitle_clips_with_real_shots(popeye3: Path, tmp_path: Path) -> None:
    from indexing.backends.scenedetect import SceneDetectShots
    from indexing.media import probe

    media = probe(popeye3)
    shots = SceneDetectShots().detect(media, tmp_path)
    clips = subtitle_clips(media, read_cues(popeye3.with_suffix(".srt")), shots)
    for c in clips:
        assert c.shot_index is not None and c.keyframe is not None
        shot = shots[c.shot_index]
        assert shot.start <= (c.start + c.end) / 2 <= shot.end
        assert c.keyframe == str(shot.keyframe) and Path(c.keyframe).exists()
    buzzard = next(c for c in clips if "buzzard" in c.text)
    assert buzzard.start <= 57.012 and buzzard.end >= 59.012


# -- times and language ------------------------------------------------------------------------

def test_speech_times_map_each_word_to_its_seconds() -> None:
    words = _words("Ask not what your country can do for you. Ask what you can do.", 2.0)
    seg = Segment(words[0].start, words[-1].end, "".join(w.text for w in words), tuple(words),
                  language="en")
    [clip] = speech_clips(_media(), [seg])
    assert clip.language == "en"
    assert len(clip.times) == len(words)
    for t, w in zip(clip.times, words, strict=True):
        assert clip.text[t.char_start:t.char_end] == w.text.strip()
        assert (t.start, t.end) == (w.start, w.end)
    # The second sentence's characters map to its first and last word's seconds.
    second = clip.text.index("Ask what")
    assert clip.span_of(second, len(clip.text)) == (words[9].start, words[-1].end)
    assert clip.span_of(0, 3) == (words[0].start, words[0].end)


def test_times_follow_words_across_clips_and_unspaced_scripts() -> None:
    words = _words(" ".join(f"w{i}." for i in range(80)), 0.0)  # 40 s: several clips
    clips = speech_clips(_media(), [_segment(words)])
    assert len(clips) > 1
    assert [t.start for c in clips for t in c.times] == [w.start for w in words]
    for c in clips:
        assert all(c.start <= t.start <= t.end <= c.end for t in c.times)
    # Words without spaces (as the recogniser gives Chinese or Japanese) keep their own spans.
    cjk = [Word("你好", 0.0, 0.4), Word("世界", 0.5, 0.9), Word(" ok", 1.0, 1.3)]
    [clip] = speech_clips(_media(), [_segment(cjk)])
    assert clip.text == "你好世界 ok"
    assert [clip.text[t.char_start:t.char_end] for t in clip.times] == ["你好", "世界", "ok"]


def test_clip_language_is_that_of_most_of_its_words() -> None:
    en = _words("Good morning everyone and welcome.", 0.0)
    de = _words("Guten Morgen.", en[-1].end + 0.1)
    segs = [Segment(en[0].start, en[-1].end, "", tuple(en), language="en"),
            Segment(de[0].start, de[-1].end, "", tuple(de), language="de")]
    [clip] = speech_clips(_media(), segs)
    assert clip.language == "en"
    assert speech_clips(_media(), [_segment(en)])[0].language is None


def test_subtitle_times_are_cue_times() -> None:
    cues = [Cue(12.0, 13.0, "Who's  there?"), Cue(13.1, 14.0, "Only me."),
            Cue(14.1, 15.5, "Come in,\nthen.")]
    [clip] = subtitle_clips(_media(), cues, language="en")
    assert clip.language == "en"
    assert [(t.start, t.end) for t in clip.times] == [(c.start, c.end) for c in cues]
    assert [clip.text[t.char_start:t.char_end] for t in clip.times] == \
        ["Who's there?", "Only me.", "Come in, then."]
    assert subtitle_clips(_media(), cues)[0].language is None


def test_sidecar_language_from_the_file_name() -> None:
    from indexing.pipeline import sidecar_language

    film = Path("/f/Film.Night.mkv")
    assert sidecar_language(Path("/f/Film.Night.en.vtt"), film) == "en"
    assert sidecar_language(Path("/f/Film.Night.pt-BR.forced.srt"), film) == "pt"
    assert sidecar_language(Path("/f/Film.Night.forced.de.srt"), film) == "de"
    assert sidecar_language(Path("/f/Film.Night.srt"), film) is None
    assert sidecar_language(Path("/f/Film.Night.sdh.srt"), film) is None
