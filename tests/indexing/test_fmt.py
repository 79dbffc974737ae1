"""The shared formatting helpers (indexing/fmt.py): shortened text and one-line reasons, as
the exports, the IIIF manifests, the rough cut, the chat and the graph stores write them."""

from __future__ import annotations

from indexing.fmt import exception_text, shorten


def test_shorten_cuts_at_a_word_with_the_ellipsis_inside_the_limit() -> None:
    assert shorten("  ask not\twhat your\ncountry  ", 40) == "ask not what your country"
    assert shorten("ask not what your country", 12) == "ask not…"
    assert len(shorten("ask not what your country", 12)) <= 12
    assert shorten("ask not what", 12) == "ask not what"  # fits: kept whole


def test_shorten_may_keep_the_limit_in_words_and_add_the_ellipsis() -> None:
    # The first 13 characters are "ask not what " (a space last): the words are kept, the
    # ellipsis follows them (14 in all); with the ellipsis within 13, "what" has to go.
    assert shorten("ask not what your country", 13, ellipsis_within=False) == "ask not what…"
    assert shorten("ask not what your country", 13) == "ask not…"
    assert shorten("ask not what", 12, ellipsis_within=False) == "ask not what"


def test_exception_text_first_line_or_all_lines_folded() -> None:
    exc = OSError("cannot connect\n  to the server: refused")
    assert exception_text(exc) == "cannot connect"
    assert exception_text(exc, all_lines=True) == "cannot connect to the server: refused"
    assert exception_text(exc, 6) == "cannot"
    assert exception_text(ValueError()) == "ValueError"
    assert exception_text(ValueError(), all_lines=True) == "ValueError"
