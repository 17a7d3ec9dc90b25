"""Experiments: runs, sortable and filterable (a search expression such as
`metrics.rmse < 50 and params.lgb.num_leaves = 31`), a column chooser; runs selected with
space are compared side by side (differences marked, metric curves overlaid); a training
in progress draws its curve live."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Input, Label

from mlopsd.client.wire import EventOut, RunOut
from tui.format import number, state_text, when
from tui.keys import EXPERIMENTS
from tui.screens.base import MlopsScreen
from tui.screens.column_chooser import ColumnChooser
from tui.screens.run_compare import RunCompareScreen
from tui.widgets.keyed_table import KeyedTable
from tui.widgets.plot import draw_lines, make_plot

FIXED = ["✓", "run", "experiment", "state", "started"]
DEFAULT_EXTRA = 4
"""Metric columns shown before the user chooses."""


class ExperimentsScreen(MlopsScreen):
    MODE = "experiments"
    TITLE = "Experiments"
    AUTO_FOCUS = "#runs-table"
    EVENTS = ("run", "model.registered")
    BINDINGS = [*MlopsScreen.BINDINGS, *EXPERIMENTS]

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[RunOut] = []
        self.expression = ""
        self.order_by = ""
        self.metric: str | None = None
        self.selected: set[str] = set()
        self.columns: list[str] | None = None
        """Chosen extra columns (metrics.x, params.y, tags.z); None: the default."""
        self.default_columns: list[str] = []
        """The default's metric columns so far: they stay while events reload the list
        (a column that came and went with each load rebuilt the whole table)."""
        self.live: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        self.live_model: dict[int, str] = {}
        self.rounds: dict[int, int] = {}
        self.ended: set[int] = set()

    def compose_body(self) -> ComposeResult:
        with Vertical(id="experiments-body"):
            yield Label("", id="runs-title", classes="section-title")
            yield Input(placeholder="filter: metrics.rmse < 50 and params.lgb.num_leaves = 31"
                        " (enter applies, escape leaves)", id="run-filter")
            yield KeyedTable(FIXED, id="runs-table")
            with Horizontal(id="live-pane"):
                yield make_plot("live-plot")

    def on_mount(self) -> None:
        self.query_one("#live-pane").display = False

    # --- loading -------------------------------------------------------------------------

    def fetch(self) -> list[RunOut]:
        return self.source.runs(filter=self.expression, order_by=self.order_by,
                                pages=self.pages, page_size=self.page)

    def show(self, runs: list[RunOut]) -> None:
        self.clear_problem()
        self.runs = runs
        extra = self.columns if self.columns is not None else self._default_columns()
        table = self.query_one("#runs-table", KeyedTable)
        table.set_columns([*FIXED, *extra])
        table.sync([(r.id, self._cells(r, extra)) for r in runs])
        more = self.more_hint(runs)
        self.set_label(
            "#runs-title", f"Runs: {len(runs)}{more}"
            + (f" | filter [b]{self.expression}[/b]" if self.expression else "")
            + (f" | sort [b]{self.order_by}[/b]" if self.order_by else "")
            + f" | selected {len(self.selected)} (space; c compares)")

    def _default_columns(self) -> list[str]:
        metrics: dict[str, None] = dict.fromkeys(self.default_columns)
        for run in self.runs:
            for key in run.metrics:
                if not key.startswith("train_"):
                    metrics.setdefault(f"metrics.{key}")
        self.default_columns = list(metrics)[:DEFAULT_EXTRA]
        return self.default_columns

    def _cells(self, run: RunOut, extra: list[str]) -> list[Any]:
        return [Text("✓", style="bold green") if run.id in self.selected else "",
                run.id[:8], run.experiment, state_text(run.state), when(run.started_at),
                *[number(field_value(run, c)) for c in extra]]

    # --- filter, sort, columns -----------------------------------------------------------

    def action_filter(self) -> None:
        self.query_one("#run-filter", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "run-filter":
            event.stop()
            self.expression = event.value.strip()
            self.default_columns = []  # another question: its own metrics
            self.query_one("#runs-table", KeyedTable).focus()
            self.reload()

    def action_cycle_order(self) -> None:
        keys = sorted({k for r in self.runs for k in r.metrics})
        choices = [""] + [f"metrics.{k} {d}" for k in keys for d in ("asc", "desc")]
        index = choices.index(self.order_by) if self.order_by in choices else 0
        self.order_by = choices[(index + 1) % len(choices)]
        self.reload()

    @on(DataTable.HeaderSelected, "#runs-table")
    def _sort_by_header(self, event: DataTable.HeaderSelected) -> None:
        """A click on a metric's (or started, state, experiment) header sorts by it; again
        reverses. The daemon sorts, so the order holds across every page."""
        column = str(event.column_key.value)
        name = {"started": "started_at", "state": "state", "experiment": "experiment"}.get(
            column, column if column.startswith("metrics.") else None)
        if name is None:
            self.notify(f"the daemon sorts by metrics, started, state or experiment, not "
                        f"{column}", severity="warning")
            return
        self.order_by = f"{name} {'desc' if self.order_by == f'{name} asc' else 'asc'}"
        self.reload()

    def action_cycle_metric(self) -> None:
        keys = sorted({k for r in self.runs for k in r.metrics})
        if keys:
            index = keys.index(self.metric) if self.metric in keys else -1
            self.metric = keys[(index + 1) % len(keys)]
            self.notify(f"compare curves of {self.metric}")

    def action_choose_columns(self) -> None:
        available = sorted({f"metrics.{k}" for r in self.runs for k in r.metrics}
                           | {f"params.{k}" for r in self.runs for k in r.params}
                           | {f"tags.{k}" for r in self.runs for k in r.tags})
        current = self.columns if self.columns is not None else self._default_columns()

        def chosen(columns: list[str] | None) -> None:
            if columns is not None:
                self.columns = columns
                self.show(self.runs)

        self.app.push_screen(ColumnChooser(available, current), chosen)

    # --- selection and comparison --------------------------------------------------------

    def action_toggle_select(self) -> None:
        table = self.query_one("#runs-table", KeyedTable)
        key = table.selected_key
        if key is None:
            return
        self.selected ^= {key}
        table.update_cell(key, "✓", Text("✓", style="bold green")
                          if key in self.selected else "")
        self.show(self.runs)

    def action_compare(self) -> None:
        chosen = [r for r in self.runs if r.id in self.selected]
        if len(chosen) < 2:
            key = self.query_one("#runs-table", KeyedTable).selected_key
            self.notify("select two runs or more with space, then c"
                        + ("" if key else " (no runs here)"), severity="warning")
            return
        metric = self.metric or _common_metric(chosen)
        self.app.push_screen(RunCompareScreen(chosen, metric))

    # --- a training in progress ----------------------------------------------------------

    def daemon_event(self, event: EventOut) -> None:
        if event.type == "train.iteration":
            self._live_point(event)
            return
        if event.type in ("job.succeeded", "job.failed", "job.cancelled"):
            job_id = event.data.get("job_id")
            if job_id in self.live:  # the last curve stays until the next training
                self.ended.add(job_id)
                self._draw_live(job_id)
        super().daemon_event(event)

    def _live_point(self, event: EventOut) -> None:
        job_id = event.data.get("job_id")
        iteration = event.data.get("iteration")
        if job_id is None or iteration is None:
            return
        self.live_model[job_id] = str(event.data.get("model", ""))
        curves = self.live[job_id]
        for part in ("train", "valid"):
            for metric, value in (event.data.get(part) or {}).items():
                if value is not None:
                    curves[f"{part} {metric}"].append(float(value))
        for other in [j for j in self.live if j != job_id and j in self.ended]:
            del self.live[other]
        self.rounds[job_id] = iteration
        self._draw_live(job_id)

    def _draw_live(self, job_id: int) -> None:
        self.query_one("#live-pane").display = True
        curves = self.live[job_id]
        series = [(name, list(range(1, len(ys) + 1)), ys) for name, ys in curves.items()]
        state = "ended" if job_id in self.ended else "training now"
        draw_lines(self.query_one("#live-plot"),
                   f"{state}: {self.live_model.get(job_id, '')} (job {job_id}), round "
                   f"{self.rounds.get(job_id)}", series, xlabel="round")


def field_value(run: RunOut, column: str) -> Any:
    kind, _, key = column.partition(".")
    return {"metrics": run.metrics, "params": run.params, "tags": run.tags}.get(
        kind, {}).get(key)


def _common_metric(runs: list[RunOut]) -> str | None:
    common = set.intersection(*(set(r.metrics) for r in runs)) if runs else set()
    for key in ("valid_rmse", "rmse", "valid_auc", "auc", "valid_binary_logloss"):
        if key in common:
            return key
    return sorted(common)[0] if common else None
