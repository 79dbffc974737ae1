"""GraphRAG on the query side: entity linking, graph-aware retrieval, collection-wide answers.

Modes (``deerin ask --mode``): ``naive`` is the ordinary hybrid retrieval; ``local`` follows
the entities a question names to every clip where they (and their close associates) appear;
``hybrid`` fuses the two rankings; ``global`` answers collection-wide questions from community
reports (map-reduce); ``auto`` picks one per question (:func:`assistant.graph.modes.pick_mode`).
"""
