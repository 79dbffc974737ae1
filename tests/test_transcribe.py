"""faster-whisper transcription with the shipped tiny.en model on real recordings."""

from __future__ import annotations

import itertools
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from indexing.media import MediaError
from indexing.protocols import Transcriber
from indexing.settings import Settings
from indexing.stages.transcribe import FasterWhisperTranscriber, transcriber_from_settings
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
    with pytest.raises(ValueError):
        FasterWhisperTranscriber(beam_size=0)
