"""A drift report as one self-contained HTML file: the verdicts in a table, and for every
column the reference and current distributions drawn as inline SVG bars with their axes —
a share-of-rows scale with ticks, bin edges or category names under the bars (no scripts,
no files beside it: it opens anywhere, and can be mailed). The axes, ticks and escaping are
`mlopsd.cli.svg_plots`', shared with the model card and the run comparison."""

from __future__ import annotations

from typing import Any

from mlopsd.cli.svg_plots import STYLE, axes, escape, nice_top, percent, svg, titles, y_grid

_WIDTH, _HEIGHT = 440, 226
_LEFT, _RIGHT, _TOP, _BOTTOM = 52, 12, 12, 80
"""The plot area's margins: room for the y ticks on the left and the x labels below."""
_STYLE = """
body{font:14px system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{padding:4px 10px;border-bottom:1px solid #ddd;
text-align:left}th{background:#f4f4f4}.drift{color:#b00;font-weight:600}.muted{color:#777}
.col{display:inline-block;margin:0 24px 24px 0;vertical-align:top}
.ref{fill:#7aa6d8}.cur{fill:#e8956b}.legend span{display:inline-block;width:12px;height:12px;
margin:0 4px 0 12px}
""" + STYLE


def render(report: dict[str, Any], *, title: str, recorded: bool = True) -> str:
    rows = []
    for c in report["columns"]:
        rows.append(
            f"<tr><td>{_e(c['column'])}</td><td>{_e(c.get('kind'))}</td>"
            f"<td>{_e(c.get('test'))}</td><td>{statistic_text(c)}</td>"
            f"<td>{'≤' if c.get('p_at_most') else ''}{_num(c.get('p_value'))}</td>"
            f"<td>{_num(c.get('threshold'))}</td>"
            f"<td>{_counts(c)}</td><td>{_verdict(c)}</td></tr>")
    charts = [_chart(c) for c in report["columns"] if c.get("bins")]
    prediction = report.get("prediction")
    if prediction and prediction.get("bins"):
        charts.insert(0, _chart({**prediction, "column": "prediction"}))
    sizes = report.get("rows") or {}
    current = ", ".join(f"{v['dataset']}@{v['version']}" for v in report.get("current", []))
    reference = ", ".join(f"{v['dataset']}@{v['version']}" for v in report.get("reference", []))
    if report.get("status") == "not_enough_data":
        verdict = "not enough data: no verdict"
    else:
        verdict = (f"{'dataset drift' if report.get('dataset_drift') else 'no dataset drift'}"
                   f"</b>, {report.get('drift_share', 0.0):.0%} of columns drifted (threshold "
                   f"{report.get('share_threshold', 0.5):.0%})<b>")
    notes = [n for n in (report.get("note"),) if n]
    if report.get("excluded"):
        notes.append("left out of drift: " + ", ".join(report["excluded"]))
    if not recorded:
        notes.append("an ad-hoc check: it moved no alert and is not the model's latest report")
    if any(c.get("approximate") for c in report["columns"]):
        notes.append("~ an estimate from the reference's profile, with its bounds; verdicts "
                     "are exact (computed exactly where the bounds straddle the threshold)")
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{_e(title)}</title>
<style>{_STYLE}</style></head><body>
<h1>{_e(title)}</h1>
<p>Model {_e(report.get('model'))}:{_e(report.get('version'))}. Current {_e(current)}
({_n(sizes.get('current'))} rows) against the reference {_e(reference)}
({_n(sizes.get('reference'))} rows): <b>{verdict}</b>.</p>
{''.join(f'<p class="muted">{_e(n)}</p>' for n in notes)}
<table><tr><th>column</th><th>kind</th><th>test</th><th>statistic</th><th>p-value</th>
<th>threshold</th><th>rows (reference / current)</th><th></th></tr>{''.join(rows)}</table>
<p class="legend"><span class="ref" style="background:#7aa6d8"></span>reference
<span style="background:#e8956b"></span>current</p>
{''.join(charts)}
</body></html>
"""


def _chart(column: dict[str, Any]) -> str:
    bins = column["bins"]
    ref, cur = bins.get("reference") or [], bins.get("current") or []
    categories = bins.get("categories")
    n = max(len(ref), len(cur), 1)
    top = nice_top(max([*ref, *cur, 1e-12]))
    plot_w, plot_h = _WIDTH - _LEFT - _RIGHT, _HEIGHT - _TOP - _BOTTOM
    base = _TOP + plot_h
    width = plot_w / n
    # the share-of-rows scale: gridlines and ticks at 0, ¼, ½, ¾ and the top
    parts = y_grid([top * i / 4 for i in range(5)], lambda v: base - plot_h * v / top, _LEFT,
                   _LEFT + plot_w, percent)
    for i in range(n):
        label = _bin_label(i, categories, bins.get("edges") or [])
        for j, (values, cls) in enumerate(((ref, "ref"), (cur, "cur"))):
            value = values[i] if i < len(values) else 0.0
            h = plot_h * value / top
            x = _LEFT + i * width + j * width / 2
            parts.append(f"<rect class='{cls}' x='{x:.1f}' y='{base - h:.1f}' "
                         f"width='{max(width / 2 - 1, 0.5):.1f}' height='{h:.1f}'>"
                         f"<title>{_e(label)}: {'reference' if j == 0 else 'current'} "
                         f"{value:.2%}</title></rect>")
    parts += _x_labels(n, width, base, categories, bins.get("edges") or [])
    parts.append(axes(_LEFT, _TOP, _LEFT + plot_w, base))
    axis = ("category" if categories else
            "value (bins: reference quantiles, about 5% of its rows each)")
    parts.append(titles(_WIDTH, _HEIGHT, x_title=f"{column['column']}: {axis}",
                        y_title="share of rows", x_centre=_LEFT + plot_w / 2,
                        y_centre=_TOP + plot_h / 2))
    mark = " <span class='drift'>DRIFT</span>" if column.get("drifted") else ""
    return (f"<div class='col'><div>{_e(column['column'])} — {_e(column.get('test'))} "
            f"{statistic_text(column)}{mark}</div>"
            + svg(_WIDTH, _HEIGHT, f"{column['column']}: reference and current distributions",
                  parts) + "</div>")


def _x_labels(n: int, width: float, base: float, categories: list[Any] | None,
              edges: list[float]) -> list[str]:
    """Category names under their bars (slanted, shortened; the full name in the bar's
    tooltip), or the bin edges at the boundaries between bars (at most 7 of them)."""
    out = []
    if categories:
        for i, name in enumerate(categories[:n]):
            x = _LEFT + (i + 0.5) * width
            text = str(name) if len(str(name)) <= 16 else str(name)[:15] + "…"
            out.append(f"<line class='axis' x1='{x:.1f}' x2='{x:.1f}' y1='{base}' "
                       f"y2='{base + 4}'/><text transform='translate({x:.1f},{base + 12}) "
                       f"rotate(-35)' text-anchor='end'>{_e(text)}</text>")
        return out
    # Bins: (-inf, e0], (e0, e1], …, (e_last, inf): edge k is the boundary after bar k.
    step = max(1, round(len(edges) / 7))
    for k in range(0, len(edges), step):
        x = _LEFT + (k + 1) * width
        out.append(f"<line class='axis' x1='{x:.1f}' x2='{x:.1f}' y1='{base}' "
                   f"y2='{base + 4}'/><text transform='translate({x:.1f},{base + 12}) "
                   f"rotate(-35)' text-anchor='end'>{_e(f'{edges[k]:.3g}')}</text>")
    return out


def _bin_label(i: int, categories: list[Any] | None, edges: list[float]) -> str:
    if categories:
        return str(categories[i]) if i < len(categories) else ""
    if not edges:
        return ""
    if i == 0:
        return f"≤ {edges[0]:.4g}"
    if i >= len(edges):
        return f"> {edges[-1]:.4g}"
    return f"({edges[i - 1]:.4g}, {edges[i]:.4g}]"


def statistic_text(column: dict[str, Any]) -> str:
    """The exact value, or the estimate marked ~ with its bounds (the page and the CLI)."""
    value = column.get("statistic")
    if value is None:
        return "-"
    if column.get("approximate") and column.get("low") is not None:
        return f"~{value:.4g} [{column['low']:.4g}, {column['high']:.4g}]"
    return f"{value:.4g}"


def _counts(column: dict[str, Any]) -> str:
    rows = column.get("rows") or {}
    return f"{_n(rows.get('reference'))} / {_n(rows.get('current'))}"


def _verdict(column: dict[str, Any]) -> str:
    if column.get("drifted") is None:
        return f"<span class='muted'>{_e(column.get('note') or 'no verdict')}</span>"
    return "<span class='drift'>DRIFT</span>" if column["drifted"] else ""


def _n(value: Any) -> str:
    return "?" if value is None else f"{value:,}"


def _e(value: Any) -> str:
    return escape(value)


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:.4g}" if isinstance(value, float) else _e(value)
