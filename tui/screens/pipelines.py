"""Pipelines and deployments: each retrain's record step by step; per model, the history of
swaps, canaries and rollbacks with who and why; one key to roll back."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Label, Static

from mlopsd.client.wire import AliasMoveOut, DeploymentOut, ModelOut, PipelineOut
from tui.format import short, state_text, when
from tui.keys import PIPELINES
from tui.model_actions import ModelAction, rollback_target
from tui.pipeline_record import record_lines
from tui.screens.base import MlopsScreen
from tui.widgets.filter_bar import FilterBar
from tui.widgets.keyed_table import KeyedTable

PIPELINE_COLUMNS = ["id", "model", "state", "trigger", "challenger", "champion", "started"]
HISTORY_COLUMNS = ["when", "what", "from", "to", "state", "who", "why"]


@dataclass
class PipelinesData:
    pipelines: list[PipelineOut]
    models: list[ModelOut]
    model: str | None
    deployments: list[DeploymentOut]
    moves: list[AliasMoveOut]


class PipelinesScreen(MlopsScreen):
    MODE = "pipelines"
    TITLE = "Pipelines and deployments"
    AUTO_FOCUS = "#pipelines-table"
    EVENTS = ("pipeline", "deploy", "model.alias_moved", "model.registered")
    BINDINGS = [*MlopsScreen.BINDINGS, *PIPELINES]

    def __init__(self) -> None:
        super().__init__()
        self.data: PipelinesData | None = None
        self.model: str | None = None

    def compose_body(self) -> ComposeResult:
        with Vertical(id="pipelines-body"):
            with Horizontal(id="pipelines-upper"):
                with Vertical(id="pipelines-pane"):
                    yield Label("Pipelines", classes="section-title")
                    yield KeyedTable(PIPELINE_COLUMNS, id="pipelines-table",
                                     classes="filterable")
                    yield FilterBar()
                with VerticalScroll(id="pipeline-record-pane"):
                    yield Static("", id="pipeline-record")
            yield Label("Deployments", id="deployments-title", classes="section-title")
            yield KeyedTable(HISTORY_COLUMNS, id="deployments-table")

    def fetch(self) -> PipelinesData:
        pipelines = self.source.pipelines()
        models = self.source.models()
        names = [m.name for m in models]
        model = self.model if self.model in names else (
            pipelines[0].model if pipelines else (names[0] if names else None))
        if model is None:
            return PipelinesData(pipelines, models, None, [], [])
        return PipelinesData(pipelines, models, model, self.source.deployments(model),
                             self.source.alias_history(model))

    def show(self, data: PipelinesData) -> None:
        self.clear_problem()
        self.data, self.model = data, data.model
        self.query_one("#pipelines-table", KeyedTable).sync([
            (str(p.id), [str(p.id), p.model, state_text(p.state), p.trigger,
                         p.challenger or "-", p.champion or "-", when(p.created_at)])
            for p in data.pipelines])
        rows = []
        for d in data.deployments:
            rows.append((f"d{d.id}", [when(d.started_at), f"deploy {d.strategy}",
                                      d.from_version or "-", d.to_version,
                                      state_text(d.state), d.actor, short(d.reason, 50)]))
        for m in data.moves:
            if m.alias == "production" and m.kind == "rollback":
                rows.append((f"m{m.id}", [when(m.at), Text("rollback", style="bold red"),
                                          m.from_version or "-", m.to_version or "-",
                                          "done", m.actor, short(m.reason, 50)]))
        rows.sort(key=lambda r: r[1][0], reverse=True)
        self.query_one("#deployments-table", KeyedTable).sync(rows)
        back = rollback_target(data.moves)
        self.set_label("#deployments-title",
            f"Deployments of {data.model or '-'}: swaps, canaries, shadows, rollbacks"
            + (f"  (r: roll back to {back})" if back else ""))
        self._show_record()

    def selected_pipeline(self) -> PipelineOut | None:
        if self.data is None:
            return None
        key = self.query_one("#pipelines-table", KeyedTable).selected_key
        return next((p for p in self.data.pipelines if str(p.id) == key), None)

    @on(DataTable.RowHighlighted, "#pipelines-table")
    def _chosen(self, _event: DataTable.RowHighlighted) -> None:
        pipeline = self.selected_pipeline()
        if pipeline is not None and pipeline.model != self.model:
            self.model = pipeline.model
            self.reload()
        self._show_record()

    def _show_record(self) -> None:
        pipeline = self.selected_pipeline()
        self.query_one("#pipeline-record", Static).update(
            "\n".join(record_lines(pipeline)) if pipeline else
            "no retraining pipeline yet (mlops retrain MODEL, or a policy's trigger)")

    def action_rollback(self) -> None:
        data = self.data
        if data is None or data.model is None:
            self.notify("no model", severity="warning")
            return
        back = rollback_target(data.moves)
        if back is None:
            self.notify(f"{data.model}: production has no earlier version to go back to",
                        severity="warning")
            return
        live = next((m.aliases.get("production") for m in data.models
                     if m.name == data.model), None)
        self.app.start_action(ModelAction("rollback", data.model, back, live))
