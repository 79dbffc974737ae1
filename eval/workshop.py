"""The workshop report: what a collection's participants asked in ``deerin serve``, how the
answers fared, which configuration they preferred in ``/compare``, and the moments cited most.

Built from what :mod:`assistant.web.history` keeps; written as Markdown and as one offline HTML
page (no script, no external asset). Links play the moment on the deployment's media route
(``BASE/c/COLLECTION/media/ID/NAME#t=START,END``), so they open for those allowed to see the
collection.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from assistant.web.history import Judged, Moment

TOP_MOMENTS = 10


@dataclass(frozen=True)
class Pairing:
    """One pair of configurations compared, and how often each side was preferred."""

    sides: str
    a: int = 0
    b: int = 0
    same: int = 0
    unjudged: int = 0


@dataclass(frozen=True)
class WorkshopReport:
    """The figures of a collection's workshop."""

    collection: str
    base_url: str
    questions: int
    participants: int
    answered: int
    refused: int
    judged: Mapping[str, int]
    pairings: tuple[Pairing, ...]
    moments: tuple[tuple[Moment, int], ...]
    rows: tuple[Judged, ...] = field(default=())
    period: tuple[str, str] = ("", "")
    lists: tuple[Judged, ...] = field(default=())  # questions answered with an evidence list

    def share(self, n: int, of: int | None = None) -> str:
        """``n`` as a percentage of ``of`` (the questions asked by default)."""
        total = self.questions if of is None else of
        return f"{100 * n / total:.0f} %" if total else "–"

    def link(self, moment: Moment) -> str:
        """The URL that plays ``moment`` on the deployment."""
        return (f"{self.base_url}/c/{quote(self.collection)}/media/{moment.media_id}/"
                f"{quote(moment.file)}#t={moment.start:g},{moment.end:g}")


def build_report(judged: Sequence[Judged], preferences: Mapping[str, str], collection: str,
                 base_url: str) -> WorkshopReport:
    """The report of ``collection`` from its kept answers and comparison preferences."""
    chats = [j for j in judged if j.answer.kind == "chat"]
    compares = [j for j in judged if j.answer.kind == "compare"]
    verdicts = Counter(j.verdict for j in chats if j.verdict)
    cited: Counter[tuple[str, str, float, float]] = Counter()
    for j in chats:
        for m in j.answer.citations:
            cited[(m.media_id, m.file, round(m.start, 1), round(m.end, 1))] += 1
    moments = tuple((Moment(file, start, end, media_id), n)
                    for (media_id, file, start, end), n in cited.most_common(TOP_MOMENTS))
    pairs: dict[str, Counter[str]] = {}
    for j in compares:
        tally = pairs.setdefault(j.answer.llm or "(unknown sides)", Counter())
        tally[preferences.get(j.answer.id, "unjudged")] += 1
    pairings = tuple(Pairing(sides, t["A"], t["B"], t["same"], t["unjudged"])
                     for sides, t in pairs.items())
    times = sorted(j.answer.created_at for j in judged if j.answer.created_at)
    return WorkshopReport(
        collection=collection, base_url=base_url.rstrip("/"), questions=len(chats),
        participants=len({j.answer.user for j in judged if j.answer.user}),
        answered=sum(1 for j in chats if not j.answer.refused),
        refused=sum(1 for j in chats if j.answer.refused), judged=dict(verdicts),
        pairings=pairings, moments=moments, rows=tuple(chats),
        period=(times[0], times[-1]) if times else ("", ""),
        lists=tuple(j for j in judged if j.answer.kind == "list"))


