"""faster-whisper transcription with the shipped models on real recordings: word times, chunked
recognition of long inputs, and speech in two languages."""

from __future__ import annotations

import difflib
import itertools
import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from indexing.backends.faster_whisper import FasterWhisperTranscriber, transcriber_from_settings
from indexing.media import MediaError, decode_audio, decode_audio_blocks
from indexing.protocols import Transcriber
from indexing.settings import Settings
from indexing.speech_chunks import pause_chunks
from indexing.types import Segment, Word

JFK_DURATION = 11.0
COLUMBIA_DURATION = 198.73
PHRASE = "ask not what your country can do for you".split()


@pytest.fixture(scope="module")
def transcriber() -> FasterWhisperTranscriber:
    t = FasterWhisperTranscriber()
    t.load()
    return t


@pytest.fixture(scope="module")
def jfk_segments(transcriber: FasterWhisperTranscriber, jfk: Path) -> list[Segment]:
    return list(transcriber.transcribe(jfk))


@pytest.fixture(scope="module")
def columbia_run(transcriber: FasterWhisperTranscriber, columbia: Path):
    """The 200 s file is transcribed once for every test that needs it."""
    segments = list(transcriber.transcribe(columbia))
    return segments, transcriber.last_info


def _norm(word: str) -> str:
    return re.sub(r"[^a-z']", "", word.lower())


def _find_phrase(words: list[Word], phrase: list[str]) -> list[Word]:
    normed = [_norm(w.text) for w in words]
    for i in range(len(normed) - len(phrase) + 1):
        if normed[i:i + len(phrase)] == phrase:
            return words[i:i + len(phrase)]
    raise AssertionError(f"{' '.join(phrase)!r} not in {' '.join(normed)!r}")


def _check_word_times(segments: list[Segment], duration: float) -> None:
    words = [w for s in segments for w in s.words]
    assert words
    for seg in segments:
        assert 0.0 <= seg.start <= seg.end <= duration
        assert seg.words and seg.start == seg.words[0].start and seg.end == seg.words[-1].end
    for prev, w in itertools.pairwise(words):
        assert w.start >= prev.start, (prev, w)
    for w in words:
        assert 0.0 <= w.start <= w.end <= duration, w
        assert w.text == w.text.strip() and w.text
        assert 0.0 <= w.probability <= 1.0


def test_satisfies_protocol_without_loading() -> None:
    t = FasterWhisperTranscriber()
    assert isinstance(t, Transcriber)
    assert t.model_id == "faster-whisper:tiny.en"
    assert t._model is None  # nothing heavy happens until the first transcription


def test_jfk_phrase_with_word_times(jfk_segments: list[Segment]) -> None:
    text = " ".join(s.text for s in jfk_segments).lower()
    assert "ask not what your country can do for you" in text
    assert "ask what you can do for your country" in text
    _check_word_times(jfk_segments, JFK_DURATION)

    phrase = _find_phrase([w for s in jfk_segments for w in s.words], PHRASE)
    # In the recording (RMS envelope at 100 ms) "ask" is voiced from 3.2 s to 3.7 s, "not" from
    # 4.0 s, "what" from 5.4 s, and "for you" ends at 7.5 s before a 0.7 s pause.
    assert 2.7 <= phrase[0].start <= 3.5, phrase[0]
    assert 3.4 <= phrase[0].end <= 4.2, phrase[0]
    assert 4.8 <= phrase[2].start <= 5.6, phrase[2]
    assert 7.2 <= phrase[-1].end <= 8.3, phrase[-1]
    assert all(s.language == "en" for s in jfk_segments)


def test_silent_file_yields_nothing(transcriber: FasterWhisperTranscriber,
                                    tmp_path: Path) -> None:
    silent = tmp_path / "silence.wav"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i",
         "anullsrc=r=16000:cl=mono", "-t", "5", str(silent)],
        check=True, capture_output=True,
    )
    assert list(transcriber.transcribe(silent)) == []
    info = transcriber.last_info
    assert info is not None
    assert info.speech_duration == 0.0 and info.duration == pytest.approx(5.0, abs=0.05)
    assert transcriber.detected_language is None


def test_arrays_are_accepted(transcriber: FasterWhisperTranscriber) -> None:
    assert list(transcriber.transcribe(np.zeros(0, dtype=np.float32))) == []
    assert list(transcriber.transcribe(np.zeros(16_000, dtype=np.float32))) == []
    with pytest.raises(ValueError, match="mono"):
        transcriber.transcribe(np.zeros((2, 16_000), dtype=np.float32))


