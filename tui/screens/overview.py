"""Overview: every model at a glance (production, canary or shadow, health with sparklines,
open alerts, last drift verdict, next scheduled retrain) and the running jobs."""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label

from mlopsd.client import ApiError
from mlopsd.client.wire import EventOut, ServingStatsOut, VersionStatsOut
from tui.format import number, short, sparkline, state_text, verdict, when
from tui.screens.base import MlopsScreen
from tui.widgets.filter_bar import FilterBar
from tui.widgets.keyed_table import KeyedTable

POINT_S = 5.0
"""One sparkline point per this many seconds: the sum of the daemon's `serving.stats`
events (one per busy second) over them; the numbers in the table are re-read as often."""
HISTORY = 24

# What needs a look first (alerts, drift, errors) before the numbers: readable at 80 columns.
MODEL_COLUMNS = ["model", "production", "canary/shadow", "alerts", "drift", "err %",
                 "p95 ms", "requests", "traffic", "errors", "p95 trend", "next retrain"]
JOB_COLUMNS = ["job", "kind", "state", "started", "what"]


@dataclass
class ModelRow:
    name: str
    production: str | None
    rollout: str
    stats: VersionStatsOut | None
    open_alerts: int
    drift: bool | None
    drift_status: str | None
    next_retrain: str


@dataclass
class OverviewData:
    models: list[ModelRow]
    running: list[Any]
    open_alerts: int
    schedules: int = 0
    unplaced_alerts: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    seeds: dict[str, list[tuple[float, float | None]]] = field(default_factory=dict)
    """Per model seen for the first time, its sparklines' past (requests, p95 per point)."""


