"""DEERIn: talk to your footage. Index film and TV archives; get answers that cite playable,
timestamped clips.

The public API is these functions (see :mod:`deerin.api`); the ``deerin`` command line is
a thin layer over them (:mod:`deerin.cli`).
"""

from deerin.api import IndexRun, Reply, ask, evidence, index, open_index, search

__all__ = ["IndexRun", "Reply", "ask", "evidence", "index", "open_index", "search"]