def test_video_without_audio_raises_media_error(transcriber: FasterWhisperTranscriber,
                                                popeye3: Path) -> None:
    with pytest.raises(MediaError):
        transcriber.transcribe(popeye3)


def test_columbia_language_and_content(columbia_run) -> None:
    segments, info = columbia_run
    assert info.language == "en" and info.language_probability > 0.5
    assert info.duration == pytest.approx(COLUMBIA_DURATION, abs=0.1)
    # Long silences between sentences are filtered out, speech is kept.
    assert 100 < info.speech_duration < info.duration
    assert all(s.language == "en" for s in segments)
    text = " ".join(s.text for s in segments).lower()
    for expected in ("space shuttle", "columbia", "no survivors", "crew of seven",
                     "continue to bless america"):
        assert expected in text, expected
    _check_word_times(segments, COLUMBIA_DURATION)
    # The speech runs to the end of the file: the last words are near 190 s, not squeezed early.
    assert segments[-1].end > 185


def test_settings_and_model_ids() -> None:
    settings = Settings(asr_model="large-v3-turbo", asr_language="de", asr_beam_size=5,
                        asr_vad=False, threads=3)
    t = transcriber_from_settings(settings)
    assert (t.model_name, t.language, t.beam_size, t.vad, t.threads) == (
        "large-v3-turbo", "de", 5, False, 3)
    assert t.model_id == "faster-whisper:large-v3-turbo"
    assert FasterWhisperTranscriber("tiny.en").model_id == FasterWhisperTranscriber().model_id
    assert FasterWhisperTranscriber("base").model_id == "faster-whisper:base"
    assert transcriber_from_settings(Settings.from_env({"DEERIN_ASR_MODEL": "base"})).model_id \
        == "faster-whisper:base"
    with pytest.raises(ValueError):
        FasterWhisperTranscriber(beam_size=0)
    with pytest.raises(ValueError):
        FasterWhisperTranscriber(chunk_seconds=0)


# --- Long inputs: streamed decoding, recognition chunk by chunk -------------------------------

CHUNK = 40.0  # forced small, so the 200 s Columbia address is cut four or five times


def _ffmpeg_children() -> list[str]:
    pid = os.getpid()
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [c for c in children
            if Path(f"/proc/{c}/comm").exists()
            and Path(f"/proc/{c}/comm").read_text().strip() == "ffmpeg"]


def test_streamed_blocks_are_the_whole_decode(columbia: Path) -> None:
    blocks = list(decode_audio_blocks(columbia, block_seconds=10.0))
    assert all(b.dtype == np.float32 and b.shape == (160_000,) for b in blocks[:-1])
    assert 0 < blocks[-1].shape[0] <= 160_000
    assert np.array_equal(np.concatenate(blocks), decode_audio(columbia))
    # A consumer that stops early leaves no ffmpeg behind.
    stream = decode_audio_blocks(columbia, block_seconds=1.0)
    next(stream)
    assert _ffmpeg_children()
    stream.close()
    assert not _ffmpeg_children()


def test_decode_errors_are_one_line(tmp_path: Path, lecture: Path, popeye3: Path) -> None:
    notes = tmp_path / "notes.mp4"
    notes.write_text("not a video\n" * 50)
    truncated = tmp_path / "truncated.webm"
    truncated.write_bytes(lecture.read_bytes()[:2000])
    for bad in (notes, popeye3):  # popeye3 has no audio track
        with pytest.raises(MediaError) as err:
            list(decode_audio_blocks(bad))
        assert str(err.value) and "\n" not in str(err.value)
    # A file cut short yields the audio up to the break (here a fraction of a second).
    assert sum(b.shape[0] for b in decode_audio_blocks(truncated)) < 16_000


