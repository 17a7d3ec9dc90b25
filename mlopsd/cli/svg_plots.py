"""Small charts as inline SVG, written by hand for the self-contained HTML reports (`mlops
drift --html`, `mlops models card --html`, `mlops runs compare --html`): axes with ticks,
gridlines, tick labels and axis titles; no scripts, no fonts or images fetched, every text
escaped. A chart is a string of `<svg>` to put in a page that carries `STYLE`.

- `hbar_chart`: one horizontal bar per row (a label on the left: feature names, slice
  values), or a point per row when the values are far from zero; optional error bars (an
  interval's bounds), a reference line and band (the whole holdout's value and its
  interval) and a note at the end of each row.
- `line_chart`: series over steps (training curves) on shared axes, a legend, an optional
  vertical marker (the kept round).
- the parts both are made of (`y_grid`, `x_grid`, `axes`, `titles`, `nice_ticks`), which
  the drift report's paired bars use too.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mlopsd.client.numbers import number

STYLE = """
svg text{font:11px system-ui,sans-serif;fill:#444}svg .title{font-weight:600;fill:#222}
.axis{stroke:#444;stroke-width:1}.grid{stroke:#e4e4e4;stroke-width:1}
.bar{fill:#7aa6d8}.bar.muted{fill:#c8d6e8}.dot{fill:#2f6fb0}.dot.muted{fill:#9db3cc}.whisker{stroke:#222;stroke-width:1.5}
.band{fill:#f4c9ad;opacity:.55}.refline{stroke:#c0504d;stroke-width:1.5;stroke-dasharray:5 3}
.series{fill:none;stroke-width:1.8}.marker{stroke:#888;stroke-width:1;stroke-dasharray:3 3}
"""
COLOURS = ("#2f6fb0", "#d9772b", "#3d9a5b", "#8b5fb8", "#c0504d", "#4bacc6")


def escape(value: Any) -> str:
    """Text for HTML or SVG: every <, >, &, and both quotes escaped."""
    return html.escape("" if value is None else str(value), quote=True)


def nice_ticks(low: float, high: float, count: int = 5, *, whole: bool = False
               ) -> list[float]:
    """Round tick values (steps of 1, 2, 2.5 or 5 x 10^k) from at or below `low` to at or
    above `high`, about `count` of them. `whole`: steps of whole numbers only (1, 2 or
    5 x 10^k), for an axis of steps or rounds, where a tick at 2.5 has nothing to mark."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0, 1.0]
    if high < low:
        low, high = high, low
    if high == low:
        pad = abs(high) * 0.1 or 1.0
        low, high = low - pad, high + pad
    raw = (high - low) / max(count - 1, 1)
    if whole:
        raw = max((high - low) / max(count, 1), 1.0)  # one more tick: no 2.5 in between
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in ((1, 2, 5, 10) if whole else (1, 2, 2.5, 5, 10))
                if m * power >= raw)
    first = math.floor(low / step + 1e-9) * step
    ticks = [round(first, 12)]
    while ticks[-1] < high - step * 1e-9 or len(ticks) < 2:
        ticks.append(round(first + step * len(ticks), 12))
    return ticks


def nice_top(value: float) -> float:
    """A share-of-rows scale's top: the smallest of 1, 2, 2.5, 5 x 10^k percent at or
    above `value` (at most 100%)."""
    for top in (0.01, 0.02, 0.025, 0.05, 0.1, 0.2, 0.25, 0.5, 1.0):
        if value <= top:
            return top
    return 1.0


def percent(value: float) -> str:
    return f"{value * 100:.3g}%"


def y_grid(values: Sequence[float], y_of: Callable[[float], float], left: float,
           right: float, label: Callable[[float], str]) -> list[str]:
    """Horizontal gridlines at `values`, a tick on the y axis and its label left of it."""
    out = []
    for value in values:
        y = y_of(value)
        out.append(f"<line class='grid' x1='{left}' x2='{right:.1f}' y1='{y:.1f}' "
                   f"y2='{y:.1f}'/><line class='axis' x1='{left - 4}' x2='{left}' "
                   f"y1='{y:.1f}' y2='{y:.1f}'/><text x='{left - 6}' y='{y + 3.5:.1f}' "
                   f"text-anchor='end'>{escape(label(value))}</text>")
    return out


def x_grid(values: Sequence[float], x_of: Callable[[float], float], top: float,
           bottom: float, label: Callable[[float], str]) -> list[str]:
    """Vertical gridlines at `values`, a tick under the x axis and its label below."""
    out = []
    for value in values:
        x = x_of(value)
        out.append(f"<line class='grid' x1='{x:.1f}' x2='{x:.1f}' y1='{top}' "
                   f"y2='{bottom:.1f}'/><line class='axis' x1='{x:.1f}' x2='{x:.1f}' "
                   f"y1='{bottom:.1f}' y2='{bottom + 4:.1f}'/><text x='{x:.1f}' "
                   f"y='{bottom + 15:.1f}' text-anchor='middle'>{escape(label(value))}</text>")
    return out


def axes(left: float, top: float, right: float, bottom: float) -> str:
    """The y axis on the left and the x axis at the bottom of the plot area."""
    return (f"<line class='axis' x1='{left}' x2='{left}' y1='{top}' y2='{bottom:.1f}'/>"
            f"<line class='axis' x1='{left}' x2='{right:.1f}' y1='{bottom:.1f}' "
            f"y2='{bottom:.1f}'/>")


def titles(width: float, height: float, *, x_title: str, y_title: str = "",
           x_centre: float | None = None, y_centre: float | None = None) -> str:
    """The x axis's title along the bottom edge, the y axis's turned along the left edge."""
    out = (f"<text x='{(x_centre if x_centre is not None else width / 2):.1f}' "
           f"y='{height - 4}' text-anchor='middle'>{escape(x_title)}</text>")
    if y_title:
        out += (f"<text transform='translate(12,{(y_centre or height / 2):.1f}) rotate(-90)' "
                f"text-anchor='middle'>{escape(y_title)}</text>")
    return out


def svg(width: float, height: float, label: str, parts: Sequence[str]) -> str:
    return (f"<svg width='{width:.0f}' height='{height:.0f}' viewBox='0 0 {width:.0f} "
            f"{height:.0f}' role='img' aria-label='{escape(label)}'>{''.join(parts)}</svg>")


@dataclass
class Bar:
    label: str
    value: float | None
    low: float | None = None
    high: float | None = None
    note: str = ""
    """text after the bar (rows, a flag)"""
    muted: bool = False


def hbar_chart(bars: Sequence[Bar], *, title: str, x_title: str,
               reference: tuple[float, str] | None = None,
               band: tuple[float, float] | None = None, width: int = 680,
               label_width: int = 190, row: int = 22) -> str:
    """Horizontal bars from zero, or points when every value is far from it (a bar from
    the axis's low end would have no length that means anything: 84 drawn twice as long as
    81 on an axis from 78); error bars where a row has bounds, a dashed reference line with
    its label and a shaded band behind the rows."""
    known = [v for b in bars for v in (b.value, b.low, b.high) if v is not None]
    known += [v for v in (*(band or ()), reference[0] if reference else None) if v is not None]
    low, high = (min(known), max(known)) if known else (0.0, 1.0)
    if low >= 0 and low < 0.5 * high:
        low = 0.0  # from zero unless that squeezes the differences into the last stretch
    ticks = nice_ticks(low, high)
    lo, hi = ticks[0], ticks[-1]
    as_bars = lo <= 0.0 <= hi
    left, right, top = label_width, width - 110, 42
    bottom = top + row * max(len(bars), 1) + 6
    height = bottom + 40

    def x_of(value: float) -> float:
        return left + (right - left) * (value - lo) / ((hi - lo) or 1.0)

    parts = [f"<text class='title' x='{left}' y='16'>{escape(title)}</text>"]
    if band is not None:
        what = f"{reference[1] if reference else ''} interval: {number(band[0])} to " \
               f"{number(band[1])}"
        parts.append(f"<rect class='band' x='{x_of(band[0]):.1f}' y='{top}' "
                     f"width='{max(x_of(band[1]) - x_of(band[0]), 1):.1f}' "
                     f"height='{bottom - top:.1f}'><title>{escape(what)}</title></rect>")
    parts += x_grid(ticks, x_of, top, bottom, number)
    base = x_of(max(lo, min(0.0, hi)))
    for i, bar in enumerate(bars):
        y = top + i * row + 4
        text = bar.label if len(bar.label) <= 28 else bar.label[:27] + "…"
        parts.append(f"<text x='{left - 8}' y='{y + row / 2 + 1:.1f}' text-anchor='end'>"
                     f"<title>{escape(bar.label)}</title>{escape(text)}</text>")
        if bar.value is None:
            parts.append(f"<text x='{left + 4}' y='{y + row / 2 + 1:.1f}'>no value</text>")
            continue
        end = x_of(bar.value)
        tip = f"{bar.label}: {number(bar.value)}"
        if bar.low is not None and bar.high is not None:
            tip += f" ({number(bar.low)} to {number(bar.high)})"
        muted = " muted" if bar.muted else ""
        if as_bars:
            x0, x1 = sorted((base, end))
            parts.append(f"<rect class='bar{muted}' x='{x0:.1f}' y='{y + 3}' "
                         f"width='{max(x1 - x0, 1):.1f}' height='{row - 8}'>"
                         f"<title>{escape(tip)}</title></rect>")
        after = end
        if bar.low is not None and bar.high is not None:
            a, b, mid = x_of(bar.low), x_of(bar.high), y + row / 2 - 1
            parts.append(f"<line class='whisker' x1='{a:.1f}' x2='{b:.1f}' y1='{mid:.1f}' "
                         f"y2='{mid:.1f}'/><line class='whisker' x1='{a:.1f}' x2='{a:.1f}' "
                         f"y1='{mid - 5:.1f}' y2='{mid + 5:.1f}'/><line class='whisker' "
                         f"x1='{b:.1f}' x2='{b:.1f}' y1='{mid - 5:.1f}' y2='{mid + 5:.1f}'/>")
            after = max(after, b)
        if not as_bars:  # over its whisker
            parts.append(f"<circle class='dot{muted}' cx='{end:.1f}' cy='{y + row / 2 - 1:.1f}' "
                         f"r='4.5'><title>{escape(tip)}</title></circle>")
            after = max(after, end + 4)
        label = number(bar.value) + (f" {bar.note}" if bar.note else "")
        parts.append(f"<text x='{after + 5:.1f}' y='{y + row / 2 + 1:.1f}'>"
                     f"{escape(label)}</text>")
    if reference is not None:
        x = x_of(reference[0])
        parts.append(f"<line class='refline' x1='{x:.1f}' x2='{x:.1f}' y1='{top - 4}' "
                     f"y2='{bottom:.1f}'/><text x='{x:.1f}' y='{top - 7}' "
                     f"text-anchor='middle'>{escape(reference[1])}</text>")
    parts.append(axes(left, top, right, bottom))
    parts.append(titles(width, height, x_title=x_title, x_centre=(left + right) / 2))
    return svg(width, height, title, parts)


def line_chart(series: Sequence[tuple[str, Sequence[float | None]]], *, title: str,
               x_title: str, y_title: str, marker: tuple[float, str] | None = None,
               dashed: Sequence[str] = (), colours: Sequence[int] | None = None,
               width: int = 680, height: int = 300, first_x: int = 1) -> str:
    """Each series as a line over x = first_x, first_x + 1, … on shared axes, with a legend;
    gaps where a value is missing; `dashed` names series drawn dashed; `colours` gives each
    series its colour's number (default: one each; the same number for one run's series)."""
    values = [v for _, ys in series for v in ys if v is not None]
    longest = max((len(ys) for _, ys in series), default=1)
    y_ticks = nice_ticks(min(values), max(values)) if values else [0.0, 1.0]
    x_ticks = [t for t in nice_ticks(first_x, first_x + max(longest - 1, 1), whole=True)
               if first_x <= t <= first_x + longest - 1]
    left, right, top, bottom = 62, width - 16, 30 + 16 * math.ceil(len(series) / 3), \
        height - 44
    x_lo, x_hi = first_x, first_x + max(longest - 1, 1)

    def x_of(x: float) -> float:
        return left + (right - left) * (x - x_lo) / ((x_hi - x_lo) or 1)

    def y_of(y: float) -> float:
        return bottom - (bottom - top) * (y - y_ticks[0]) / ((y_ticks[-1] - y_ticks[0]) or 1)

    parts = [f"<text class='title' x='{left}' y='16'>{escape(title)}</text>"]
    parts += y_grid(y_ticks, y_of, left, right, number)
    parts += x_grid(x_ticks, x_of, top, bottom, lambda v: number(int(v)))
    for i, (name, ys) in enumerate(series):
        colour = COLOURS[(colours[i] if colours else i) % len(COLOURS)]
        style = " stroke-dasharray='6 3'" if name in dashed else ""
        for run in _runs(ys):
            points = " ".join(f"{x_of(first_x + j):.1f},{y_of(y):.1f}" for j, y in run)
            parts.append(f"<polyline class='series' stroke='{colour}'{style} "
                         f"points='{points}'><title>{escape(name)}</title></polyline>")
        lx, ly = left + (i % 3) * 200, 30 + 16 * (i // 3)
        parts.append(f"<line x1='{lx}' x2='{lx + 22}' y1='{ly - 4}' y2='{ly - 4}' "
                     f"stroke='{colour}' stroke-width='2.5'{style}/><text x='{lx + 27}' "
                     f"y='{ly}'>{escape(name)}</text>")
    if marker is not None and x_lo <= marker[0] <= x_hi:
        x = x_of(marker[0])
        # its label on the side with room: left of a marker near the right edge
        side = ("end", x - 4) if x > (left + right) / 2 else ("start", x + 4)
        parts.append(f"<line class='marker' x1='{x:.1f}' x2='{x:.1f}' y1='{top}' "
                     f"y2='{bottom}'/><text x='{side[1]:.1f}' y='{top + 12}' "
                     f"text-anchor='{side[0]}'>{escape(marker[1])}</text>")
    parts.append(axes(left, top, right, bottom))
    parts.append(titles(width, height, x_title=x_title, y_title=y_title,
                        x_centre=(left + right) / 2, y_centre=(top + bottom) / 2))
    return svg(width, height, title, parts)


def _runs(ys: Sequence[float | None]) -> list[list[tuple[int, float]]]:
    """The stretches of consecutive present values (a line is broken where one is
    missing)."""
    out: list[list[tuple[int, float]]] = []
    current: list[tuple[int, float]] = []
    for j, y in enumerate(ys):
        if y is None:
            if current:
                out.append(current)
            current = []
        else:
            current.append((j, y))
    if current:
        out.append(current)
    return out