class OverviewScreen(MlopsScreen):
    MODE = "overview"
    TITLE = "Overview"
    AUTO_FOCUS = "#overview-models"
    EVENTS = ("model", "deploy", "alert", "drift", "job", "pipeline", "config", "daemon")

    def __init__(self) -> None:
        super().__init__()
        self.traffic: dict[str, deque[float | None]] = defaultdict(
            lambda: deque(maxlen=HISTORY))
        self.latency: dict[str, deque[float | None]] = defaultdict(
            lambda: deque(maxlen=HISTORY))
        self.errors: dict[str, deque[float | None]] = defaultdict(
            lambda: deque(maxlen=HISTORY))
        self._point: dict[str, list[float]] = {}
        """Per model, this point so far: requests, errors, the worst p95 (ms)."""
        self._seeded: set[str] = set()
        self.data: OverviewData | None = None

    def compose_body(self) -> ComposeResult:
        with Vertical(id="overview-body"):
            yield Label("Models", classes="section-title", id="models-title")
            yield KeyedTable(MODEL_COLUMNS, id="overview-models", classes="filterable")
            yield FilterBar()
            yield Label("Running jobs", classes="section-title", id="jobs-title")
            yield KeyedTable(JOB_COLUMNS, id="overview-jobs")

    def on_mount(self) -> None:
        self.set_interval(POINT_S, self._next_point)

    def daemon_event(self, event: EventOut) -> None:
        if event.type == "serving.stats":  # numbers, not a change: no reload
            live = {m.name: m.production for m in self.data.models} if self.data else {}
            for v in event.data.get("versions", []):
                if live.get(v.get("model")) != v.get("version"):
                    continue  # a canary's or shadow's numbers are theirs, not production's
                point = self._point.setdefault(v["model"], [0.0, 0.0, 0.0])
                point[0] += v.get("requests") or 0
                point[1] += v.get("errors") or 0
                point[2] = max(point[2], v.get("p95_ms") or 0.0)
            return
        super().daemon_event(event)

    def _next_point(self) -> None:
        """Close this point of every model's sparklines (a quiet stretch is a 0) and draw
        them; the table's numbers are read again."""
        if self._away:
            # Not shown, it hears no serving numbers, and a load would take the UI thread
            # from the screen in use: its sparklines are read again from the daemon's
            # history once it is shown.
            self._seeded.clear()
            self._point.clear()
            return
        for m in (self.data.models if self.data else []):
            if not m.production:
                continue
            requests, errors, p95 = self._point.pop(m.name, [0.0, 0.0, 0.0])
            self.traffic[m.name].append(requests)
            self.errors[m.name].append(errors)
            self.latency[m.name].append(p95 if requests else None)
        self.reload()

    def _seed(self, name: str, live: str) -> list[tuple[float, float | None]]:
        """The sparklines' past (requests, p95 per point), read once per model from the
        daemon's serving numbers over the last HISTORY points (its prediction log), so they
        do not start blank."""
        try:
            history: ServingStatsOut = self.source.serving_stats(
                name, since=datetime.now(UTC) - timedelta(seconds=POINT_S * HISTORY),
                bucket_s=POINT_S)
        except ApiError:
            return []
        points: list[tuple[float, float | None]] = [(0.0, None)] * HISTORY
        for b in history.buckets:
            at = int((b.start - history.since).total_seconds() // POINT_S)
            if b.version == live and 0 <= at < HISTORY:
                points[at] = (float(b.requests), b.p95_ms)
        return points

    def fetch(self) -> OverviewData:
        source = self.source
        serving = source.serving()
        alerts = source.alerts(state="open")
        schedules = source.schedules()
        running = source.jobs(state="running")
        rows = []
        seeds: dict[str, list[tuple[float, float | None]]] = {}
        for model in source.models():
            live = model.aliases.get("production")
            rollout = ""
            if live:
                try:
                    status = source.deploy_status(model.name)
                except ApiError:
                    status = None
                if status is not None and status.canary is not None:
                    rollout = (f"canary {status.canary.version} "
                               f"{number(status.canary.percent)}%")
                elif status is not None and status.shadow is not None:
                    rollout = f"shadow {status.shadow.version}"
            reports = source.drift_reports(model=model.name, limit=1)
            report = reports[0] if reports else None
            next_runs = sorted(s.next_run_at for s in schedules
                               if s.model == model.name and s.next_run_at and not s.dry_run)
            if live and model.name not in self._seeded:
                seeds[model.name] = self._seed(model.name, live)
            rows.append(ModelRow(
                model.name, live, rollout,
                serving.stats.get(f"{model.name}:{live}") if live else None,
                sum(1 for a in alerts if a.subject == f"model:{model.name}"),
                report.dataset_drift if report else None,
                report.status if report else None,
                when(next_runs[0]) if next_runs else "-"))
        placed = sum(r.open_alerts for r in rows)
        return OverviewData(rows, running, len(alerts), len(schedules),
                            unplaced_alerts=len(alerts) - placed, seeds=seeds)

    def show(self, data: OverviewData) -> None:
        self.clear_problem()
        table = self.query_one("#overview-models", KeyedTable)
        self.data = data
        for name, points in data.seeds.items():
            if name in self._seeded:
                continue
            self._seeded.add(name)
            self.traffic[name].extend(requests for requests, _ in points)
            self.latency[name].extend(p95 for _, p95 in points)
            self.errors[name].extend(None for _ in points)  # the log keeps answers only: unknown
        rows = []
        for m in data.models:
            stats = m.stats
            requests = stats.requests if stats is not None else None
            rate = stats.error_rate if stats is not None else None
            drift = (Text("-", style="dim") if m.drift_status is None and m.drift is None
                     else verdict(m.drift))
            rows.append((m.name, [
                Text(m.name, style="bold"), m.production or Text("none", style="dim"),
                m.rollout or "-",
                Text(str(m.open_alerts), style="bold red" if m.open_alerts else ""),
                drift, "-" if rate is None else f"{rate:.1%}",
                number(stats.p95_ms if stats is not None else None, 3), number(requests),
                sparkline(self.traffic[m.name]), sparkline(self.errors[m.name]),
                sparkline(self.latency[m.name]),
                m.next_retrain]))
        table.sync(rows)
        self.set_label("#models-title",
            f"Models ({len(data.models)}); open alerts: {data.open_alerts}"
            + (f" ({data.unplaced_alerts} about data or the daemon)"
               if data.unplaced_alerts else ""))
        jobs = self.query_one("#overview-jobs", KeyedTable)
        jobs.sync([(str(j.id), [str(j.id), j.kind, state_text(j.state), when(j.started_at),
                                short(_job_subject(j.params), 50)]) for j in data.running])
        self.set_label("#jobs-title", f"Running jobs ({len(data.running)})")


def _job_subject(params: dict[str, Any]) -> str:
    for key in ("model", "dataset", "selector"):
        if key in params:
            return f"{key} {params[key]}"
    return ""
