"""The emotional-arc plot as inline SVG: valence and arousal over timeline time.

Drawn by hand (a few dozen lines) instead of pulling in a plotting library:
the report must open offline anywhere, and SVG stays sharp when zoomed.
Layout: a -1..1 plot with valence (solid) and arousal (dashed) per window at
the window centre, optional target curves, clip boundaries, then a ribbon of
the dominant emotion per window under the plot.
"""

from __future__ import annotations

import html
from typing import Callable

import numpy as np

from emoguide.labels import LABELS

W, H, PAD_L, PAD_R, PAD_T, PLOT_H, RIBBON_H = 1100, 300, 44, 12, 14, 210, 22


def arc_svg(analysis, colour: Callable[[str], str], target=None) -> str:
    """SVG markup; ``target`` is an optional ``(times_s, valence, arousal)`` tuple of arrays."""
    duration = max(analysis.duration_s, max((c.job.timeline_end_s for c in analysis.clips), default=0.0), 1e-3)
    x = lambda t: PAD_L + (W - PAD_L - PAD_R) * float(t) / duration  # noqa: E731
    y = lambda v: PAD_T + PLOT_H * (1 - (float(v) + 1) / 2)  # noqa: E731
    out = [f"<svg viewBox='0 0 {W} {H}' width='100%' role=img aria-label='valence and arousal over the timeline' "
           "style='background:#1f2227;font:11px system-ui'>"]
    for v in (-1, -0.5, 0, 0.5, 1):
        out.append(f"<line x1={PAD_L} x2={W - PAD_R} y1={y(v):.1f} y2={y(v):.1f} stroke='#2c3036'/>"
                   f"<text x={PAD_L - 6} y={y(v) + 4:.1f} fill='#9aa0a6' text-anchor=end>{v:+g}</text>")
    ribbon_y = PAD_T + PLOT_H + 10
    for clip in analysis.clips:
        x0 = x(clip.job.timeline_start_s)
        out.append(f"<line x1={x0:.1f} x2={x0:.1f} y1={PAD_T} y2={ribbon_y + RIBBON_H} stroke='#3a3f46' "
                   "stroke-dasharray='2 3'/>")
        if clip.status in ("offline", "error"):
            out.append(f"<rect x={x0:.1f} y={ribbon_y} width={max(1.0, x(clip.job.timeline_end_s) - x0):.1f} "
                       f"height={RIBBON_H} fill='url(#hatch)' stroke='#f08a24'><title>"
                       f"{html.escape(clip.job.clip_name)}: {html.escape(clip.message)}</title></rect>")
    out.append("<defs><pattern id=hatch width=6 height=6 patternUnits=userSpaceOnUse patternTransform='rotate(45)'>"
               "<line x1=0 y1=0 x2=0 y2=6 stroke='#f08a24' stroke-width='2'/></pattern></defs>")
    if target is not None:
        times, val, aro = (np.asarray(a, dtype=float) for a in target)
        for series, dash in ((val, "none"), (aro, "6 4")):
            pts = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in zip(times, series))
            out.append(f"<polyline points='{pts}' fill=none stroke='#ffffff' stroke-opacity=.35 stroke-width=6 "
                       f"stroke-dasharray='{dash}'/>")
    for clip in analysis.clips:
        w = clip.windows
        if w is None or not len(w):
            continue
        centres = 0.5 * (w.timeline_start_s + w.timeline_end_s)
        for axis, stroke, dash in ((0, "#f2c12e", "none"), (1, "#e5534b", "5 3")):
            pts = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in zip(centres, w.vad[:, axis]))
            out.append(f"<polyline points='{pts}' fill=none stroke='{stroke}' stroke-width=2.2 stroke-dasharray='{dash}'/>")
        for i in range(len(w)):
            label = LABELS[int(w.probs[i].argmax())]
            x0 = x(w.timeline_start_s[i] if i == 0 else 0.5 * (w.timeline_start_s[i] + w.timeline_end_s[i - 1]))
            x1 = x(w.timeline_end_s[i] if i == len(w) - 1 else 0.5 * (w.timeline_start_s[i + 1] + w.timeline_end_s[i]))
            alpha = 0.35 + 0.65 * float(w.confidence[i])
            out.append(f"<rect x={x0:.1f} y={ribbon_y} width={max(0.5, x1 - x0):.1f} height={RIBBON_H} "
                       f"fill='{colour(label)}' fill-opacity={alpha:.2f}><title>{html.escape(clip.job.clip_name)} "
                       f"{w.timeline_start_s[i]:.1f}s: {label} {w.probs[i].max():.0%}</title></rect>")
    legend_y = H - 10
    out.append(f"<line x1={PAD_L} x2={PAD_L + 24} y1={legend_y - 4} y2={legend_y - 4} stroke='#f2c12e' stroke-width='2.2'/>"
               f"<text x={PAD_L + 30} y={legend_y} fill='#c9c9c9'>valence</text>"
               f"<line x1={PAD_L + 90} x2={PAD_L + 114} y1={legend_y - 4} y2={legend_y - 4} stroke='#e5534b' "
               f"stroke-width=2.2 stroke-dasharray='5 3'/><text x={PAD_L + 120} y={legend_y} fill='#c9c9c9'>arousal</text>")
    if target is not None:
        out.append(f"<text x={PAD_L + 190} y={legend_y} fill='#9aa0a6'>wide pale lines: target arc</text>")
    out.append("</svg>")
    return "".join(out)
