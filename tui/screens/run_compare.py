"""Runs side by side: every param, metric and tag in a row, one column per run, rows whose
values differ marked; below, the chosen metric's curves of all of them overlaid."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label

from mlopsd.client.wire import MetricPointOut, RunOut
from tui.format import number
from tui.loader import Loader
from tui.widgets.keyed_table import KeyedTable
from tui.widgets.plot import draw_lines, make_plot

DIFFERENT = "≠"


def comparison_rows(runs: list[RunOut]) -> list[tuple[str, list[object]]]:
    """(key, [mark, field, value per run]) for every param, metric and tag; differing
    values marked."""
    rows: list[tuple[str, list[object]]] = []
    for kind in ("params", "metrics", "tags"):
        keys = sorted({k for r in runs for k in getattr(r, kind)})
        for key in keys:
            values = [getattr(r, kind).get(key) for r in runs]
            differs = len({repr(v) for v in values}) > 1
            cells: list[object] = [Text(DIFFERENT, style="bold yellow") if differs else "",
                                   f"{kind}.{key}"]
            cells += [Text(number(v), style="bold yellow" if differs else "")
                      for v in values]
            rows.append((f"{kind}.{key}", cells))
    return rows


class RunCompareScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q", "close", "Close"),
                Binding("d", "only_differences", "Only differences")]

    def __init__(self, runs: list[RunOut], metric: str | None) -> None:
        super().__init__(classes="dialog-screen")
        self.runs, self.metric = runs, metric
        self.only_differences = False
        self.curves = Loader(self, self._fetch_curves, self._show_curves,
                             self._curves_failed, name="curves")

    def compose(self) -> ComposeResult:
        with Vertical(id="compare", classes="dialog"):
            yield Label(f"[b]{len(self.runs)} runs side by side[/b] ({DIFFERENT}: values "
                        "differ; d: only differences; escape closes)", id="compare-title")
            yield KeyedTable(["", "field", *[r.id[:8] for r in self.runs]],
                             id="compare-table", zebra_stripes=False)
            yield make_plot("compare-plot")

    def runs_ids(self) -> list[str]:
        return [r.id for r in self.runs]

    def on_mount(self) -> None:
        self._fill()
        if self.metric:
            self.curves.request()

    def _fill(self) -> None:
        rows = comparison_rows(self.runs)
        if self.only_differences:
            rows = [r for r in rows if str(r[1][0])]
        self.query_one("#compare-table", KeyedTable).sync(rows)

    def action_only_differences(self) -> None:
        self.only_differences = not self.only_differences
        self._fill()

    def action_close(self) -> None:
        self.dismiss(None)

    def _fetch_curves(self) -> list[tuple[str, list[MetricPointOut]]]:
        source = self.app.source  # type: ignore[attr-defined]
        return [(r.id[:8], source.metric_history(r.id, self.metric)) for r in self.runs]

    def _show_curves(self, curves: list[tuple[str, list[MetricPointOut]]]) -> None:
        series = [(label, [p.step for p in points if p.value is not None],
                   [p.value for p in points if p.value is not None])
                  for label, points in curves]
        draw_lines(self.query_one("#compare-plot"), f"{self.metric} by step", series,
                   xlabel="step")

    def _curves_failed(self, error: str) -> None:
        self.notify(f"curves of {self.metric}: {error}", severity="error")
