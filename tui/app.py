"""The app: the screens (each one key away, as Textual modes so each keeps its own state),
the daemon connection followed by one long-lived worker, the actions with their dialogs,
and the command palette."""

from __future__ import annotations

import gc
from collections.abc import Callable
from pathlib import Path

from textual.app import App
from textual.reactive import reactive
from textual.worker import get_current_worker

from mlopsd.client.wire import EventOut
from mlopsd.home import Home
from tui import event_follower
from tui.dialogs.confirm_action import ActionInput, ActionSpec, ConfirmAction
from tui.keys import APP
from tui.loader import Loader
from tui.messages import Connection
from tui.model_actions import ModelAction, rollback_target
from tui.palette import MlopsCommands
from tui.screens.alerts import AlertsScreen
from tui.screens.base import MlopsScreen
from tui.screens.data import DataScreen
from tui.screens.drift import DriftScreen
from tui.screens.experiments import ExperimentsScreen
from tui.screens.help import HelpScreen
from tui.screens.jobs import JobsScreen
from tui.screens.models import ModelsScreen
from tui.screens.overview import OverviewScreen
from tui.screens.pipelines import PipelinesScreen
from tui.settings import Settings
from tui.source import DaemonSource

PALETTE_EVENTS = ("model", "deploy", "pipeline", "daemon")


