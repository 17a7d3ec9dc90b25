"""Data: datasets, their versions and per-column profiles, schema history, ingests, and the
quarantine with reasons; requeue a quarantined file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Label, TabbedContent, TabPane

from mlopsd.client.wire import DatasetOut, DataVersionOut, IngestOut
from tui.dialogs.confirm_action import ActionInput, ActionSpec
from tui.format import number, short, state_text, when
from tui.keys import DATA
from tui.loader import Loader
from tui.screens.base import MlopsScreen
from tui.widgets.filter_bar import FilterBar
from tui.widgets.keyed_table import KeyedTable

DATASET_COLUMNS = ["dataset", "versions", "rows", "schema v", "target", "last version"]
VERSION_COLUMNS = ["version", "rows", "columns", "schema v", "source", "committed"]
PROFILE_COLUMNS = ["column", "dtype", "nulls", "min", "max", "mean", "std", "distinct/top"]
INGEST_COLUMNS = ["id", "file", "outcome", "version", "size", "received", "issues"]
QUARANTINE_COLUMNS = ["id", "file", "received", "reason", "requeued"]
SCHEMA_COLUMNS = ["schema v", "from version", "schema hash", "columns"]


@dataclass
class DataData:
    datasets: list[DatasetOut]
    dataset: str | None
    versions: list[DataVersionOut]
    ingests: list[IngestOut]
    quarantine: list[IngestOut]


class DataScreen(MlopsScreen):
    MODE = "data"
    TITLE = "Data"
    AUTO_FOCUS = "#datasets-table"
    EVENTS = ("ingest", "dataset", "labels")
    BINDINGS = [*MlopsScreen.BINDINGS, *DATA]

    def __init__(self) -> None:
        super().__init__()
        self.dataset: str | None = None
        self.data: DataData | None = None
        self.profile_loader = Loader(self, self._fetch_profile, self._show_profile,
                                     self._failed, name="profile")
        self._profile_of: tuple[str, int] | None = None

    def compose_body(self) -> ComposeResult:
        with Vertical(id="data-body"):
            yield KeyedTable(DATASET_COLUMNS, id="datasets-table")
            with TabbedContent(id="data-tabs"):
                with TabPane("Versions", id="tab-versions"):
                    yield KeyedTable(VERSION_COLUMNS, id="data-versions-table")
                with TabPane("Profile", id="tab-profile"):
                    yield Label("", id="profile-title")
                    yield KeyedTable(PROFILE_COLUMNS, id="profile-table",
                                     classes="filterable")
                with TabPane("Ingests", id="tab-ingests"):
                    yield KeyedTable(INGEST_COLUMNS, id="ingests-table", classes="filterable")
                with TabPane("Quarantine", id="tab-quarantine"):
                    yield KeyedTable(QUARANTINE_COLUMNS, id="quarantine-table")
                with TabPane("Schema", id="tab-schema"):
                    yield KeyedTable(SCHEMA_COLUMNS, id="schema-table")
            yield FilterBar()

    def fetch(self) -> DataData:
        datasets = self.source.datasets()
        name = self.dataset if any(d.name == self.dataset for d in datasets) else (
            datasets[0].name if datasets else None)
        if name is None:
            return DataData(datasets, None, [], [], [])
        return DataData(datasets, name, self.source.data_versions(name),
                        self.source.ingests(name), self.source.quarantine(name))

    def show(self, data: DataData) -> None:
        self.clear_problem()
        self.data, self.dataset = data, data.dataset
        table = self.query_one("#datasets-table", KeyedTable)
        table.sync([(d.name, [Text(d.name, style="bold"), str(d.versions), number(d.rows),
                              str(d.schema_version), d.target or "-",
                              when(d.last_committed_at)]) for d in data.datasets])
        if data.dataset and table.selected_key != data.dataset:
            table.move_cursor(row=[d.name for d in data.datasets].index(data.dataset))
        self.query_one("#data-versions-table", KeyedTable).sync([
            (str(v.version), [f"{v.dataset}@{v.version}", number(v.n_rows), str(v.n_columns),
                              str(v.schema_version), v.source_name, when(v.committed_at)])
            for v in reversed(data.versions)])
        self.query_one("#ingests-table", KeyedTable).sync([
            (str(i.id), [str(i.id), i.source_name,
                         Text(i.outcome, style=state_text(_outcome(i.outcome)).style),
                         f"@{i.version}" if i.version else "-", number(i.size_bytes),
                         when(i.received_at), short(_issues(i.issues), 60)])
            for i in data.ingests])
        self.query_one("#quarantine-table", KeyedTable).sync([
            (str(q.id), [str(q.id), q.source_name, when(q.received_at),
                         short(_issues(q.issues) or str(q.schema_change or ""), 70),
                         when(q.requeued_at) if q.requeued_at else "-"])
            for q in data.quarantine])
        self._show_schema(data.versions)
        tabs = self.query_one("#data-tabs", TabbedContent)
        tabs.get_tab("tab-quarantine").label = f"Quarantine ({len(data.quarantine)})"
        self._profile_for_selected()

    def _show_schema(self, versions: list[DataVersionOut]) -> None:
        rows: list[tuple[str, list[Any]]] = []
        last: str | None = None
        for v in versions:
            if v.schema_hash != last:
                last = v.schema_hash
                rows.append((v.schema_hash, [str(v.schema_version), f"@{v.version}",
                                             v.schema_hash[:12], str(v.n_columns)]))
        self.query_one("#schema-table", KeyedTable).sync(rows)

    @on(DataTable.RowHighlighted, "#datasets-table")
    def _dataset_chosen(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value if event.row_key else None
        if key and key != self.dataset:
            self.dataset = key
            self.reload()

    @on(DataTable.RowHighlighted, "#data-versions-table")
    def _version_chosen(self, _event: DataTable.RowHighlighted) -> None:
        self._profile_for_selected()

    # --- the selected version's profile --------------------------------------------------

    def _profile_for_selected(self) -> None:
        key = self.query_one("#data-versions-table", KeyedTable).selected_key
        if not self.dataset or key is None:
            return
        wanted = (self.dataset, int(key))
        if wanted != self._profile_of:
            self._profile_of = wanted
            self.profile_loader.request()

    def _fetch_profile(self) -> DataVersionOut | None:
        if self._profile_of is None:
            return None
        return self.source.data_version(*self._profile_of)

    def _show_profile(self, version: DataVersionOut | None) -> None:
        if version is None:
            return
        columns = (version.profile or {}).get("columns", version.profile or {})
        rows = []
        for name, p in columns.items() if isinstance(columns, dict) else []:
            if not isinstance(p, dict):
                continue
            count = p.get("count") or 0
            nulls = p.get("nulls", p.get("null_count"))
            share = f"{nulls / count:.1%}" if count and nulls is not None else number(nulls)
            top = p.get("top") or p.get("categories")
            top_text = (", ".join(f"{k} {v}" for k, v in list(top.items())[:3])
                        if isinstance(top, dict) else
                        number(p.get("distinct", p.get("n_unique"))))
            rows.append((name, [name, str(p.get("dtype", "")), share, number(p.get("min")),
                                number(p.get("max")), number(p.get("mean")),
                                number(p.get("std")), short(top_text, 40)]))
        self.query_one("#profile-table", KeyedTable).sync(rows)
        self.set_label("#profile-title",
            f"Profile of {version.dataset}@{version.version}: {number(version.n_rows)} rows, "
            f"{version.n_columns} columns, from {version.source_name}")

    # --- requeue -------------------------------------------------------------------------

    def action_requeue(self) -> None:
        if self.data is None:
            return
        key = self.query_one("#quarantine-table", KeyedTable).selected_key
        item = next((q for q in self.data.quarantine if str(q.id) == key), None)
        if item is None:
            self.query_one("#data-tabs", TabbedContent).active = "tab-quarantine"
            self.notify("choose a quarantined file (Quarantine tab), then r", severity="warning")
            return
        name = (item.quarantine_path or item.source_name).rsplit("/", 1)[-1]
        spec = ActionSpec(f"Requeue {item.source_name}", [
            f"{name} moves from quarantine back into inbox/{item.dataset}/",
            "it is ingested again with the dataset's current schema and rules",
            f"why it was rejected: {short(_issues(item.issues), 70)}"],
            confirm="Requeue", reason_label=None)

        def requeue(_given: ActionInput) -> str:
            done = self.source.requeue(name)
            return f"{item.source_name} requeued into {done.path}"

        self.app.ask_and_run(spec, f"requeue {item.source_name}", requeue)


def _outcome(outcome: str) -> str:
    return {"accepted": "succeeded", "rejected": "failed"}.get(outcome, outcome)


def _issues(issues: Any) -> str:
    if not issues:
        return ""
    if isinstance(issues, list):
        return "; ".join(str(i.get("message", i)) if isinstance(i, dict) else str(i)
                         for i in issues)
    return str(issues)