def test_pause_chunks_cut_in_pauses_and_add_up(columbia: Path) -> None:
    whole = decode_audio(columbia)
    chunks = list(pause_chunks(decode_audio_blocks(columbia, block_seconds=7.0), CHUNK))
    assert len(chunks) >= 5
    assert np.array_equal(np.concatenate([c for _, c in chunks]), whole)
    offsets = [o for o, _ in chunks]
    assert offsets == list(itertools.accumulate([0] + [c.shape[0] for _, c in chunks[:-1]]))
    assert all(c.shape[0] <= CHUNK * 16_000 for _, c in chunks)
    # Cuts are in pauses: the 50 ms around each is far quieter than the speech.
    loud = float(np.sqrt(np.mean(np.square(whole))))
    for cut in offsets[1:]:
        around = whole[cut - 400:cut + 400]
        assert float(np.sqrt(np.mean(np.square(around)))) < 0.2 * loud, cut / 16_000
    # An array gives the same cuts, and an input shorter than a chunk comes back as it is.
    assert [o for o, _ in pause_chunks([whole], CHUNK)] == offsets
    short = whole[: 16_000 * 10]
    assert next(pause_chunks([short], CHUNK))[1] is short


def test_chunked_recognition_loses_and_repeats_no_word(columbia: Path, columbia_run) -> None:
    whole_segments, whole_info = columbia_run
    chunked = FasterWhisperTranscriber(chunk_seconds=CHUNK)
    segments = list(chunked.transcribe(columbia))
    info = chunked.last_info
    assert info is not None and info.duration == pytest.approx(COLUMBIA_DURATION, abs=0.1)
    assert info.speech_duration == pytest.approx(whole_info.speech_duration, rel=0.05)
    _check_word_times(segments, COLUMBIA_DURATION)
    words = [w for s in segments for w in s.words]
    cuts = [o / 16_000 for o, _ in pause_chunks(decode_audio_blocks(columbia), CHUNK)][1:]
    for cut in cuts:
        assert not [w for w in words if w.start < cut - 0.05 and w.end > cut + 0.05], cut
        before = [w for w in words if w.end <= cut + 0.05][-1]
        after = next(w for w in words if w.start >= cut - 0.05)
        # The same word on both sides of a cut would be a duplicate from two chunks.
        assert (_norm(before.text), before.start) != (_norm(after.text), after.start)
        assert after.start >= before.end - 0.01
    # The words are those of the unchunked run: recognition differs in a few spellings only.
    reference = [_norm(w.text) for s in whole_segments for w in s.words]
    got = [_norm(w.text) for w in words]
    assert difflib.SequenceMatcher(a=reference, b=got).ratio() >= 0.93
    assert abs(len(got) - len(reference)) <= 0.03 * len(reference)
    text = " ".join(s.text for s in segments).lower()
    for expected in ("space shuttle", "no survivors", "crew of seven", "bless america"):
        assert expected in text, expected


# --- Two languages in one recording ----------------------------------------------------------

GERMAN = {"software", "recht", "bedingungen", "dokumentationsdateien", "genehmigung", "rechte",
          "verteilen", "und", "der", "die", "zu"}
ENGLISH = {"permission", "software", "copy", "granted", "charge", "person", "conditions"}


@pytest.fixture(scope="module")
def en_de(media_dir: Path) -> Path:
    p = media_dir / "fasterwhisper_multilingual_en_de.mp3"
    if not p.exists():
        pytest.fail(f"test media missing: {p}")
    return p


def _check_english_then_german(segments: list[Segment]) -> None:
    # The recording reads a licence in English (0-29 s), then its German translation (30-60 s).
    english = [s for s in segments if s.end <= 29.5]
    german = [s for s in segments if s.start >= 30.0]
    assert english and german
    assert all(s.language == "en" for s in english)
    assert all(s.language == "de" for s in german), [(s.start, s.language) for s in german]
    en_words = {_norm(w.text) for s in english for w in s.words}
    de_words = {re.sub(r"[^a-zäöüß']", "", w.text.lower()) for s in german for w in s.words}
    assert len(ENGLISH & en_words) >= 5, en_words
    assert len(GERMAN & de_words) >= 6, de_words
    assert "permission" not in de_words  # German, not an English translation of it
    _check_word_times(segments, 60.0)


def test_mixed_recording_default_rechecks_german(en_de: Path) -> None:
    t = FasterWhisperTranscriber()  # tiny.en, English only: German windows go to base
    segments = list(t.transcribe(en_de))
    _check_english_then_german(segments)
    assert t.last_info is not None and t.last_info.language == "en"


@pytest.mark.slow
def test_mixed_recording_with_base(en_de: Path) -> None:
    segments = list(FasterWhisperTranscriber("base").transcribe(en_de))
    _check_english_then_german(segments)

