"""How long a map of 100k clips takes to build, how big its page is, and whether a browser
draws it.

Synthetic collection: ``--n`` clips (default 100,000) in 60 topics. Each topic draws its words
from its own slice of the vocabulary of the reference transcripts in ../shared/media (real
English words, topic-coherent sentences); each clip's 384-d unit vector is its topic's centre
plus noise (so the map has structure to find). No embedding model runs: the figure measured is
the map (layout, clusters, labels, page), not embedding.

Baseline, in the same run: plain UMAP of every point on the raw 384-d vectors (no PCA, no
landmarks) on the first ``--baseline-n`` clips, against the map's layout of the same clips.
The map is built twice: in a cold process (numba compiles UMAP first) and again warm.

    python bench/map_build.py                # 100k clips, 2 threads, plus the baseline
    python bench/map_build.py --browser      # also open the page in chromium and hover
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from exploration.build import map_page  # noqa: E402
from exploration.html import Links  # noqa: E402
from exploration.points import Point  # noqa: E402

MEDIA = REPO.parent / "shared" / "media"
TOPICS = 60
DIM = 384


def synthetic(n: int, seed: int = 0) -> tuple[list[Point], np.ndarray]:
    rng = np.random.default_rng(seed)
    words = sorted({w.lower() for f in (MEDIA / "transcripts").glob("*.txt")
                    for w in re.findall(r"[A-Za-z]{3,}", f.read_text(errors="ignore"))})
    if len(words) < TOPICS * 5:
        raise SystemExit(f"too few words in {MEDIA / 'transcripts'}")
    rng.shuffle(words)
    vocab = np.array_split(np.array(words), TOPICS)
    common = ["the", "and", "of", "to", "we", "is", "in", "that", "it", "was"]
    centres = rng.normal(size=(TOPICS, DIM)).astype(np.float32)
    topic = rng.integers(0, TOPICS, n)
    vectors = centres[topic] + 0.9 * rng.normal(size=(n, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    points = []
    for i in range(n):
        own = vocab[topic[i]]
        k = int(rng.integers(8, 30))
        picked = [own[j] if rng.random() < 0.6 else common[j % len(common)]
                  for j in rng.integers(0, len(own), k)]
        start = float(rng.uniform(0, 3600))
        points.append(Point(f"{i % 500:024x}", f"/archive/reel_{i % 500:03d}.mp4", start,
                            start + float(rng.uniform(3, 30)),
                            " ".join(picked).capitalize() + ".", True))
    return points, vectors


def umap_raw(vectors: np.ndarray, threads: int) -> float:
    import umap

    t = time.perf_counter()
    umap.UMAP(n_neighbors=15, min_dist=0.1, metric="cosine", n_jobs=threads,
              low_memory=True).fit_transform(vectors)
    return time.perf_counter() - t


def browse(page_file: Path) -> dict[str, float | bool]:
    from playwright.sync_api import sync_playwright

    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=args)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            t = time.perf_counter()
            page.goto(page_file.as_uri(), timeout=300_000)
            page.wait_for_function("() => document.getElementById('deerin-map')?.dataset"
                                   ".ready === '1'", timeout=300_000)
            drawn = time.perf_counter() - t
            box = page.locator("#deerin-map").bounding_box()
            assert box is not None
            t = time.perf_counter()
            hovered = False
            for dx, dy in ((0.5, 0.5), (0.4, 0.45), (0.6, 0.55), (0.45, 0.6), (0.55, 0.4)):
                page.mouse.move(box["x"] + box["width"] * dx, box["y"] + box["height"] * dy)
                try:
                    page.wait_for_selector("#tip:not([hidden])", timeout=5_000)
                    hovered = True
                    break
                except Exception:
                    continue
            hover = time.perf_counter() - t
            t = time.perf_counter()
            page.fill("#find", "the")
            page.wait_for_function("() => document.getElementById('count').textContent"
                                   ".includes(' of ')", timeout=60_000)
            search = time.perf_counter() - t
            page.screenshot(path=str(page_file.with_suffix(".png")))
        finally:
            browser.close()
    return {"draw_s": drawn, "hover_ok": hovered, "hover_s": hover, "highlight_s": search}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--baseline-n", type=int, default=30_000)
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--browser", action="store_true", help="open the page in chromium")
    args = ap.parse_args()

    t = time.perf_counter()
    points, vectors = synthetic(args.n)
    print(f"synthetic collection: {len(points)} clips, {vectors.shape[1]}-d vectors "
          f"({time.perf_counter() - t:.1f} s to make)")
    links = Links(media=lambda p: p.media_path, thumbnail=lambda p: None)
    result = map_page(points, vectors, links, title="bench", threads=args.threads)
    s = result.seconds
    print(f"map of {result.points} clips, {result.clusters} clusters, cold process: "
          f"{s['total_s']:.1f} s (layout {s['layout_s']:.1f} s incl. numba compiling UMAP, "
          f"clusters+labels {s['cluster_s']:.1f} s, page {s['page_s']:.1f} s) on "
          f"{args.threads} threads")
    warm = map_page(points, vectors, links, title="bench", threads=args.threads).seconds
    print(f"same map again in the same process (compiled; what `deerin chat` sees for /map "
          f"after its first map): {warm['total_s']:.1f} s (layout {warm['layout_s']:.1f} s)")
    out = Path(tempfile.mkdtemp(prefix="deerin-map-bench-")) / "map.html"
    out.write_text(result.html, encoding="utf-8")
    print(f"page: {out} {out.stat().st_size / 1e6:.1f} MB, {result.points} points drawn "
          f"(WebGL above 5,000 points)")
    if args.browser:
        b = browse(out)
        print(f"chromium (headless, software WebGL): drawn in {b['draw_s']:.1f} s; hover "
              f"tooltip {'shown' if b['hover_ok'] else 'NOT shown'} (moving the mouse "
              f"until a point is under it: {b['hover_s']:.1f} s); "
              f"word highlight over all points {b['highlight_s']:.2f} s")
    if not args.no_baseline:
        m = min(args.baseline_n, len(points))
        ours = map_page(points[:m], vectors[:m], links, threads=args.threads).seconds
        raw = umap_raw(vectors[:m], args.threads)
        print(f"baseline on {m} clips: plain UMAP of every point on the raw {DIM}-d vectors "
              f"{raw:.1f} s vs the map's layout (PCA 50-d, UMAP of 10k landmarks, the rest "
              f"placed) {ours['layout_s']:.1f} s: {raw / max(ours['layout_s'], 1e-9):.2f}x")


if __name__ == "__main__":
    main()
