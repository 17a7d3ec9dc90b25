"""Alerts: open, acknowledged, resolved; filtered by state, model and severity;
acknowledge or resolve the selected one with a note (recorded in the audit log)."""

from __future__ import annotations

import json

from rich.markup import escape
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import DataTable, Label, Static

from mlopsd.client.wire import AlertOut
from tui.dialogs.confirm_action import ActionInput, ActionSpec
from tui.format import short, state_text, when
from tui.keys import ALERTS
from tui.screens.base import MlopsScreen
from tui.widgets.filter_bar import FilterBar
from tui.widgets.keyed_table import KeyedTable

COLUMNS = ["id", "state", "severity", "rule", "subject", "count", "last seen", "message"]
STATES = ("open", "acknowledged", "resolved", "all")
SEVERITIES = ("all", "critical", "warning", "info")
SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}


class AlertsScreen(MlopsScreen):
    MODE = "alerts"
    TITLE = "Alerts"
    AUTO_FOCUS = "#alerts-table"
    EVENTS = ("alert",)
    BINDINGS = [*MlopsScreen.BINDINGS, *ALERTS]

    def __init__(self) -> None:
        super().__init__()
        self.state = "open"
        self.severity = "all"
        self.model = "all"
        self.alerts: list[AlertOut] = []

    def compose_body(self) -> ComposeResult:
        with Vertical(id="alerts-body"):
            yield Label("", id="alerts-title", classes="section-title")
            yield KeyedTable(COLUMNS, id="alerts-table", classes="filterable")
            yield FilterBar()
            with VerticalScroll(id="alert-detail-pane"):
                yield Static("", id="alert-detail")

    def fetch(self) -> list[AlertOut]:
        return self.source.alerts(state=None if self.state == "all" else self.state,
                                  pages=self.pages, page_size=self.page)

    def show(self, alerts: list[AlertOut]) -> None:
        self.clear_problem()
        self.alerts = alerts
        shown = [a for a in alerts if self._wanted(a)]
        self.query_one("#alerts-table", KeyedTable).sync([
            (str(a.id), [str(a.id), state_text(a.state),
                         Text(a.severity, style=SEVERITY_STYLE.get(a.severity, "")),
                         a.rule, a.subject, str(a.count), when(a.last_seen_at),
                         short(a.message, 70)]) for a in shown])
        more = self.more_hint(alerts, "newest")
        self.set_label("#alerts-title",
            f"Alerts: {len(shown)} shown{more} | state [b]{self.state}[/b] (s) | severity "
            f"[b]{self.severity}[/b] (g) | model [b]{escape(self.model)}[/b] (m)")
        self._show_detail()

    def _wanted(self, alert: AlertOut) -> bool:
        if self.severity != "all" and alert.severity != self.severity:
            return False
        return self.model == "all" or alert.subject == f"model:{self.model}"

    def selected(self) -> AlertOut | None:
        key = self.query_one("#alerts-table", KeyedTable).selected_key
        return next((a for a in self.alerts if str(a.id) == key), None)

    @on(DataTable.RowHighlighted, "#alerts-table")
    def _chosen(self, _event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        alert = self.selected()
        detail = self.query_one("#alert-detail", Static)
        if alert is None:
            detail.update("no alert here" if not self.alerts else "")
            return
        detail.update(
            f"[b]#{alert.id} {escape(alert.rule)}[/b] on {escape(alert.subject)}: "
            f"{escape(alert.message)}\nopened {when(alert.opened_at)}, seen {alert.count} times, "
            f"last {when(alert.last_seen_at)}; {alert.state}"
            + (f"\nnote: {escape(alert.note)}" if alert.note else "")
            + "\n" + escape(json.dumps(alert.detail, indent=1, default=str)[:2000]))

    # --- filters -------------------------------------------------------------------------

    def action_cycle_state(self) -> None:
        self.state = STATES[(STATES.index(self.state) + 1) % len(STATES)]
        self.reload()

    def action_cycle_severity(self) -> None:
        self.severity = SEVERITIES[(SEVERITIES.index(self.severity) + 1) % len(SEVERITIES)]
        self.show(self.alerts)

    def action_cycle_model(self) -> None:
        models = ["all", *sorted({a.subject.split(":", 1)[1] for a in self.alerts
                                  if a.subject.startswith("model:")})]
        index = models.index(self.model) if self.model in models else 0
        self.model = models[(index + 1) % len(models)]
        self.show(self.alerts)

    # --- actions -------------------------------------------------------------------------

    def action_ack(self) -> None:
        self._change("acknowledged")

    def action_resolve(self) -> None:
        self._change("resolved")

    def _change(self, state: str) -> None:
        alert = self.selected()
        if alert is None:
            self.notify("no alert selected", severity="warning")
            return
        if alert.state == state or alert.state == "resolved":
            self.notify(f"alert {alert.id} is {alert.state} already", severity="warning")
            return
        verb = "Acknowledge" if state == "acknowledged" else "Resolve"
        spec = ActionSpec(f"{verb} alert {alert.id}", [
            f"{alert.rule} on {alert.subject}: {short(alert.message, 60)}",
            f"its state moves from {alert.state} to {state}",
            "the note is kept with the alert and in the audit log"],
            confirm=verb, reason_label="Note (kept with the alert)")

        def change(given: ActionInput) -> str:
            changed = self.source.set_alert_state(alert.id, state, given.reason)
            return f"alert {changed.id} {changed.state}"

        self.app.ask_and_run(spec, f"alert {alert.id}", change)
