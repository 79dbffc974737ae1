"""The chat's text: answers with their sources, the retrieved clips, the collection, as Markdown.

Kept apart from the Chainlit handlers so it can be read and tested without importing Chainlit
(which reads and writes its config where it is first imported). Transcripts and file names are
data: every piece of them is escaped before it reaches Markdown.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.web.chat_service import short_name
from indexing.fmt import fmt_time, shorten
from indexing.stores.location import shown

if TYPE_CHECKING:
    from assistant.answer import Answer, Citation
    from assistant.web.snapshot import IndexSnapshot
    from indexing.file_meta_index import CatalogueView
    from indexing.types import Hit

COLLECTION_COMMAND = "Collection"
_QUOTE_CHARS = 160
_TABLE_WORDS_CHARS = 80


def span_label(media_path: str, start: float, end: float) -> str:
    """``gwb_columbia… @ 00:09–00:17``."""
    return f"{short_name(Path(media_path).name)} @ {fmt_time(start)}–{fmt_time(end)}"


def clip_label(clip: Any) -> str:
    """A clip's file and whole span, as :func:`span_label`."""
    return span_label(clip.media_path, clip.start, clip.end)


def citation_label(citation: Citation) -> str:
    """A citation's file and the seconds it cites (its supporting words), as :func:`span_label`."""
    return span_label(citation.clip.media_path, citation.start, citation.end)


def titled(label: str, media_id: str, titles: Mapping[str, str] | None) -> str:
    """``label`` after the file's catalogue title, when the file has one."""
    title = (titles or {}).get(media_id)
    return f"{title} — {label}" if title else label


def answer_markdown(answer: Answer, titles: Mapping[str, str] | None = None) -> str:
    """The answer text, then its sources as ``[n] file @ start–end (language) — “words”``
    (the file's catalogue title first, from ``titles`` by media id, when it has one)."""
    if answer.refused:
        return (f"{answer.text} Try other words, or type **/{COLLECTION_COMMAND}** to see what "
                "the collection holds.")
    if not answer.citations:
        return answer.text
    lines = [answer.text, "", "**Sources**", ""]
    for c in answer.citations:
        quote = shorten(c.clip.text, _QUOTE_CHARS, ellipsis_within=False)
        language = f" ({_escape(c.clip.language)})" if c.clip.language else ""
        label = titled(citation_label(c), c.clip.media_id, titles)
        lines.append(f"- **[{c.n}]** {_escape(label)}{language} — "
                     f"“{_escape(quote)}”")
    return "\n".join(lines)


def hits_table(hits: tuple[Hit, ...], titles: Mapping[str, str] | None = None) -> str:
    """The retrieved clips as a Markdown table: what was found, how well, by which search
    (a clip's file shown under its catalogue title, from ``titles``, when it has one).

    A language column appears when the index knows the language of any of the clips.
    """
    if not hits:
        return "No clip matched."
    with_language = any(h.clip.language for h in hits)
    head = ["#", "clip", "kind", *(["language"] if with_language else []), "score", "found by",
            "words"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for i, h in enumerate(hits, 1):
        cells = [str(i), _cell(titled(clip_label(h.clip), h.clip.media_id, titles)),
                 h.clip.kind.value]
        if with_language:
            cells.append(_cell(h.clip.language or "-"))
        cells += [f"{h.score:.3f}", " + ".join(h.sources) or "-",
                  _cell(shorten(h.clip.text, _TABLE_WORDS_CHARS, ellipsis_within=False))]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def details(answer: Answer) -> str:
    """How the answer was made: the query searched for, and where the time went."""
    parts = []
    if answer.query != answer.question:
        parts.append(f"Searched for: *{_escape(answer.query)}*")
    if answer.refused:
        parts.append("No clip was a strong enough match: the assistant declined to answer.")
    elif answer.extractive:
        parts.append("Answered by quoting the best clip.")
    shown = {"retrieval_s": "retrieval", "first_token_s": "first token",
             "generation_s": "generation", "total_s": "total"}
    times = [f"{label} {answer.timings[key]:.1f} s" for key, label in shown.items()
             if key in answer.timings]
    if times:
        parts.append("Timings: " + ", ".join(times))
    return "\n\n".join(parts)


def collection_text(snapshot: IndexSnapshot,
                    records: Mapping[str, CatalogueView] | None = None) -> str:
    """The indexed files as a table, with totals, then each catalogued file's record
    (``records`` by media id: manifest and LLM fields, see :mod:`indexing.file_meta_index`)."""
    if not snapshot.media:
        return empty_index_text(snapshot)
    rows = ["| file | kind | duration | clips | language |", "|---|---|---|---|---|"]
    for m in snapshot.media:
        rows.append(f"| {_cell(m.name)} | {m.kind} | {fmt_time(m.duration)} | {m.clips} | "
                    f"{_cell(m.language or '-')} |")
    total = sum(m.duration for m in snapshot.media)
    text = (f"The collection holds **{len(snapshot.media)} files**, {fmt_time(total)} of media "
            f"in {snapshot.clips} clips:\n\n" + "\n".join(rows))
    return text + catalogue_text(snapshot, records or {})


_CATALOGUE_SHOWN = ("date", "description", "summary", "subjects", "people", "places", "dates",
                    "rights")


def catalogue_text(snapshot: IndexSnapshot, records: Mapping[str, CatalogueView]) -> str:
    """Each catalogued file's title and fields as a short Markdown list ('' when none)."""
    parts = []
    for m in snapshot.media:
        view = records.get(m.media_id)
        if view is None:
            continue
        lines = [f"**{_escape(view.title or m.name)}** ({_escape(m.name)})"]
        for key in _CATALOGUE_SHOWN:
            value = view.fields.get(key)
            if isinstance(value, list):
                value = ", ".join(str(v) for v in value)
            if value:
                source = view.sources.get(key, "")
                lines.append(f"- {key}: {_escape(shorten(str(value), 300, ellipsis_within=False))}"
                             + (f" *({source})*" if source == "llm" else ""))
        parts.append("\n".join(lines))
    if not parts:
        return ""
    return ("\n\n**Catalogue** (fields marked *(llm)* were written by the language model; the "
            "others come from the collection manifest):\n\n" + "\n\n".join(parts))


def empty_index_text(snapshot: IndexSnapshot) -> str:
    """What to do when there is nothing to search yet."""
    where = f"`{shown(snapshot.db_dir)}`"
    head = (f"**The index at {where} is empty.**" if snapshot.exists
            else f"**There is no DEERIn index at {where} yet.**")
    return (f"{head} Index a folder of footage first, in a terminal:\n\n"
            f"```\ndeerin index /path/to/footage --db {shown(snapshot.db_dir)}\n```\n\n"
            "Then start a new chat (or reload this page) and ask away. Indexing transcribes "
            "speech, reads subtitle files and finds the shots of every video, audio or film file "
            "in the folder.")


def _escape(text: str) -> str:
    # Transcripts are data: characters Markdown would act on are neutralised.
    for ch in "\\`*_[]<>#|":
        text = text.replace(ch, "\\" + ch)
    return text


def _cell(text: str) -> str:
    return _escape(text).replace("\n", " ")
