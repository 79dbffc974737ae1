"""Where speech may be cut: voice-activity settings for archive speech, and pause-aligned chunks.

Long files are recognised chunk by chunk so memory does not grow with the file; a chunk ends in
a pause so that no word is split between two recognitions. The same VAD settings decide what the
recogniser hears as speech (:mod:`indexing.backends.faster_whisper`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType

import numpy as np

from indexing.media import SAMPLE_RATE

# Long files are recognised in chunks so memory does not grow with the file: ffmpeg streams the
# audio and each chunk is handed to faster-whisper alone. faster-whisper computes the features of
# its whole input at once, and that, not the samples, is what costs: on a 2-hour file
# (bench/decode_memory.py) one call peaked at 5.3 GB, 10-minute chunks at 0.86 GB and 5-minute
# chunks at 0.51 GB, whatever the file's length. A chunk boundary costs one 30 s VAD pass, so
# 5 minutes is no slower; a file shorter than a chunk is one call, as before.
DEFAULT_CHUNK_SECONDS = 300.0
# A chunk ends at the longest pause found in the last 30 s before its nominal end (see
# pause_chunks): long enough that speech nearly always pauses in it, short that chunks stay even.
CUT_SEARCH_SECONDS = 30.0

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


def pause_chunks(blocks: Iterable[np.ndarray], chunk_seconds: float = DEFAULT_CHUNK_SECONDS,
                 search_seconds: float = CUT_SEARCH_SECONDS,
                 vad_parameters: Mapping[str, float] = DEFAULT_VAD_PARAMETERS,
                 ) -> Iterator[tuple[int, np.ndarray]]:
    """Regroup a stream of sample blocks into chunks of at most ``chunk_seconds`` that end in a
    pause, yielding ``(offset in samples, samples)``; the chunks put end to end are the input.

    Why cut at a pause rather than overlap the chunks and drop the words recognised twice: the
    two recognitions of an overlap seldom agree word for word (different context, different
    alignment), so de-duplicating them needs fuzzy matching that can lose or double a word. A
    cut in silence gives every word to exactly one chunk, and its times only need the chunk's
    offset. The cut is the middle of the longest pause Silero VAD finds in the last
    ``search_seconds`` before the nominal end (the quietest 20 ms when there is none, e.g. under
    music). Input shorter than one chunk comes back as one chunk, uncopied.
    """
    chunk = max(1, round(chunk_seconds * SAMPLE_RATE))
    search = min(chunk, max(1, round(search_seconds * SAMPLE_RATE)))
    pending: list[np.ndarray] = []
    size = offset = 0
    for block in blocks:
        pending.append(block)
        size += block.shape[0]
        if size < chunk:
            continue
        buf = np.concatenate(pending)
        pending = []
        while buf.shape[0] >= chunk:
            cut = chunk - search + _pause_in(buf[chunk - search:chunk], vad_parameters)
            head, rest = buf[:cut], buf[cut:]
            # A short remainder is copied so the chunk's buffer can be freed once it has been
            # recognised; a long one (an array given whole) is already in memory: keep a view.
            buf = rest if rest.shape[0] >= chunk else rest.copy()
            yield offset, head
            offset += cut
            del head
        pending, size = ([buf], buf.shape[0]) if buf.size else ([], 0)
    if size:
        yield offset, pending[0] if len(pending) == 1 else np.concatenate(pending)


def _pause_in(window: np.ndarray, vad_parameters: Mapping[str, float]) -> int:
    """Where in ``window`` to cut: the middle of its longest non-speech stretch (>= 1)."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    speech = get_speech_timestamps(window, VadOptions(**vad_parameters))
    if not speech:
        return window.shape[0]
    bounds = [0, *(edge for s in speech for edge in (s["start"], s["end"])), window.shape[0]]
    length, start, stop = max((b - a, a, b) for a, b in zip(bounds[::2], bounds[1::2],
                                                             strict=True))
    if length > 0:
        return max(1, (start + stop) // 2)
    frame = 320  # 20 ms
    usable = window[: window.shape[0] // frame * frame].reshape(-1, frame)
    return max(1, int(np.argmin(np.square(usable).mean(axis=1))) * frame + frame // 2)
