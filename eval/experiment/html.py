"""``report.html``: the experiment report's tables with bar charts drawn as inline SVG, so the
page opens offline, in any browser, from a USB stick (no script, no network)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from eval.experiment.tables import accuracy_interval, tables

_W, _ROW, _LABEL = 640, 26, 190
_COLOURS = ("#3b6ea5", "#d08c2e", "#5a9e5a", "#a04f7d")

Bar = tuple[str, float | None, tuple[float, float] | None]  # label, value, interval


def bar_chart(title: str, series: Sequence[tuple[str, Sequence[Bar]]], unit: str = "",
              maximum: float | None = None) -> str:
    """A horizontal bar chart: one group per label, one bar per series, whiskers for
    intervals; values that were not measured are left out."""
    labels = list(dict.fromkeys(label for _, bars in series for label, _, _ in bars))
    values = [v for _, bars in series for _, v, _ in bars if v is not None]
    values += [iv[1] for _, bars in series for _, _, iv in bars if iv is not None]
    top = maximum or (max(values) if values else 1.0) or 1.0
    per = len(series)
    height = 30 + len(labels) * (per * _ROW + 8) + 20 * per
    scale = (_W - _LABEL - 60) / top
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{height}" '
           f'role="img" aria-label="{escape(title)}">',
           f'<text x="0" y="16" font-weight="bold">{escape(title)}</text>']
    y = 30
    for label in labels:
        out.append(f'<text x="0" y="{y + per * _ROW / 2 + 4}">{escape(label[:28])}</text>')
        for s, (_, bars) in enumerate(series):
            found = next(((v, iv) for name, v, iv in bars if name == label), (None, None))
            value, interval = found
            if value is not None:
                w = max(1.0, value * scale)
                # the figure goes after the bar or its whisker, whichever ends later
                end = max(w, interval[1] * scale if interval is not None else 0.0)
                out.append(f'<rect x="{_LABEL}" y="{y}" width="{w:.1f}" height="{_ROW - 6}" '
                           f'fill="{_COLOURS[s % len(_COLOURS)]}"/>')
                out.append(f'<text x="{_LABEL + end + 4:.1f}" y="{y + 14}" font-size="12">'
                           f'{value:.2f}{escape(unit)}</text>')
            if interval is not None:
                lo, hi = (_LABEL + interval[0] * scale, _LABEL + interval[1] * scale)
                mid = y + (_ROW - 6) / 2
                out.append(f'<line x1="{lo:.1f}" x2="{hi:.1f}" y1="{mid}" y2="{mid}" '
                           'stroke="black" stroke-width="1.5"/>')
            y += _ROW
        y += 8
    for s, (name, _) in enumerate(series):
        out.append(f'<rect x="{_LABEL}" y="{y + s * 20}" width="12" height="12" '
                   f'fill="{_COLOURS[s % len(_COLOURS)]}"/>'
                   f'<text x="{_LABEL + 18}" y="{y + s * 20 + 11}" font-size="12">'
                   f'{escape(name)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def charts(data: dict[str, Any]) -> list[str]:
    """The report's charts as SVG strings."""
    exp = data["experiment"]
    done = [r for r in data["configurations"] if r["status"] == "done"]
    indexed = [r for r in data["configurations"] if r.get("index")]

    def acc(r: dict[str, Any]) -> Bar:
        iv = accuracy_interval(r, exp["bootstrap"], exp["seed"])
        return (r["name"], iv.value if iv else None, (iv.lo, iv.hi) if iv else None)

    return [
        bar_chart("Share of questions answered right (95 % interval)",
                  [("DEERIn", [acc(r) for r in done])], maximum=1.0),
        bar_chart("Recall@5: DEERIn and the dense baseline",
                  [("DEERIn", [(r["name"], r["retrieval"]["recall@5"], None) for r in done]),
                   ("baseline", [(r["name"], r["retrieval"]["baseline"]["recall@5"], None)
                                 for r in done])], maximum=1.0),
        bar_chart("Answer latency (seconds)",
                  [("p50", [(r["name"], r["latency"]["p50"], None) for r in done]),
                   ("p95", [(r["name"], r["latency"]["p95"], None) for r in done])], " s"),
        bar_chart("Indexing time (seconds; later indexes reuse the stage cache)",
                  [("indexing", [(r["name"], r["index"]["seconds"], None) for r in indexed])],
                  " s"),
        bar_chart("Peak memory (MB)",
                  [("index step", [(r["name"], r["index"]["peak_rss_mb"], None)
                                   for r in indexed]),
                   ("eval step", [(r["name"], (r.get("eval") or {}).get("peak_rss_mb"), None)
                                  for r in done])]),
    ]


def render_html(data: dict[str, Any]) -> str:
    """The whole page."""
    exp = data["experiment"]
    parts = ["<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>Experiment: {escape(exp['name'])}</title>",
             "<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
             "padding:4px 8px;text-align:left;font-size:14px}th{background:#f3f3f3}"
             "svg{display:block;margin:1.5em 0;font-family:sans-serif;font-size:13px}</style>",
             "</head><body>", f"<h1>Experiment: {escape(exp['name'])}</h1>",
             f"<p>{exp['n_questions']} questions from <code>{escape(exp['questions'])}</code>; "
             f"{exp['bootstrap']} bootstrap resamples over questions (seed {exp['seed']}); "
             "&asymp; noise marks a difference whose 95 % interval contains zero.</p>"]
    if exp["sheet_errors"]:
        parts += ["<p>Rows of the question sheet left out:</p><ul>",
                  *(f"<li>{escape(e)}</li>" for e in exp["sheet_errors"]), "</ul>"]
    parts += ["<h2>Summary</h2><ul>", *(f"<li>{escape(s)}</li>" for s in data["summary"]),
              "</ul>", "<h2>Charts</h2>", *charts(data)]
    for title, (header, rows) in tables(data).items():
        parts += [f"<h2>{escape(title)}</h2>", "<table><tr>",
                  *(f"<th>{escape(h)}</th>" for h in header), "</tr>"]
        parts += ["<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>"
                  for row in rows]
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)
