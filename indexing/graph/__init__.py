"""The knowledge graph: who and what appears where, derived from the clip store.

The graph is a *derived index* of the clips, like the full-text index: entities and concepts are
extracted from every clip's text without an LLM (:mod:`indexing.graph.extract`), kept per media
file with their evidence (clip ids, hence file and seconds) in a :class:`~indexing.graph.store.
GraphStore`, and synced with the clip store by media id (:mod:`indexing.graph.sync`). Entities,
co-occurrence relations (:mod:`indexing.graph.build`) and communities
(:mod:`indexing.graph.communities`) are computed from that evidence.
"""
