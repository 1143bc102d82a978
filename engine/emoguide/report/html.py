"""The report an editor would rather look at than read: one self-contained HTML file.

No JavaScript, no network, no plotting library: the arc is inline SVG (it
scales crisply and opens anywhere, including inside an NLE's web panel), and
thumbnails are embedded JPEGs. Sections: the valence/arousal arc over timeline
time with a ribbon of the dominant emotion per window, the guidance (when
given), and a per-clip table.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path


from emoguide.labels import LABELS
from emoguide.pipeline.results import TimelineAnalysis
from emoguide.report.svg import arc_svg
from emoguide.timeline.colours import colour_for

#: screen colours for OTIO colour names (the same table the markers use)
HEX = {"WHITE": "#c9c9c9", "YELLOW": "#f2c12e", "BLUE": "#3d7dd8", "RED": "#d8453d", "PURPLE": "#8e5bd1",
       "GREEN": "#4caf6a", "ORANGE": "#f08a24", "CYAN": "#2cb5c8", "PINK": "#e57ab0", "MAGENTA": "#c2399c",
       "BLACK": "#333333"}

CSS = """
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:0;background:#16181c;color:#e8e8e8}
main{max-width:1180px;margin:0 auto;padding:28px}
h1{font-size:24px;margin:0 0 4px} h2{font-size:18px;margin:32px 0 10px;border-bottom:1px solid #333;padding-bottom:6px}
.sub{color:#9aa0a6} .warn{background:#5a2d1a;border-left:4px solid #f08a24;padding:8px 12px;margin:12px 0}
.card{background:#1f2227;border-radius:8px;padding:14px;margin:12px 0}
table{border-collapse:collapse;width:100%} td,th{padding:6px 8px;border-bottom:1px solid #2c3036;text-align:left;vertical-align:middle}
th{color:#9aa0a6;font-weight:500;font-size:13px} img.thumb{width:120px;border-radius:4px;display:block}
.chip{display:inline-block;padding:1px 8px;border-radius:10px;color:#111;font-weight:600;font-size:13px}
.bar{height:6px;background:#2c3036;border-radius:3px;width:120px} .bar>span{display:block;height:6px;border-radius:3px}
.legend span{margin-right:14px;font-size:13px} .legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px}
.sugg{border-left:4px solid #2cb5c8;padding:6px 12px;margin:8px 0;background:#1f2227}
.sugg b{color:#fff} .muted{color:#9aa0a6;font-size:13px}
"""


def label_hex(label: str) -> str:
    return HEX[colour_for(label).otio]


def render_report(analysis: TimelineAnalysis, guidance=None) -> str:
    """The complete HTML page as a string."""
    esc = html.escape
    analysed = [c for c in analysis.clips if c.windows is not None and len(c.windows)]
    parts = [f"<!doctype html><html lang=en><meta charset=utf-8><title>emoguide · {esc(analysis.timeline_name)}</title>",
             f"<style>{CSS}</style><main>",
             f"<h1>{esc(analysis.timeline_name)}</h1>",
             f"<div class=sub>{_tc(analysis.duration_s, analysis.rate)} · {len(analysis.clips)} clips · "
             f"{len(analysed)} analysed · models {esc(', '.join(f'{k} {v}' for k, v in analysis.models.items()))}</div>"]
    problems = [c for c in analysis.clips if c.status in ("offline", "error")]
    if problems:
        items = "".join(f"<li>{esc(c.job.clip_name)} ({esc(c.job.clip_id)}): {esc(c.message)}</li>" for c in problems)
        parts.append(f"<div class=warn><b>Partial analysis.</b> These clips could not be analysed:<ul>{items}</ul></div>")
    parts.append("<h2>Emotional arc</h2><div class=card>")
    parts.append(arc_svg(analysis, label_hex, target=getattr(guidance, "target_curve", None)))
    parts.append("<div class=legend>" + "".join(f"<span><i style='background:{label_hex(l)}'></i>{l}</span>"
                                                for l in LABELS) + "</div></div>")
    if guidance is not None:
        parts.append(_guidance_section(guidance))
    parts.append("<h2>Clips</h2><div class=card><table><tr><th></th><th>clip</th><th>in → out</th><th>reads as</th>"
                 "<th>valence · arousal · dominance</th><th>from</th><th>notes</th></tr>")
    for clip in analysis.clips:
        parts.append(_clip_row(clip, analysis))
    parts.append("</table></div><p class=muted>Valence/arousal/dominance from "
                 f"{esc(_vad_sources(analysis))}. Files beside this page: windows.csv (every window), "
                 "analysis.json (everything).</p></main></html>")
    return "".join(parts)


def _clip_row(clip, analysis) -> str:
    esc = html.escape
    job = clip.job
    thumb = (f"<img class=thumb src='data:image/jpeg;base64,{base64.b64encode(clip.thumbnail_jpeg).decode()}'>"
             if clip.thumbnail_jpeg else "")
    span = f"{_tc(job.timeline_start_s, analysis.rate)} → {_tc(job.timeline_end_s, analysis.rate)}"
    if clip.windows is None or not len(clip.windows):
        status = {"offline": "media offline", "error": "failed", "skipped": "skipped"}.get(clip.status, clip.status)
        return (f"<tr><td>{thumb}</td><td><b>{esc(job.clip_name)}</b><div class=muted>{esc(job.track_name)}</div></td>"
                f"<td>{span}</td><td colspan=3 class=muted>{esc(status)}</td><td class=muted>{esc(clip.message)}</td></tr>")
    s = clip.summary()
    label, p = s["label"], s["probability"]
    v, a, d = s["vad"]
    notes = []
    if clip.events:
        notes.append(f"{len(clip.events)} brief expression{'s' if len(clip.events) > 1 else ''}")
    if s["disagreement"] >= 0.45:
        notes.append("face/voice/words disagree")
    if clip.words:
        text = " ".join(w["text"] for w in clip.words)[:140]
        notes.append(f"“{esc(text)}”")
    if clip.from_cache:
        notes.append("cached")
    return (f"<tr><td>{thumb}</td><td><b>{esc(job.clip_name)}</b><div class=muted>{esc(job.track_name)}</div></td>"
            f"<td>{span}</td><td><span class=chip style='background:{label_hex(label)}'>{label}</span> {p:.0%}"
            f"<div class=bar><span style='width:{100 * s['confidence']:.0f}%;background:{label_hex(label)}'></span></div>"
            f"<div class=muted>confidence {s['confidence']:.0%}</div></td>"
            f"<td>{v:+.2f} · {a:+.2f} · {d:+.2f}</td><td>{esc(', '.join(s['modalities']) or '—')}</td>"
            f"<td class=muted>{'<br>'.join(notes)}</td></tr>")


def _guidance_section(guidance) -> str:
    esc = html.escape
    items = list(getattr(guidance, "suggestions", []))
    out = [f"<h2>Guidance ({len(items)} suggestions, most impact first)</h2>"]
    for s in items:
        out.append(f"<div class=sugg><b>{esc(s.title)}</b> <span class=muted>{esc(s.where)} · {esc(s.rule)} · "
                   f"confidence {s.confidence:.0%}</span><div>{esc(s.reason)}</div></div>")
    return "".join(out)


def _vad_sources(analysis) -> str:
    sources = sorted({c.windows.vad_source for c in analysis.clips if c.windows is not None})
    names = {"norms": "category norms (Russell & Mehrabian 1977)",
             "learned": "learned heads (voice valence/arousal, text valence; weights/vad.md)",
             "mixed": "learned heads where a modality has one, category norms for the rest"}
    return ", ".join(names.get(s, s) for s in sources) or "—"


def _tc(seconds: float, rate: float) -> str:
    frames = int(round(seconds * rate))
    fps = max(1, int(round(rate)))
    h, rem = divmod(frames, 3600 * fps)
    m, rem = divmod(rem, 60 * fps)
    s, f = divmod(rem, fps)
    return f"{h:02d}:{m:02d}:{s:02d}:{f:02d}"


def write_report(analysis: TimelineAnalysis, folder: str | Path, guidance=None) -> Path:
    """Write index.html, windows.csv and analysis.json into ``folder`` (atomically); return the HTML path."""
    from emoguide.report.tables import analysis_json, windows_csv
    from emoguide.timeline.io import atomic_write_text

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / "windows.csv", windows_csv(analysis))
    atomic_write_text(folder / "analysis.json", analysis_json(analysis, guidance))
    page = folder / "index.html"
    atomic_write_text(page, render_report(analysis, guidance))
    return page

