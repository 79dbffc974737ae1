"""The map as one standalone HTML page: plotly.js inline (no CDN), data inline, works offline.

The figure (plotly's own ``write_html`` with ``include_plotlyjs=True``) holds only coordinates
and point numbers; the words, times, file list and thumbnails travel beside it as one JSON block
read by a small script that draws the tooltip (keyframe + words: plotly's own hover labels
cannot show images), plays a point when it is clicked, and highlights the points whose words
contain what is typed in the search box. Up to :data:`SVG_MAX` points are drawn as SVG, more
with WebGL (``scattergl``), which keeps 100k points responsive.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from exploration.points import Point
from indexing.fmt import fmt_time

SVG_MAX = 5_000
_PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
            "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39",
            "#7b4173", "#3182bd", "#e6550d", "#31a354", "#756bb1", "#636363"]


@dataclass(frozen=True, slots=True)
class Links:
    """Where the page finds media and thumbnails: ``media(point)`` is the URL a player loads
    (without the ``#t=`` fragment, which the page adds), ``thumbnail(point)`` an image URL or
    data URI, or ``None``."""

    media: Callable[[Point], str]
    thumbnail: Callable[[Point], str | None]


def page(points: Sequence[Point], layout: np.ndarray, assigned: np.ndarray,
         names: dict[int, str], links: Links, *, title: str = "DEERIn map") -> str:
    """The whole HTML page of a map."""
    import plotly.graph_objects as go

    n = len(points)
    gl = n > SVG_MAX
    trace = go.Scattergl if gl else go.Scatter
    fig = go.Figure()
    for c in sorted(names):
        idx = np.flatnonzero(assigned == c).astype(np.int32)
        fig.add_trace(trace(
            x=layout[idx, 0], y=layout[idx, 1], customdata=idx, mode="markers",
            name=names[c], hoverinfo="none",
            marker={"size": 4 if gl else 9, "opacity": 0.75,
                    "color": _PALETTE[c % len(_PALETTE)]},
            unselected={"marker": {"opacity": 0.08}},
        ))
    for c in sorted(names):
        members = np.flatnonzero(assigned == c)
        if len(members):
            x, y = np.median(layout[members], axis=0)
            fig.add_annotation(x=float(x), y=float(y), text=html.escape(names[c]),
                               showarrow=False, font={"size": 13, "color": "#111"},
                               bgcolor="rgba(255,255,255,0.7)")
    fig.update_layout(template="plotly_white", margin={"l": 10, "r": 10, "t": 10, "b": 10},
                      dragmode="pan", hovermode="closest", legend={"itemsizing": "constant"},
                      xaxis={"visible": False}, yaxis={"visible": False, "scaleanchor": "x"})
    figure = fig.to_html(include_plotlyjs=True, full_html=False, div_id="deerin-map",
                         config={"scrollZoom": True, "displaylogo": False, "responsive": True},
                         post_script="window.deerinAttach(document.getElementById('{plot_id}'));",
                         default_height="100%", default_width="100%")
    return _document(title, figure, _data(points, links), n)


def _data(points: Sequence[Point], links: Links) -> str:
    short = 220 if len(points) <= 10_000 else 100
    media: dict[str, int] = {}
    files: list[dict[str, object]] = []
    thumbs: dict[str, int] = {}
    rows: dict[str, list[object]] = {"t": [], "m": [], "s": [], "e": [], "k": []}
    for p in points:
        if p.media_path not in media:
            media[p.media_path] = len(files)
            files.append({"n": Path(p.media_path).name, "u": links.media(p), "v": p.has_video})
        thumb = links.thumbnail(p) if p.keyframe else None
        if thumb is not None and thumb not in thumbs:
            thumbs[thumb] = len(thumbs)
        text = " ".join(p.text.split())
        rows["t"].append(text if len(text) <= short else text[:short - 1] + "…")
        rows["m"].append(media[p.media_path])
        rows["s"].append(round(p.start, 2))
        rows["e"].append(round(p.end, 2))
        rows["k"].append(thumbs[thumb] if thumb is not None else -1)
    data = {"files": files, "thumbs": list(thumbs), **rows}
    # "</" never appears inside the script element, whatever the words say.
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")


def _document(title: str, figure: str, data: str, n: int) -> str:
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>{_CSS}</style>
<script id="deerin-data" type="application/json">{data}</script>
<script>{_SCRIPT}</script>
</head><body>
<header><strong>{html.escape(title)}</strong> <span id="count">{n} points</span>
<input id="find" type="search" placeholder="Highlight words…" aria-label="Highlight words">
<span class="hint">hover to read · click to play · scroll to zoom · legend toggles clusters</span>
</header>
<div id="tip" role="tooltip" hidden><img alt="">
<div class="where"></div><div class="said"></div></div>
<aside id="player" hidden><button id="close" aria-label="Close">×</button>
<div class="where"></div><div class="slot"></div><div class="said"></div></aside>
<main>{figure}</main>
</body></html>
"""


def when(start: float, end: float) -> str:
    """``m:ss–m:ss`` as the page shows a span (same as the chat's citations)."""
    return f"{fmt_time(start)}–{fmt_time(end)}"


_CSS = """
html,body{height:100%;margin:0;font:14px system-ui,sans-serif;color:#222}
body{display:flex;flex-direction:column}
header{display:flex;gap:12px;align-items:center;padding:6px 12px;border-bottom:1px solid #ddd}
header .hint{color:#777;font-size:12px;margin-left:auto}
#find{padding:3px 6px;min-width:220px}
main{flex:1;min-height:0}
#deerin-map{height:100%;width:100%}
#tip{position:fixed;z-index:10;max-width:340px;background:#fff;border:1px solid #bbb;
  border-radius:6px;padding:8px;box-shadow:0 2px 10px rgba(0,0,0,.2);pointer-events:none}
#tip img{max-width:320px;max-height:180px;display:block;margin-bottom:6px}
#tip img[hidden]{display:none}
.where{font-weight:600;margin-bottom:4px}
#player{position:fixed;right:12px;bottom:12px;z-index:20;width:480px;background:#fff;
  border:1px solid #bbb;border-radius:8px;padding:10px;box-shadow:0 4px 16px rgba(0,0,0,.25)}
#player video,#player audio{width:100%}
#close{float:right;border:none;background:none;font-size:20px;cursor:pointer}
"""

_SCRIPT = r"""
(function () {
  const fmt = (s) => { s = Math.round(s); const h = Math.floor(s / 3600),
    m = Math.floor((s % 3600) / 60), x = String(s % 60).padStart(2, '0');
    return h ? `${h}:${String(m).padStart(2, '0')}:${x}` : `${String(m).padStart(2, '0')}:${x}`; };
  let D = null;
  const data = () => D || (D = JSON.parse(document.getElementById('deerin-data').textContent));
  const where = (i) => { const d = data(), f = d.files[d.m[i]];
    return `${f.n} @ ${fmt(d.s[i])}–${fmt(d.e[i])}`; };
  window.deerinPoint = (i) => { const d = data(), f = d.files[d.m[i]];
    return {text: d.t[i], file: f.n, url: f.u, video: f.v, start: d.s[i], end: d.e[i],
            thumb: d.k[i] >= 0 ? d.thumbs[d.k[i]] : null}; };
  window.deerinPlay = (i) => {
    const p = window.deerinPoint(i), box = document.getElementById('player');
    const el = document.createElement(p.video ? 'video' : 'audio');
    el.controls = true; el.preload = 'metadata';
    el.src = `${p.url}#t=${p.start}`;
    el.addEventListener('loadedmetadata', () => {
      if (Math.abs(el.currentTime - p.start) > 0.5) el.currentTime = p.start; });
    if (p.thumb && p.video) el.poster = p.thumb;
    box.querySelector('.slot').replaceChildren(el);
    box.querySelector('.where').textContent = where(i);
    box.querySelector('.said').textContent = p.text;
    box.dataset.point = String(i);
    box.hidden = false;
    el.play().catch(() => {});
  };
  window.deerinAttach = (gd) => {
    const tip = document.getElementById('tip'), img = tip.querySelector('img');
    gd.on('plotly_hover', (ev) => {
      const pt = ev.points && ev.points[0]; if (!pt) return;
      const i = pt.customdata, p = window.deerinPoint(i);
      tip.querySelector('.where').textContent = where(i);
      tip.querySelector('.said').textContent = p.text;
      if (p.thumb) { img.src = p.thumb; img.hidden = false; } else { img.hidden = true; }
      const e = ev.event || {clientX: 20, clientY: 20};
      tip.style.left = Math.min(e.clientX + 14, window.innerWidth - 360) + 'px';
      tip.style.top = Math.min(e.clientY + 14, window.innerHeight - 240) + 'px';
      tip.dataset.point = String(i); tip.hidden = false;
    });
    gd.on('plotly_unhover', () => { tip.hidden = true; });
    gd.on('plotly_click', (ev) => { const pt = ev.points && ev.points[0];
      if (pt) window.deerinPlay(pt.customdata); });
    document.getElementById('close').onclick = () => {
      const box = document.getElementById('player');
      box.querySelector('.slot').replaceChildren(); box.hidden = true; };
    const find = document.getElementById('find');
    find.addEventListener('input', () => {
      const q = find.value.trim().toLowerCase(), d = data();
      const sel = gd.data.map((tr) => q ? Array.from(tr.customdata || [], (i, j) => [i, j])
        .filter(([i]) => d.t[i].toLowerCase().includes(q)).map(([, j]) => j) : null);
      Plotly.restyle(gd, {selectedpoints: sel});
      document.getElementById('count').textContent = q
        ? `${sel.reduce((a, s) => a + s.length, 0)} of ${d.t.length} points`
        : `${d.t.length} points`;
    });
    gd.dataset.ready = '1';
  };
})();
"""
