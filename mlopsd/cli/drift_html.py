"""A drift report as one self-contained HTML file: the verdicts in a table, and for every
column the reference and current distributions drawn as inline SVG bars (no scripts, no
files beside it: it opens anywhere, and can be mailed)."""

from __future__ import annotations

import html
from typing import Any

_WIDTH, _HEIGHT = 360, 90
_STYLE = """
body{font:14px system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{padding:4px 10px;border-bottom:1px solid #ddd;
text-align:left}th{background:#f4f4f4}.drift{color:#b00;font-weight:600}
.col{display:inline-block;margin:0 24px 24px 0;vertical-align:top}
.ref{fill:#7aa6d8}.cur{fill:#e8956b}.legend span{display:inline-block;width:12px;height:12px;
margin:0 4px 0 12px}
"""


def render(report: dict[str, Any], *, title: str) -> str:
    rows = []
    for c in report["columns"]:
        verdict = "DRIFT" if c.get("drifted") else ""
        rows.append(
            f"<tr><td>{_e(c['column'])}</td><td>{_e(c.get('kind'))}</td>"
            f"<td>{_e(c.get('test'))}</td><td>{_num(c.get('statistic'))}</td>"
            f"<td>{_num(c.get('p_value'))}</td><td>{_num(c.get('threshold'))}</td>"
            f"<td class='drift'>{verdict}</td></tr>")
    charts = [_chart(c) for c in report["columns"] if c.get("bins")]
    prediction = report.get("prediction")
    if prediction and prediction.get("bins"):
        charts.insert(0, _chart({**prediction, "column": "prediction"}))
    share = report.get("drift_share", 0.0)
    verdict = "dataset drift" if report.get("dataset_drift") else "no dataset drift"
    current = ", ".join(f"{v['dataset']}@{v['version']}" for v in report.get("current", []))
    reference = ", ".join(f"{v['dataset']}@{v['version']}" for v in report.get("reference", []))
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{_e(title)}</title>
<style>{_STYLE}</style></head><body>
<h1>{_e(title)}</h1>
<p>Model {_e(report.get('model'))}:{_e(report.get('version'))}. Current {_e(current)}
({report.get('rows', {}).get('current', '?')} rows) against the reference {_e(reference)}
({report.get('rows', {}).get('reference', '?')} rows): <b>{verdict}</b>, {share:.0%} of columns
drifted (threshold {report.get('share_threshold', 0.5):.0%}).</p>
<table><tr><th>column</th><th>kind</th><th>test</th><th>statistic</th><th>p-value</th>
<th>threshold</th><th></th></tr>{''.join(rows)}</table>
<p class="legend"><span class="ref" style="background:#7aa6d8"></span>reference
<span style="background:#e8956b"></span>current</p>
{''.join(charts)}
</body></html>
"""


def _chart(column: dict[str, Any]) -> str:
    bins = column["bins"]
    ref, cur = bins.get("reference") or [], bins.get("current") or []
    labels = bins.get("categories") or [f"{e:.3g}" for e in bins.get("edges", [])]
    n = max(len(ref), len(cur), 1)
    top = max([*ref, *cur, 1e-12])
    width = _WIDTH / n
    bars = []
    for i in range(n):
        for j, (values, cls) in enumerate(((ref, "ref"), (cur, "cur"))):
            value = values[i] if i < len(values) else 0.0
            h = _HEIGHT * value / top
            x = i * width + j * width / 2
            label = labels[i] if i < len(labels) else ""
            bars.append(f"<rect class='{cls}' x='{x:.1f}' y='{_HEIGHT - h:.1f}' "
                        f"width='{max(width / 2 - 1, 0.5):.1f}' height='{h:.1f}'>"
                        f"<title>{_e(label)}: {value:.2%}</title></rect>")
    mark = " <span class='drift'>DRIFT</span>" if column.get("drifted") else ""
    return (f"<div class='col'><div>{_e(column['column'])} — {_e(column.get('test'))} "
            f"{_num(column.get('statistic'))}{mark}</div>"
            f"<svg width='{_WIDTH}' height='{_HEIGHT}' role='img'>{''.join(bars)}</svg></div>")


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:.4g}" if isinstance(value, float) else _e(value)
