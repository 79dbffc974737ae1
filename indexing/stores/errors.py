"""The error every store raises, apart from the contracts (:mod:`indexing.stores.base`) so the
modules those contracts name (where an index lives, :mod:`indexing.stores.location`) can raise
it without importing them."""

from __future__ import annotations


class StoreError(Exception):
    """A store that cannot be used as asked (wrong embedder, unreadable, ...)."""
