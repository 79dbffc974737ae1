"""Benchmark: peak memory of audio decoding (and recognition) on a 2-hour file, whole vs streamed.

    python bench/decode_memory.py [--hours 2] [--asr-seconds 660] [--chunk-seconds 600] [--file F]

Builds a long synthetic recording in a temporary folder (a real speech file from ../shared/media
looped with ffmpeg's -stream_loop and encoded to Opus; nothing is written to the repository) and
measures, each in a fresh Python process so the figures do not mix, the peak resident memory of

* ``whole``:  the old way, ``decode_audio`` returning the whole file as one float32 array;
* ``stream``: ``decode_audio_blocks`` regrouped by ``pause_chunks``, as the transcriber reads it;
* with ``--asr-seconds`` > 0, the same two ways feeding faster-whisper (the default model) and
  recognising the first N seconds: the whole array given to faster-whisper at once (what the
  transcriber did before) vs ``FasterWhisperTranscriber.transcribe(path)``, which streams.

Each child reports its own peak (``ru_maxrss``) and its resident size after imports, model
loading and a first Silero VAD call (which loads onnxruntime, ~150 MB, in both ways), so the
increment the audio causes is shown apart from the fixed cost of Python, numpy and the models.
ffmpeg's own few MB are not counted (it is the same process in both ways).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
SOURCE = "gwb_columbia_address_2003.ogg"


def _rss_mb() -> float:
    """Current resident set size of this process."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child(mode: str, path: Path, asr_seconds: float, chunk_seconds: float) -> dict[str, object]:
    """Run one measurement in this (fresh) process and return its figures."""
    import numpy as np
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    from indexing.backends.faster_whisper import FasterWhisperTranscriber
    from indexing.media import decode_audio, decode_audio_blocks
    from indexing.speech_chunks import pause_chunks

    transcriber = None
    if asr_seconds > 0:
        transcriber = FasterWhisperTranscriber(chunk_seconds=chunk_seconds)
        transcriber.load()
    get_speech_timestamps(np.zeros(32_000, dtype=np.float32), VadOptions())
    base = _rss_mb()
    t = time.perf_counter()
    samples = words = 0
    if mode == "whole":
        audio = decode_audio(path)
        samples = audio.shape[0]
        if transcriber is not None:
            # What the transcriber did before streaming: the whole array to faster-whisper.
            model = transcriber.load()
            segments, _ = model.transcribe(
                audio, beam_size=1, word_timestamps=True, vad_filter=True,
                vad_parameters=transcriber.vad_parameters, condition_on_previous_text=False)
            for seg in segments:
                words += len(seg.words or ())
                if seg.end > asr_seconds:
                    break
    elif transcriber is None:
        for _offset, chunk in pause_chunks(decode_audio_blocks(path), chunk_seconds):
            samples += chunk.shape[0]
            # Touch the data as a consumer would, so lazily mapped pages count.
            float(np.abs(chunk).max())
    else:
        for seg in transcriber.transcribe(path):
            words += len(seg.words)
            if seg.end > asr_seconds:
                break
        samples = round(transcriber.last_info.duration * 16_000) if transcriber.last_info else 0
    return {"mode": mode, "asr": transcriber is not None, "seconds": time.perf_counter() - t,
            "audio_s": samples / 16_000, "words": words, "base_mb": base, "peak_mb": _peak_mb()}


def make_long_file(out: Path, hours: float, media: Path) -> Path:
    """Loop a real speech recording to ``hours`` and encode it as mono 32 kb/s Opus."""
    src = media / SOURCE
    if not src.exists():
        sys.exit(f"missing test media: {src}")
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-stream_loop", "-1", "-i", str(src),
         "-t", str(hours * 3600), "-vn", "-ac", "1", "-c:a", "libopus", "-b:a", "32k", str(out)],
        check=True,
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=2.0)
    ap.add_argument("--media", type=Path, default=REPO.parent / "shared" / "media")
    ap.add_argument("--asr-seconds", type=float, default=660.0,
                    help="also recognise this many seconds (past the first chunk); 0 = decode only")
    ap.add_argument("--chunk-seconds", type=float, default=None,
                    help="the transcriber's chunk length (default: its default)")
    ap.add_argument("--file", type=Path, help="use this long recording instead of making one")
    ap.add_argument("--child", nargs=2, metavar=("MODE", "FILE"), help=argparse.SUPPRESS)
    args = ap.parse_args()

    from indexing.speech_chunks import DEFAULT_CHUNK_SECONDS

    chunk = args.chunk_seconds or DEFAULT_CHUNK_SECONDS
    if args.child:
        mode, path = args.child
        print(json.dumps(child(mode, Path(path), args.asr_seconds, chunk)))
        return

    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        if args.file:
            long_file = args.file
            print(f"recording {long_file} ({long_file.stat().st_size / 1e6:.0f} MB); "
                  f"chunk {chunk:g} s")
        else:
            long_file = make_long_file(Path(tmp) / "long.opus", args.hours, args.media)
            print(f"{args.hours:g} h synthetic file ({long_file.stat().st_size / 1e6:.0f} MB "
                  f"Opus) made in {time.perf_counter() - t:.0f} s; chunk {chunk:g} s")
        runs = [(mode, 0.0) for mode in ("whole", "stream")]
        if args.asr_seconds > 0:
            runs += [(mode, args.asr_seconds) for mode in ("whole", "stream")]
        results: dict[tuple[str, bool], dict[str, float]] = {}
        for mode, asr in runs:
            proc = subprocess.run(
                [sys.executable, __file__, "--child", mode, str(long_file),
                 "--asr-seconds", str(asr), "--chunk-seconds", str(chunk)],
                capture_output=True, text=True, check=False,
            )
            if proc.returncode != 0:
                sys.exit(f"{mode} failed: {proc.stderr.strip()[-2000:]}")
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            results[(mode, asr > 0)] = r
            what = f"decode + recognise first {asr:g} s" if asr else "decode all"
            print(f"{mode:6s} {what:34s}: peak {r['peak_mb']:7.0f} MB (after imports/model "
                  f"{r['base_mb']:.0f} MB, so +{r['peak_mb'] - r['base_mb']:.0f} MB for audio) "
                  f"in {r['seconds']:.1f} s; {r['audio_s']:.0f} s decoded, {r['words']} words")
        for asr in (False, True):
            if (("whole", asr) in results) and (("stream", asr) in results):
                w, s = results[("whole", asr)], results[("stream", asr)]
                label = "with recognition" if asr else "decode only"
                print(f"ratio whole/stream peak ({label}): {w['peak_mb'] / s['peak_mb']:.1f}x; "
                      f"audio part {w['peak_mb'] - w['base_mb']:.0f} MB -> "
                      f"{s['peak_mb'] - s['base_mb']:.0f} MB")


if __name__ == "__main__":
    main()
