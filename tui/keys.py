"""Key bindings as data: each has an id, so `[tui.keys]` in mlops.toml can remap it
(e.g. `"screen.models" = "f2"`). Screens take their own lists from here too."""

from __future__ import annotations

from textual.binding import Binding

SCREENS: list[tuple[str, str, str]] = [
    # (mode name, key, title)
    ("overview", "1", "Overview"),
    ("models", "2", "Models"),
    ("experiments", "3", "Experiments"),
    ("data", "4", "Data"),
    ("drift", "5", "Drift"),
    ("alerts", "6", "Alerts"),
    ("jobs", "7", "Jobs"),
    ("pipelines", "8", "Pipelines"),
]

APP: list[Binding] = [
    *[Binding(key, f"app.switch_mode('{mode}')", title, show=False, id=f"screen.{mode}")
      for mode, key, title in SCREENS],
    Binding("question_mark", "app.help", "Help", show=False, id="app.help"),
    Binding("ctrl+t", "app.toggle_dark", "Light/dark", show=False, id="app.theme"),
    Binding("q", "app.quit", "Quit", id="app.quit"),
]

HELP = Binding("question_mark", "app.help", "Help", id="screen.help")
"""First in every screen's footer, so it shows however narrow the terminal."""
FILTER = Binding("slash", "filter", "Filter", id="table.filter")
REFRESH = Binding("f5", "reload", "Refresh", show=False, id="screen.refresh")
MORE = Binding("right_square_bracket", "more", "More", show=False, id="table.more")
"""The next page of a long list (runs, alerts, jobs)."""

MODELS: list[Binding] = [
    Binding("p", "promote", "Promote", id="models.promote"),
    Binding("c", "canary", "Canary", id="models.canary"),
    Binding("s", "shadow", "Shadow", id="models.shadow"),
    Binding("r", "rollback", "Roll back", id="models.rollback"),
    Binding("a", "approve", "Approve", id="models.approve"),
    Binding("x", "reject", "Reject", id="models.reject"),
    Binding("d", "archive", "Archive", id="models.archive"),
    Binding("e", "end_deploy", "End canary", show=False, id="models.end_deploy"),
    Binding("t", "retrain", "Retrain", show=False, id="models.retrain"),
]

ALERTS: list[Binding] = [
    Binding("a", "ack", "Acknowledge", id="alerts.ack"),
    Binding("v", "resolve", "Resolve", id="alerts.resolve"),
    Binding("s", "cycle_state", "State", id="alerts.state"),
    Binding("g", "cycle_severity", "Severity", id="alerts.severity"),
    Binding("m", "cycle_model", "Model", id="alerts.model"),
]

JOBS: list[Binding] = [
    Binding("x", "cancel_job", "Cancel job", id="jobs.cancel"),
    Binding("n", "run_now", "Run now", id="jobs.run_now"),
    Binding("f", "toggle_follow", "Follow log", id="jobs.follow"),
]

DATA: list[Binding] = [
    Binding("r", "requeue", "Requeue", id="data.requeue"),
]

PIPELINES: list[Binding] = [
    Binding("r", "rollback", "Roll back", id="pipelines.rollback"),
]

EXPERIMENTS: list[Binding] = [
    Binding("space", "toggle_select", "Select", id="experiments.select"),
    Binding("c", "compare", "Compare", id="experiments.compare"),
    Binding("k", "choose_columns", "Columns", id="experiments.columns"),
    Binding("o", "cycle_order", "Sort", id="experiments.sort"),
    Binding("m", "cycle_metric", "Metric", id="experiments.metric"),
]

DRIFT: list[Binding] = [
    Binding("n", "check_now", "Check now", show=False, id="drift.check"),
]
