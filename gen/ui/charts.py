"""Small charts as SVG text for a gr.HTML: loss curves, class histograms, schedules.

Why not gr.LinePlot: Gradio's page copies every plotted row of every plot on each event anywhere in the app, so a
plot of 1,200 rows made each GAN click twice as slow; an SVG is one string. Text uses the page's colour
(currentColor), so the charts read in the light and the dark theme and scale with their box on a projector.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from html import escape

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
W, H, LEFT, RIGHT, TOP, BOTTOM = 640, 300, 56, 16, 52, 44  # the drawing box and its margins, in SVG units


def ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About n round numbers (1, 2 or 5 times a power of ten apart) covering [lo, hi]."""
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    step = min((m * 10 ** math.floor(math.log10(raw)) for m in (1, 2, 5, 10)), key=lambda s: abs(s - raw))
    first = math.ceil(lo / step - 1e-9) * step
    return [round(first + i * step, 10) for i in range(int((hi - first) / step + 1e-9) + 1)]


def _y(y_lo: float, y_hi: float) -> Callable[[float], float]:
    """SVG y of a value: y_lo at the bottom of the drawing box, y_hi at its top, values outside clamped to it."""
    return lambda v: TOP + (H - TOP - BOTTOM) * (1 - (min(max(v, y_lo), y_hi) - y_lo) / (y_hi - y_lo))


def _fmt(v: float) -> str:
    return f"{v:g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.0e}"


def _frame(title: str, x_label: str, y_label: str, y_lo: float, y_hi: float, legend: dict[str, str]) -> list[str]:
    """The opening tag, title, legend, y grid and axis labels; the caller adds the marks and the x axis."""
    y = _y(y_lo, y_hi)
    out = [f'<svg viewBox="0 0 {W} {H}" role="img" aria-label="{escape(title)}" style="width:100%;height:auto;'
           'font-family:sans-serif;font-size:15px" xmlns="http://www.w3.org/2000/svg">',
           f'<text x="{LEFT}" y="20" fill="currentColor" font-weight="bold">{escape(title)}</text>']
    x = LEFT
    for name, color in legend.items():
        out.append(f'<rect x="{x}" y="31" width="14" height="4" fill="{color}"/>'
                   f'<text x="{x + 18}" y="38" fill="currentColor">{escape(name)}</text>')
        x += 30 + 8 * len(name)
    for v in ticks(y_lo, y_hi):
        out.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="currentColor" '
                   f'stroke-opacity="0.15"/><text x="{LEFT - 6}" y="{y(v) + 5:.1f}" text-anchor="end" '
                   f'fill="currentColor">{_fmt(v)}</text>')
    out.append(f'<text x="{(LEFT + W - RIGHT) / 2}" y="{H - 6}" text-anchor="middle" fill="currentColor">'
               f'{escape(x_label)}</text>')
    if y_label:
        out.append(f'<text transform="translate(14 {(TOP + H - BOTTOM) / 2}) rotate(-90)" text-anchor="middle" '
                   f'fill="currentColor">{escape(y_label)}</text>')
    return out


def lines(series: dict[str, list[tuple[float, float]]], title: str, x_label: str, y_label: str = "",
          colors: dict[str, str] | None = None, y_lim: tuple[float, float] | None = None) -> str:
    """Line chart of named series of (x, y) points."""
    pts = [p for s in series.values() for p in s]
    if not pts:
        return empty(title)
    x_lo, x_hi = min(p[0] for p in pts), max(p[0] for p in pts)
    x_hi = x_hi if x_hi > x_lo else x_lo + 1
    y_lo, y_hi = y_lim or (min(0.0, min(p[1] for p in pts)), max(p[1] for p in pts))
    y_hi = y_hi if y_hi > y_lo else y_lo + 1
    colors = {name: (colors or {}).get(name, PALETTE[i % len(PALETTE)]) for i, name in enumerate(series)}
    x = lambda v: LEFT + (W - LEFT - RIGHT) * (v - x_lo) / (x_hi - x_lo)  # noqa: E731
    y = _y(y_lo, y_hi)
    out = _frame(title, x_label, y_label, y_lo, y_hi, colors)
    for v in ticks(x_lo, x_hi):
        out.append(f'<text x="{x(v):.1f}" y="{H - BOTTOM + 18}" text-anchor="middle" fill="currentColor">'
                   f'{_fmt(v)}</text>')
    for name, s in series.items():
        d = " ".join(f"{x(a):.1f},{y(b):.1f}" for a, b in s)
        out.append(f'<polyline points="{d}" fill="none" stroke="{colors[name]}" stroke-width="2.5">'
                   f'<title>{escape(name)}</title></polyline>')
    return "".join(out) + "</svg>"


def bars(values: dict[str, float], title: str, x_label: str, y_label: str = "",
         y_lim: tuple[float, float] | None = None, color: str = PALETTE[0]) -> str:
    """Bar chart of one value per category, each bar labelled with its value (y from 0 unless y_lim says)."""
    if not values:
        return empty(title)
    y_lo, y_hi = y_lim or (0.0, max(values.values()) * 1.15 or 1.0)
    out = _frame(title, x_label, y_label, y_lo, y_hi, {})
    slot = (W - LEFT - RIGHT) / len(values)
    y = _y(y_lo, y_hi)
    for i, (name, v) in enumerate(values.items()):
        x0 = LEFT + i * slot
        out.append(f'<rect x="{x0 + slot * 0.15:.1f}" y="{y(v):.1f}" width="{slot * 0.7:.1f}" '
                   f'height="{y(y_lo) - y(v):.1f}" fill="{color}"><title>{escape(name)}: {v:.3f}</title></rect>'
                   f'<text x="{x0 + slot / 2:.1f}" y="{y(v) - 4:.1f}" text-anchor="middle" fill="currentColor" '
                   f'font-size="12">{v:.2f}</text><text x="{x0 + slot / 2:.1f}" y="{H - BOTTOM + 18}" '
                   f'text-anchor="middle" fill="currentColor" font-size="13">{escape(name[:9])}</text>')
    return "".join(out) + "</svg>"


def empty(title: str) -> str:
    """A chart frame that says there is nothing to draw (e.g. a model not shipped)."""
    return (f'<svg viewBox="0 0 {W} 60" style="width:100%;height:auto;font-family:sans-serif;font-size:15px" '
            f'xmlns="http://www.w3.org/2000/svg"><text x="{LEFT}" y="36" fill="currentColor">{escape(title)}: '
            'nothing to show</text></svg>')