def markdown(report: WorkshopReport) -> str:
    """The report as Markdown."""
    r = report
    judged = sum(r.judged.values())
    lines = [f"# Workshop report: {r.collection}", ""]
    if r.period[0]:
        lines += [f"From {r.period[0]} to {r.period[1]}; {r.participants} participant(s).", ""]
    lines += ["## Questions", "",
              "| | count | share |", "|---|---:|---:|",
              f"| asked | {r.questions} | |",
              f"| answered | {r.answered} | {r.share(r.answered)} |",
              f"| refused | {r.refused} | {r.share(r.refused)} |",
              f"| judged | {judged} | {r.share(judged)} |"]
    for verdict in ("right", "partly", "wrong"):
        n = r.judged.get(verdict, 0)
        lines.append(f"| judged {verdict} | {n} | {r.share(n, judged)} of judged |")
    lines += ["", "## Configurations compared", ""]
    if r.pairings:
        lines += ["| configurations | A preferred | B preferred | equally good | no preference |",
                  "|---|---:|---:|---:|---:|"]
        lines += [f"| {_cell(p.sides)} | {p.a} | {p.b} | {p.same} | {p.unjudged} |"
                  for p in r.pairings]
    else:
        lines.append("No `/compare` was run.")
    lines += ["", "## Moments cited most", ""]
    if r.moments:
        lines += ["| moment | citations |", "|---|---:|"]
        lines += [f"| [{_cell(m.file)} {_clock(m.start)}–{_clock(m.end)}]({r.link(m)}) | {n} |"
                  for m, n in r.moments]
    else:
        lines.append("No answer cited a moment.")
    lines += ["", "## Every question", "",
              "| question | answer | verdict | comment |", "|---|---|---|---|"]
    for j in r.rows:
        answer = "refused" if j.answer.refused else f"{len(j.answer.citations)} citation(s)"
        lines.append(f"| {_cell(j.answer.question)} | {answer} | {j.verdict or '–'} | "
                     f"{_cell(j.comment)} |")
    if r.lists:
        lines += ["", "## Evidence lists", "",
                  "Questions asking for every moment something is named, answered with the "
                  "knowledge graph's list.", "",
                  "| question | list | verdict | comment |", "|---|---|---|---|"]
        lines += [f"| {_cell(j.answer.question)} | {_cell(j.answer.answer)} | "
                  f"{j.verdict or '–'} | {_cell(j.comment)} |" for j in r.lists]
    lines += ["", f"Links play on {r.base_url} for those allowed to see {r.collection}.", ""]
    return "\n".join(lines)


def html_page(report: WorkshopReport) -> str:
    """The report as one offline HTML page."""
    r = report
    judged = sum(r.judged.values())
    esc = html.escape

    def table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
        out = "<table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in head) + "</tr>"
        out += "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
        return out + "</table>"

    parts = [f"<h1>Workshop report: {esc(r.collection)}</h1>"]
    if r.period[0]:
        parts.append(f"<p>From {esc(r.period[0])} to {esc(r.period[1])}; {r.participants} "
                     "participant(s).</p>")
    counts = [("asked", r.questions, ""), ("answered", r.answered, r.share(r.answered)),
              ("refused", r.refused, r.share(r.refused)), ("judged", judged, r.share(judged))]
    counts += [(f"judged {v}", r.judged.get(v, 0), r.share(r.judged.get(v, 0), judged)
                + " of judged") for v in ("right", "partly", "wrong")]
    parts += ["<h2>Questions</h2>", table(["", "count", "share"],
                                          [(esc(a), str(b), esc(c)) for a, b, c in counts])]
    parts.append("<h2>Configurations compared</h2>")
    parts.append(table(["configurations", "A preferred", "B preferred", "equally good",
                        "no preference"],
                       [(esc(p.sides), str(p.a), str(p.b), str(p.same), str(p.unjudged))
                        for p in r.pairings]) if r.pairings else "<p>No /compare was run.</p>")
    parts.append("<h2>Moments cited most</h2>")
    parts.append(table(["moment", "citations"], [
        (f'<a href="{esc(r.link(m))}">{esc(m.file)} {_clock(m.start)}–{_clock(m.end)}</a>',
         str(n)) for m, n in r.moments]) if r.moments else "<p>No answer cited a moment.</p>")
    parts += ["<h2>Every question</h2>", table(["question", "answer", "verdict", "comment"], [
        (esc(j.answer.question), "refused" if j.answer.refused
         else f"{len(j.answer.citations)} citation(s)", esc(j.verdict or "–"), esc(j.comment))
        for j in r.rows])]
    if r.lists:
        parts += ["<h2>Evidence lists</h2>", table(["question", "list", "verdict", "comment"], [
            (esc(j.answer.question), esc(j.answer.answer), esc(j.verdict or "–"),
             esc(j.comment)) for j in r.lists])]
    parts.append(f"<p>Links play on {esc(r.base_url)} for those allowed to see "
                 f"{esc(r.collection)}.</p>")
    style = ("body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
             "padding:.3em .6em;text-align:left}th{background:#f3f3f3}")
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Workshop '
            f"report: {esc(r.collection)}</title><style>{style}</style></head><body>"
            + "\n".join(parts) + "</body></html>\n")


def write_report(report: WorkshopReport, out: Path) -> tuple[Path, Path]:
    """Write ``report.md`` and ``report.html`` into the folder ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    md, page = out / "report.md", out / "report.html"
    md.write_text(markdown(report), encoding="utf-8")
    page.write_text(html_page(report), encoding="utf-8")
    return md, page


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _clock(seconds: float) -> str:
    minutes, rest = divmod(max(0.0, seconds), 60)
    return f"{int(minutes)}:{rest:04.1f}"
