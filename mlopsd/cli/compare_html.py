"""A comparison of runs as one self-contained HTML page (`mlops runs compare A B --html
FILE`), to share with people who do not use a terminal: the params side by side with the
differences marked, the metrics side by side with the difference from the first run, each
metric's curves of every run on shared axes, and the data versions each run trained on.
Charts are inline SVG (`mlopsd.cli.svg_plots`), nothing is fetched, every text escaped."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from mlopsd.cli.html_page import page, table
from mlopsd.cli.svg_plots import escape, line_chart
from mlopsd.client.wire import RunOut

Curves = dict[str, dict[str, list[float | None]]]
"""metric → part (train, holdout, logged) → value per step"""
_PARTS = {"train": "training rows", "holdout": "holdout", "logged": ""}


def short(run: RunOut) -> str:
    return run.id[:8]


def data_of(run: RunOut) -> str:
    """The data versions a run trained on, as its lineage (or its `data` param) names them."""
    lineage = run.lineage if isinstance(run.lineage, dict) else {}
    found = [f"{d.get('dataset')}@{d.get('version')}" for d in lineage.get("data") or []
             if isinstance(d, dict)]
    if found:
        return ", ".join(found)
    return run.params.get("data") or "not recorded"


def render(runs: Sequence[RunOut], curves: Sequence[Curves], *, made_at: datetime) -> str:
    names = [short(r) for r in runs]
    title = "Runs compared: " + " vs ".join(names)
    body = [f"<h1>{escape(title)}</h1>",
            table(["", *names],
                  [["experiment", *[r.experiment for r in runs]],
                   ["model", *[r.model for r in runs]],
                   ["state", *[r.state for r in runs]],
                   ["started", *[_when(r.started_at) for r in runs]],
                   ["ended", *[_when(r.ended_at) for r in runs]],
                   ["trained on", *[data_of(r) for r in runs]],
                   ["run id", *[r.id for r in runs]]]),
            "<h2>Params</h2>", _side_by_side(runs, "params", names),
            "<h2>Metrics</h2>", _metrics(runs, names),
            _curves(runs, curves, names),
            "<h2>Data each run trained on</h2>", _data(runs, names),
            "<h2>Tags</h2>", _side_by_side(runs, "tags", names),
            f"<p class='muted'>Made by <code>mlops runs compare --html</code> at "
            f"{escape(_when(made_at))}; one file, no scripts, nothing "
            "fetched.</p>"]
    return page(title, body)


def _side_by_side(runs: Sequence[RunOut], attr: str, names: list[str]) -> str:
    keys = sorted({k for r in runs for k in getattr(r, attr)})
    rows, classes = [], []
    for key in keys:
        values = [getattr(r, attr).get(key) for r in runs]
        differs = len({str(v) for v in values}) > 1
        rows.append([key, *values, "differs" if differs else ""])
        classes.append("diff" if differs else "")
    if not rows:
        return "<p class='muted'>None.</p>"
    return table(["", *names, ""], rows, row_classes=classes)


def _metrics(runs: Sequence[RunOut], names: list[str]) -> str:
    keys = sorted({k for r in runs for k in r.metrics})
    rows, classes = [], []
    for key in keys:
        values = [r.metrics.get(key) for r in runs]
        first = values[0]
        changes = []
        for value in values[1:]:
            if first is None or value is None:
                changes.append(None)
            else:
                relative = f" ({(value - first) / abs(first):+.1%})" if first else ""
                changes.append(f"{value - first:+.4g}{relative}")
        differs = len({str(v) for v in values}) > 1
        rows.append([key, *values, *changes])
        classes.append("diff" if differs else "")
    if not rows:
        return "<p class='muted'>None.</p>"
    heads = [f"{n} - {names[0]}" for n in names[1:]]
    return table(["", *names, *heads], rows, row_classes=classes,
                 numeric=tuple(range(1, len(names) + 1)))


def _curves(runs: Sequence[RunOut], curves: Sequence[Curves], names: list[str]) -> str:
    metrics = sorted({m for c in curves for m in c})
    if not metrics:
        return ""
    out = ["<h2>Curves</h2><p class='muted'>Each metric of every run on shared axes, one "
           "colour per run: solid its holdout (or its logged values), dashed its training "
           "rows.</p>"]
    for metric in metrics:
        series, dashed, colours = [], [], []
        for run, (name, found) in enumerate(zip(names, curves, strict=True)):
            for part, values in found.get(metric, {}).items():
                label = f"{name} {_PARTS.get(part, part)}".strip()
                series.append((label, values))
                colours.append(run)  # one colour per run, its training rows dashed
                if part == "train":
                    dashed.append(label)
        out.append("<div class='chart'>" + line_chart(
            series, title=f"{metric}: " + " vs ".join(names), x_title="step (boosting round)",
            y_title=metric, dashed=dashed, colours=colours) + "</div>")
    return "".join(out)


def _data(runs: Sequence[RunOut], names: list[str]) -> str:
    rows = []
    for name, run in zip(names, runs, strict=True):
        lineage = run.lineage if isinstance(run.lineage, dict) else {}
        items = [d for d in lineage.get("data") or [] if isinstance(d, dict)]
        selector = (lineage.get("selector") or {}).get("written")
        if not items:
            rows.append([name, data_of(run), None, selector])
        for d in items:
            rows.append([name, f"{d.get('dataset')}@{d.get('version')}",
                         str(d.get("content_hash") or d.get("snapshot_sha") or "")[:16],
                         selector])
    return table(["run", "data version", "content hash", "selector"], rows)


def _when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S %Z}".strip() if value is not None else "-"

