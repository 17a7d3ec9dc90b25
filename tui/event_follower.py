"""One long-lived loop that follows the daemon's event stream and reconnects by itself.

Runs in a thread worker (`MlopsApp._follow_events`) and only calls back (the app turns the
calls into UI updates). Not a poll of the API: one streaming request, renewed each time
it has been quiet for `QUIET_S` (so the loop can notice it is cancelled) and resumed after
the last event seen (the daemon keeps its events, with ids that count on across
restarts, and replays what was missed; what it no longer keeps comes as `stream.lost`,
which makes every screen reload).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from mlopsd.client import Client, MlopsError
from mlopsd.home import Home
from tui.messages import Connection

QUIET_S = 1.0
BACKOFF_S = (0.2, 0.5, 1.0, 2.0, 3.0)


def follow(home: Home, actor: str, *, on_connection: Callable[[Connection], None],
           on_event: Callable[[Any], None], cancelled: Callable[[], bool],
           started_here: str = "", sleep: Callable[[float], None] = time.sleep) -> None:
    last_id: int | None = None
    failures = 0
    was_connected = False
    while not cancelled():
        try:
            client = Client.from_home(home, actor=actor, timeout=5.0)
        except MlopsError as exc:
            _report_away(on_connection, was_connected, str(exc), started_here)
            failures += 1
            sleep(BACKOFF_S[min(failures, len(BACKOFF_S)) - 1])
            continue
        try:
            status = client.status()
            if last_id is None:  # first connection: from now on (the daemon keeps the past)
                last_id = status.last_event_id
            on_connection(Connection("connected", version=status.version, pid=status.pid,
                                     url=client.base_url, started_here=started_here))
            was_connected, failures = True, 0
            while not cancelled():
                for event in client.events(after=last_id, timeout=QUIET_S, reconnect=False):
                    if event.id is not None:  # stream.lost has none
                        last_id = event.id
                    on_event(event)
                    if cancelled():
                        return
            return
        except Exception as exc:
            reason = str(exc) or type(exc).__name__
        finally:
            client.close()
        if cancelled():
            return
        _report_away(on_connection, was_connected, reason, started_here)
        failures += 1
        sleep(BACKOFF_S[min(failures, len(BACKOFF_S)) - 1])


def _report_away(on_connection: Callable[[Connection], None], was_connected: bool,
                 reason: str, started_here: str) -> None:
    state = "lost" if was_connected else "connecting"
    on_connection(Connection(state, detail=reason, started_here=started_here))