class MlopsApp(App[None]):
    TITLE = "mlops"
    CSS_PATH = Path(__file__).parent / "styles" / "app.tcss"  # absolute: subclasses anywhere
    BINDINGS = APP
    COMMANDS = App.COMMANDS | {MlopsCommands}
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    """Under 110 columns the side panes go below their tables (see app.tcss)."""
    MODES = {
        "overview": OverviewScreen,
        "models": ModelsScreen,
        "experiments": ExperimentsScreen,
        "data": DataScreen,
        "drift": DriftScreen,
        "alerts": AlertsScreen,
        "jobs": JobsScreen,
        "pipelines": PipelinesScreen,
    }

    connection: reactive[Connection] = reactive(lambda: Connection("connecting"),
                                                always_update=True)

    def __init__(self, home: Home, *, settings: Settings | None = None,
                 started_here: str = "", actor: str | None = None,
                 source: DaemonSource | None = None,
                 connection: Connection | None = None) -> None:
        """`source` and `connection` stand in for the daemon in snapshot tests and
        benchmarks (recorded replies, a fixed status line): no event stream is followed."""
        super().__init__()
        self.home = home
        self.settings = settings or Settings()
        self.started_here = started_here
        self.source = source or DaemonSource(home, actor=actor)
        self.fixed_connection = connection
        self.palette_actions: list[ModelAction] = []
        self.events_seen = 0
        self.last_action: str = ""
        self.set_reactive(MlopsApp.connection, connection or Connection(
            "connecting", started_here=started_here))

    def on_mount(self) -> None:
        if self.settings.theme in self.available_themes:
            self.theme = self.settings.theme
        else:
            self.notify(f"unknown theme {self.settings.theme!r}; known: "
                        + ", ".join(sorted(self.available_themes)), severity="warning")
        if self.settings.keys:
            self.set_keymap(self.settings.keys)
        for problem in self.settings.problems:
            self.notify(problem, severity="warning")
        self.palette_loader = Loader(self, self._fetch_palette, self._show_palette,
                                     lambda _error: None, name="palette")
        self.switch_mode("overview")
        if self.fixed_connection is None:
            self.run_worker(self._follow_events, thread=True, group="events", name="events",
                            exit_on_error=False)
        else:
            self.palette_loader.request()

    def on_ready(self) -> None:
        gc.freeze()  # what is imported and made by now lives as long as the app (base.py)

    def on_unmount(self) -> None:
        gc.unfreeze()  # the app is done: a process that goes on (tests) may collect it

    # --- the daemon connection -----------------------------------------------------------

    def _follow_events(self) -> None:
        worker = get_current_worker()
        event_follower.follow(
            self.home, self.source.actor,
            on_connection=lambda c: self.call_from_thread(self._connection_changed, c),
            on_event=lambda e: self.call_from_thread(self._daemon_event, e),
            cancelled=lambda: worker.is_cancelled,
            started_here=self.started_here,
            sleep=lambda s: _sleep_unless(worker, s))

    def _connection_changed(self, connection: Connection) -> None:
        before = self.connection.state
        self.connection = connection
        if connection.state == "connected":
            if before != "connected":
                self.source.forget()  # a restarted daemon may listen on another port
            self.palette_loader.request()
            for screen in self._mlops_screens():
                screen.connected()

    def _daemon_event(self, event: EventOut) -> None:
        self.events_seen += 1
        for screen in self._mlops_screens():
            screen.daemon_event(event)
        if event.type.split(".")[0] in PALETTE_EVENTS:
            self.palette_loader.request()

    def _mlops_screens(self) -> list[MlopsScreen]:
        return [s for s in self.screen_stack if isinstance(s, MlopsScreen)]

    # --- palette entries -----------------------------------------------------------------

    def _fetch_palette(self) -> list[ModelAction]:
        actions: list[ModelAction] = []
        awaiting = {p.model: p for p in self.source.pipelines(state="awaiting_approval")}
        for model in self.source.models():
            live = model.aliases.get("production")
            back = rollback_target(self.source.alias_history(model.name))
            if back:
                actions.append(ModelAction("rollback", model.name, back, live))
            if model.latest and model.latest != live:
                for kind in ("promote", "canary", "shadow"):
                    actions.append(ModelAction(kind, model.name, model.latest, live))
            pipeline = awaiting.get(model.name)
            if pipeline and pipeline.challenger:
                for kind in ("approve", "reject"):
                    actions.append(ModelAction(kind, model.name, pipeline.challenger, live,
                                               pipeline_id=pipeline.id))
            actions.append(ModelAction("retrain", model.name, None, live))
        return actions

    def _show_palette(self, actions: list[ModelAction]) -> None:
        self.palette_actions = actions

    # --- actions -------------------------------------------------------------------------

    def start_action(self, action: ModelAction) -> None:
        """Ask (what will change, and why), then do it in a worker."""
        self.ask_and_run(action.spec(), action.label(),
                         lambda given: action.perform(self.source, given))

    def ask_and_run(self, spec: ActionSpec, label: str,
                    do: Callable[[ActionInput], str]) -> None:
        """The dialog for `spec`; once confirmed, `do` runs in a thread worker and what it
        returns (or the daemon's refusal) is reported."""

        def confirmed(given: ActionInput | None) -> None:
            if given is not None:
                self.run_worker(lambda: self._perform(label, do, given), thread=True,
                                group="action", exit_on_error=False)

        self.push_screen(ConfirmAction(spec), confirmed)

    def _perform(self, label: str, do: Callable[[ActionInput], str],
                 given: ActionInput) -> None:
        try:
            said = do(given)
        except Exception as exc:
            self.call_from_thread(self.report, f"{label}: {exc}", False)
        else:
            self.call_from_thread(self.report, said, True)

    def report(self, said: str, ok: bool) -> None:
        """What an action came to: a notification, then every screen reloads."""
        self.last_action = said
        self.notify(said, severity="information" if ok else "error",
                    timeout=6 if ok else 12)
        for screen in self._mlops_screens():
            screen.reload()
        self.palette_loader.request()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def action_toggle_dark(self) -> None:
        self.theme = "textual-light" if self.current_theme.dark else "textual-dark"


def _sleep_unless(worker: object, seconds: float) -> None:
    import time

    deadline = time.monotonic() + seconds
    while not worker.is_cancelled and time.monotonic() < deadline:
        time.sleep(0.05)
