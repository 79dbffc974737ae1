"""Prompt templates, kept as text files beside this module so they can be read and tuned
without touching code.

Templates use ``str.format`` placeholders: ``{question}`` is filled in, ``{{`` and ``}}`` stand
for literal braces. Only plain names are allowed (no ``{x.attr}`` or ``{x[0]}``), and the values
are inserted verbatim — braces inside a retrieved transcript are never re-interpreted.
"""

from __future__ import annotations

import functools
import re
import string
from importlib import resources

_NAME = re.compile(r"[a-z0-9_]+")


@functools.cache  # a handful of small package files that never change in a run
def load_prompt(name: str) -> str:
    """The text of ``prompts/<name>.txt``, without its trailing newline."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"bad prompt name {name!r}: use lowercase letters, digits and _")
    path = resources.files(__name__).joinpath(f"{name}.txt")
    if not path.is_file():
        raise FileNotFoundError(f"no prompt named {name!r} (looked for {path})")
    return path.read_text(encoding="utf-8").rstrip("\n")


@functools.cache
def placeholders(name: str) -> frozenset[str]:
    """The placeholder names the template ``name`` expects."""
    fields: set[str] = set()
    for _, field, spec, conversion in string.Formatter().parse(load_prompt(name)):
        if field is None:
            continue
        if not field.isidentifier() or spec or conversion:
            raise ValueError(f"prompt {name!r}: placeholder {{{field}}} must be a plain name")
        fields.add(field)
    return frozenset(fields)


def render(name: str, **values: object) -> str:
    """The template ``name`` with its placeholders filled from ``values``.

    Every placeholder must be given and nothing else, so a renamed placeholder fails loudly
    instead of leaving ``{sources}`` in a prompt.
    """
    expected = placeholders(name)
    missing = expected - values.keys()
    extra = values.keys() - expected
    if missing or extra:
        raise KeyError(
            f"prompt {name!r} takes {sorted(expected)}; missing {sorted(missing)}, "
            f"unexpected {sorted(extra)}"
        )
    return load_prompt(name).format_map({k: str(v) for k, v in values.items()})
