"""Enrichment: slow, optional passes over an existing index that add what a model writes.

:mod:`~indexing.enrich.captions` captions shot keyframes (an image-to-text model) and
:mod:`~indexing.enrich.catalogue` writes each file's catalogue record with an LLM. Both run
after indexing, resume where they stopped, and take their model as an argument (the contracts
of :mod:`indexing.protocols`), so nothing here chooses or loads one.
"""
