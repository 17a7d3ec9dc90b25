"""Drift: the reports; the selected one's per-column table (test, statistic, threshold,
row counts, verdict); for the selected column, the reference and current distributions as
a plot; data-quality and performance series over time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Label, TabbedContent, TabPane

from mlopsd.client.wire import DriftReportOut, QualityPointOut
from tui.format import number, verdict, when
from tui.keys import DRIFT
from tui.loader import Loader
from tui.screens.base import MlopsScreen
from tui.widgets.keyed_table import KeyedTable
from tui.widgets.plot import draw_bars, draw_lines, make_plot

REPORT_COLUMNS = ["id", "model", "version", "current", "reference", "verdict", "drifted",
                  "kind", "created"]
COLUMN_COLUMNS = ["column", "verdict", "test", "statistic", "threshold", "p", "rows ref/cur"]


@dataclass
class DriftData:
    reports: list[DriftReportOut]
    quality: dict[str, list[QualityPointOut]]


class DriftScreen(MlopsScreen):
    MODE = "drift"
    TITLE = "Drift"
    AUTO_FOCUS = "#reports-table"
    EVENTS = ("drift", "ingest.committed", "labels")
    BINDINGS = [*MlopsScreen.BINDINGS, *DRIFT]

    def __init__(self) -> None:
        super().__init__()
        self.data: DriftData | None = None
        self.full: dict[int, dict[str, Any] | None] = {}
        self.full_loader = Loader(self, self._fetch_full, self._show_full, self._failed,
                                  name="drift-full")
        self._full_of: int | None = None

    def compose_body(self) -> ComposeResult:
        with Vertical(id="drift-body"):
            yield KeyedTable(REPORT_COLUMNS, id="reports-table")
            with TabbedContent(id="drift-tabs"):
                with TabPane("Columns", id="tab-columns"), Horizontal(id="drift-columns-row"):
                    yield KeyedTable(COLUMN_COLUMNS, id="columns-table")
                    yield make_plot("distribution-plot")
                with TabPane("Over time", id="tab-series"), Horizontal(id="drift-series-row"):
                    yield make_plot("quality-plot")
                    yield make_plot("performance-plot")
            yield Label("", id="drift-note")

    def fetch(self) -> DriftData:
        reports = self.source.drift_reports(limit=50)
        quality = {}
        for dataset in sorted({r.dataset for r in reports}):
            quality[dataset] = self.source.quality(dataset)
        return DriftData(reports, quality)

    def show(self, data: DriftData) -> None:
        self.clear_problem()
        self.data = data
        self.query_one("#reports-table", KeyedTable).sync([
            (str(r.id), [str(r.id), r.model or "-", r.model_version or "-", r.current,
                         r.reference, _report_verdict(r), f"{r.drift_share:.0%}",
                         "recorded" if r.recorded else "ad hoc", when(r.created_at)])
            for r in data.reports])
        self._show_columns()
        self._show_series()

    def selected_report(self) -> DriftReportOut | None:
        if self.data is None:
            return None
        key = self.query_one("#reports-table", KeyedTable).selected_key
        return next((r for r in self.data.reports if str(r.id) == key), None)

    @on(DataTable.RowHighlighted, "#reports-table")
    def _report_chosen(self, _event: DataTable.RowHighlighted) -> None:
        self._show_columns()

    @on(DataTable.RowHighlighted, "#columns-table")
    def _column_chosen(self, _event: DataTable.RowHighlighted) -> None:
        self._plot_column()

    def _show_columns(self) -> None:
        report = self.selected_report()
        table = self.query_one("#columns-table", KeyedTable)
        if report is None:
            table.sync([])
            return
        rows = []
        for c in report.columns or []:
            rows_of = c.get("rows") or {}
            statistic = number(c.get("statistic"))
            if c.get("approximate"):
                statistic = f"~{statistic} [{number(c.get('low'))}, {number(c.get('high'))}]"
            rows.append((c["column"], [c["column"], verdict(c.get("drifted")),
                                       str(c.get("test", "")), statistic,
                                       number(c.get("threshold")), number(c.get("p_value")),
                                       f"{number(rows_of.get('reference'))}/"
                                       f"{number(rows_of.get('current'))}"]))
        table.sync(rows)
        self.set_label("#drift-note",
            f"report {report.id}: {report.current} against {report.reference}; "
            f"{_report_verdict(report).plain}; prediction drift "
            f"{_yes_no(report.prediction_drift)}")
        if report.id != self._full_of:
            self._full_of = report.id
            if report.id in self.full:
                self._plot_column()
            else:
                self.full_loader.request()
        else:
            self._plot_column()

    def _fetch_full(self) -> tuple[int, dict[str, Any] | None]:
        report = self.selected_report()
        if report is None:
            return -1, None
        return report.id, self.source.drift_report_full(report)

    def _show_full(self, result: tuple[int, dict[str, Any] | None]) -> None:
        report_id, full = result
        self.full[report_id] = full
        self._plot_column()

    def _plot_column(self) -> None:
        report = self.selected_report()
        plot = self.query_one("#distribution-plot")
        column = self.query_one("#columns-table", KeyedTable).selected_key
        full = self.full.get(report.id) if report else None
        found = next((c for c in (full or {}).get("columns", []) if c.get("column") == column),
                     None)
        bins = (found or {}).get("bins") or {}
        reference, current = bins.get("reference") or [], bins.get("current") or []
        labels = bins.get("categories") or _edge_labels(bins.get("edges") or [],
                                                        len(reference))
        draw_bars(plot, f"{column}: reference vs current"
                  if found else "distributions: loading…" if report else "",
                  [str(x) for x in labels][: len(reference)],
                  [("reference", reference), ("current", current)] if reference else [])

    def _show_series(self) -> None:
        data = self.data
        if data is None:
            return
        series = []
        for dataset, versions in data.quality.items():
            xs, ys = [], []
            for v in versions:
                shares = [c.null_share or 0.0 for c in v.columns.values()]
                xs.append(v.version)
                ys.append(max(shares) if shares else 0.0)
            series.append((f"{dataset}: largest null share", xs, ys))
        draw_lines(self.query_one("#quality-plot"), "data quality by version", series,
                   xlabel="version")
        performance: dict[str, tuple[list[float], list[float]]] = {}
        for r in sorted(data.reports, key=lambda r: r.id):
            metrics = (r.performance or {}).get("metrics") if isinstance(
                r.performance, dict) else None
            for key, value in (metrics or {}).items():
                if isinstance(value, int | float):
                    xs, ys = performance.setdefault(f"{r.model} {key}", ([], []))
                    xs.append(r.id)
                    ys.append(float(value))
        draw_lines(self.query_one("#performance-plot"),
                   "performance on labelled batches by report" if performance else
                   "performance: no labelled batch yet",
                   [(k, xs, ys) for k, (xs, ys) in performance.items()], xlabel="report")


def _report_verdict(report: DriftReportOut) -> Text:
    if report.status == "not_enough_data":
        return Text("not enough data", style="dim")
    return verdict(report.dataset_drift)


def _yes_no(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "no")


def _edge_labels(edges: list[float], n: int) -> list[str]:
    if len(edges) >= n + 1:
        return [f"{edges[i]:.3g}" for i in range(n)]
    return [str(i + 1) for i in range(n)]
