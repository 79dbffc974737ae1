"""The ``deerin`` console script: set up the process, then run the command line.

Apart from :mod:`deerin.cli` because what is set here must precede every import of numpy,
torch and CTranslate2, and importing the command modules already loads numpy.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    """Console-script entry point."""
    # Model loaders draw their own tqdm bars, which would tear through rich's progress display.
    os.environ.setdefault("TQDM_DISABLE", "1")
    # Idle OpenMP workers (llama.cpp, torch) must sleep, not spin: with spinning, a thread per
    # core stalls whenever anything else runs (see assistant.llm.llamacpp). Torch's runtime
    # reads it too, so it is set here as well, before any runtime starts.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    # OpenCV's FFmpeg prints every decoder complaint of a damaged video (hundreds of lines) to
    # stderr, through the progress display; the pipeline reports such a file in one line.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    from config import ConfigError, load_config
    from indexing.machine import pin_kernels

    try:
        mode = load_config()["runtime.kernels"]
    except ConfigError as exc:  # the command line would say the same, with its own prefix
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    # The same kernels on every CPU (runtime.kernels): before any library that reads them loads.
    pin_kernels(os.environ, mode)

    from deerin.cli import run

    run()
