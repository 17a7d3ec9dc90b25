"""The frame of a self-contained report page (model cards, run comparisons): one HTML file
with its style inline, tables, sections; no scripts, nothing fetched (no CDN, fonts or
images by address), every text escaped. Charts come from `mlopsd.cli.svg_plots`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mlopsd.cli.svg_plots import STYLE, escape
from mlopsd.client.numbers import number

PAGE_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;
max-width:1040px;padding:0 1.5em;color:#222}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.25em;margin-top:1.8em;
border-bottom:1px solid #ddd;padding-bottom:.2em}h3{font-size:1.05em;margin:1.2em 0 .3em}
table{border-collapse:collapse;margin:.6em 0 1em}td,th{padding:3px 10px;
border-bottom:1px solid #e4e4e4;text-align:left;vertical-align:top}th{background:#f4f4f4}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}.muted{color:#777}
.diff{background:#fff3cd}.flag{color:#b35900}.key{font-size:1.35em;font-weight:600}
.facts{display:flex;flex-wrap:wrap;gap:12px;margin:1em 0}.fact{border:1px solid #ddd;
border-radius:6px;padding:8px 14px;min-width:180px}.fact .label{color:#666;font-size:.85em}
code{font-size:.92em;background:#f6f6f6;padding:0 3px;border-radius:3px}
.chart{margin:.4em 0 1.2em}
""" + STYLE


def page(title: str, body: Sequence[str]) -> str:
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{escape(title)}</title><style>{PAGE_STYLE}</style></head><body>"
            + "\n".join(body) + "</body></html>\n")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *,
          numeric: Sequence[int] = (), row_classes: Sequence[str] | None = None) -> str:
    """A table of escaped cells; columns in `numeric` right-aligned."""
    head = "".join(f"<th{' class=num' if i in numeric else ''}>{escape(h)}</th>"
                   for i, h in enumerate(headers))
    body = []
    for r, row in enumerate(rows):
        cls = row_classes[r] if row_classes and row_classes[r] else ""
        cells = "".join(f"<td{' class=num' if i in numeric else ''}>{cell(v)}</td>"
                        for i, v in enumerate(row))
        body.append(f"<tr{f' class={cls}' if cls else ''}>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def cell(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return escape(number(value))
    return escape("-" if value is None else value)


def fact(label: str, value: str, note: str = "") -> str:
    """A headline figure in a box: its label, the figure, a line under it."""
    return (f"<div class='fact'><div class='label'>{escape(label)}</div>"
            f"<div class='key'>{escape(value)}</div>"
            + (f"<div class='muted'>{escape(note)}</div>" if note else "") + "</div>")


def paragraphs(items: Sequence[str], missing: str) -> str:
    """One line of text as a paragraph, several as a list; `missing` (muted) when none."""
    if not items:
        return f"<p class='muted'>{escape(missing)}</p>"
    if len(items) == 1:
        return f"<p>{escape(items[0])}</p>"
    return "<ul>" + "".join(f"<li>{escape(i)}</li>" for i in items) + "</ul>"
