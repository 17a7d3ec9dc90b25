"""Models: each model's versions (semver, aliases, metrics, approval state) and the
selected version's lineage (run, data versions, code version, config hash). Actions:
promote, approve or reject, canary or shadow, roll back, archive; each through a dialog
that says what will change and asks for the reason."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.markup import escape
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Label, Static

from mlopsd.client import ApiError
from mlopsd.client.wire import DeployStatusOut, ModelOut, ModelVersionOut, PipelineOut
from tui.format import number, short, state_text, when
from tui.keys import MODELS
from tui.loader import Loader
from tui.model_actions import ModelAction, rollback_target
from tui.screens.base import MlopsScreen
from tui.widgets.filter_bar import FilterBar
from tui.widgets.keyed_table import KeyedTable

MODEL_COLUMNS = ["model", "task", "production", "latest", "aliases"]
VERSION_COLUMNS = ["version", "aliases", "created", "metric", "approval", "why this number"]


@dataclass
class ModelsData:
    models: list[ModelOut]
    model: str | None
    versions: list[ModelVersionOut]
    pipelines: list[PipelineOut]
    deploy: DeployStatusOut | None
    rollback_to: str | None


class ModelsScreen(MlopsScreen):
    MODE = "models"
    TITLE = "Models"
    AUTO_FOCUS = "#versions-table"
    EVENTS = ("model", "deploy", "pipeline", "run.ended", "config")
    BINDINGS = [*MlopsScreen.BINDINGS, *MODELS]

    def __init__(self) -> None:
        super().__init__()
        self.model: str | None = None
        self.data: ModelsData | None = None
        self.lineage = Loader(self, self._fetch_lineage, self._show_lineage,
                              self._failed, name="lineage")
        self._lineage_of: str | None = None

    def compose_body(self) -> ComposeResult:
        with Vertical(id="models-body"):
            yield KeyedTable(MODEL_COLUMNS, id="models-table")
            with Horizontal(id="versions-row"):
                with Vertical(id="versions-pane"):
                    yield Label("Versions", id="versions-title", classes="section-title")
                    yield KeyedTable(VERSION_COLUMNS, id="versions-table",
                                     classes="filterable")
                    yield FilterBar()
                with VerticalScroll(id="version-detail-pane"):
                    yield Static("", id="version-detail")

    # --- loading -------------------------------------------------------------------------

    def fetch(self) -> ModelsData:
        source = self.source
        models = source.models()
        name = self.model if any(m.name == self.model for m in models) else (
            models[0].name if models else None)
        if name is None:
            return ModelsData(models, None, [], [], None, None)
        versions = source.model_versions(name)
        pipelines = source.pipelines(model=name)
        live = next((m.aliases.get("production") for m in models if m.name == name), None)
        deploy: DeployStatusOut | None = None
        if live:
            try:
                deploy = source.deploy_status(name)
            except ApiError:
                deploy = None
        return ModelsData(models, name, versions, pipelines, deploy,
                          rollback_target(source.alias_history(name)))

    def show(self, data: ModelsData) -> None:
        self.clear_problem()
        self.data = data
        self.model = data.model
        table = self.query_one("#models-table", KeyedTable)
        table.sync([(m.name, [Text(m.name, style="bold"), m.task,
                              m.aliases.get("production") or Text("none", style="dim"),
                              m.latest or "-",
                              ", ".join(f"{a}={v}" for a, v in sorted(m.aliases.items()))])
                    for m in data.models])
        if data.model is not None and table.selected_key != data.model:
            keys = [m.name for m in data.models]
            table.move_cursor(row=keys.index(data.model))
        model = next((m for m in data.models if m.name == data.model), None)
        aliases: dict[str, list[str]] = {}
        for alias, version in (model.aliases.items() if model else []):
            aliases.setdefault(version, []).append(alias)
        approval = _approval_by_version(data.pipelines)
        versions = self.query_one("#versions-table", KeyedTable)
        rows = []
        for v in reversed(data.versions):  # newest first
            marks = ", ".join(sorted(aliases.get(v.version, [])))
            canary = data.deploy.canary if data.deploy else None
            shadow = data.deploy.shadow if data.deploy else None
            if canary is not None and canary.version == v.version:
                marks = ", ".join(filter(None, [marks, "canary"]))
            if shadow is not None and shadow.version == v.version:
                marks = ", ".join(filter(None, [marks, "shadow"]))
            version = Text(v.version, style="dim strike" if v.archived else "bold")
            rows.append((v.version, [version, marks or "-", when(v.created_at),
                                     _headline_metric(v.metrics),
                                     approval.get(v.version, Text("-", style="dim")),
                                     short(v.bump_reason, 40)]))
        versions.sync(rows)
        title = f"Versions of {data.model}" if data.model else "No model registered yet"
        if data.rollback_to:
            title += f"  (r: roll back to {data.rollback_to})"
        self.set_label("#versions-title", title)
        self._show_detail()

    @on(DataTable.RowHighlighted, "#models-table")
    def _model_chosen(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value if event.row_key else None
        if key and key != self.model:
            self.model = key
            self.reload()

    @on(DataTable.RowHighlighted, "#versions-table")
    def _version_chosen(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    # --- the selected version ------------------------------------------------------------

    def selected_version(self) -> ModelVersionOut | None:
        if self.data is None:
            return None
        key = self.query_one("#versions-table", KeyedTable).selected_key
        return next((v for v in self.data.versions if v.version == key), None)

    def _show_detail(self) -> None:
        version = self.selected_version()
        detail = self.query_one("#version-detail", Static)
        if version is None:
            detail.update("")
            return
        metrics = "\n".join(f"  {k:<12} {number(v)}" for k, v in
                            sorted((version.metrics or {}).items()))
        detail.update(
            f"[b]{escape(version.model)} {escape(version.version)}[/b]"
            + (" [red](archived)[/red]" if version.archived else "")
            + f"\n{escape(version.bump_reason or '')}\n\n[b]metrics[/b] (its holdout)\n"
            + escape(metrics)
            + f"\n\n[b]lineage[/b]\n  run          {escape(version.run_id or '-')}"
            + f"\n  config hash  {escape((version.config_hash or '-')[:16])}"
            + f"\n  data key     {escape((version.data_key or '-')[:16])}"
            + f"\n  artifact     {escape(version.artifact_sha[:16])}"
            + "\n" + self._lineage_text(version))
        if version.run_id and version.run_id != self._lineage_of:
            self._lineage_of = version.run_id
            self._lineage_cache = None
            self.lineage.request()

    _lineage_cache: tuple[str, Any] | None = None

    def _lineage_text(self, version: ModelVersionOut) -> str:
        cache = self._lineage_cache
        if not cache or cache[0] != version.run_id:
            return "  (loading the run's lineage…)" if version.run_id else ""
        lineage = cache[1] or {}
        data = ", ".join(f"{d.get('dataset')}@{d.get('version')}"
                         for d in lineage.get("data") or [])
        code = lineage.get("code") or {}
        libs = ", ".join(f"{k} {v}" for k, v in (lineage.get("versions") or {}).items()
                         if k != "python")
        return escape(
            f"  data         {data or lineage.get('selector', {}).get('resolved', '-')}\n"
            f"  code         {code.get('git_commit') or 'no git commit'}"
            f"{' (dirty)' if code.get('dirty') else ''}\n"
            f"  python       {lineage.get('python', '-')}\n"
            f"  libraries    {libs or '-'}\n"
            f"  seed         {lineage.get('seed', '-')}")

    def _fetch_lineage(self) -> tuple[str, Any]:
        run_id = self._lineage_of or ""
        return run_id, self.source.run(run_id).lineage

    def _show_lineage(self, result: tuple[str, Any]) -> None:
        self._lineage_cache = result
        self._show_detail()

    # --- actions -------------------------------------------------------------------------

    def _action(self, kind: str) -> None:
        data, version = self.data, self.selected_version()
        if data is None or data.model is None:
            self.notify("no model selected", severity="warning")
            return
        live = next((m.aliases.get("production") for m in data.models
                     if m.name == data.model), None)
        if kind == "rollback":
            if not data.rollback_to:
                self.notify(f"{data.model}: production has no earlier version to go back to",
                            severity="warning")
                return
            self.app.start_action(ModelAction("rollback", data.model, data.rollback_to, live))
            return
        if kind in ("end_deploy", "retrain"):
            if kind == "end_deploy" and not (data.deploy and (data.deploy.canary
                                                               or data.deploy.shadow)):
                self.notify(f"{data.model} has no canary or shadow", severity="warning")
                return
            self.app.start_action(ModelAction(kind, data.model, None, live))
            return
        if kind in ("approve", "reject"):
            waiting = [p for p in data.pipelines if p.state == "awaiting_approval"]
            chosen = next((p for p in waiting if version and p.challenger == version.version),
                          waiting[0] if waiting else None)
            if chosen is None:
                self.notify(f"{data.model}: no pipeline is awaiting approval",
                            severity="warning")
                return
            self.app.start_action(ModelAction(kind, data.model, chosen.challenger, live,
                                              pipeline_id=chosen.id))
            return
        if version is None:
            self.notify("no version selected", severity="warning")
            return
        if kind in ("promote", "canary", "shadow") and version.version == live:
            self.notify(f"{data.model} {version.version} is production already",
                        severity="warning")
            return
        if kind in ("canary", "shadow") and not live:
            self.notify(f"{data.model} has no production version to run beside; promote "
                        "one first", severity="warning")
            return
        self.app.start_action(ModelAction(kind, data.model, version.version, live))

    def action_promote(self) -> None:
        self._action("promote")

    def action_canary(self) -> None:
        self._action("canary")

    def action_shadow(self) -> None:
        self._action("shadow")

    def action_rollback(self) -> None:
        self._action("rollback")

    def action_approve(self) -> None:
        self._action("approve")

    def action_reject(self) -> None:
        self._action("reject")

    def action_archive(self) -> None:
        self._action("archive")

    def action_end_deploy(self) -> None:
        self._action("end_deploy")

    def action_retrain(self) -> None:
        self._action("retrain")


def _headline_metric(metrics: dict[str, Any] | None) -> str:
    if not metrics:
        return "-"
    for key in ("rmse", "auc", "accuracy", "log_loss", "mae"):
        if key in metrics:
            return f"{key} {number(metrics[key])}"
    key = sorted(metrics)[0]
    return f"{key} {number(metrics[key])}"


def _approval_by_version(pipelines: list[PipelineOut]) -> dict[str, Text]:
    """Per challenger version, what its newest pipeline decided (or awaits)."""
    found: dict[str, Text] = {}
    for p in sorted(pipelines, key=lambda p: p.id):
        if not p.challenger:
            continue
        decision = next((s for s in p.steps if s.get("step") == "approval"), None)
        if p.state == "awaiting_approval":
            text = Text(f"awaiting #{p.id}", style="bold magenta")
        elif decision and decision.get("state") == "skipped":
            text = state_text(p.state)
        elif decision:
            by = (decision.get("detail") or {}).get("decided_by") or \
                (decision.get("detail") or {}).get("actor")
            verdict = (decision.get("detail") or {}).get("decision") or p.state
            text = Text(f"{verdict}" + (f" by {by}" if by else ""))
        else:
            text = state_text(p.state)
        found[p.challenger] = text
    return found
