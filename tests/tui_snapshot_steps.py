"""What the snapshot tests do on each screen (and the recording does the same, so every
reply a snapshot needs is recorded)."""

from __future__ import annotations

from typing import Any

from tests.tui_screen import wait_for

SIZE = (100, 30)
SCREENS: list[tuple[str, str, tuple[int, int]]] = [
    ("1", "OverviewScreen", SIZE), ("2", "ModelsScreen", SIZE),
    ("3", "ExperimentsScreen", SIZE), ("4", "DataScreen", SIZE),
    ("5", "DriftScreen", SIZE), ("6", "AlertsScreen", SIZE), ("7", "JobsScreen", SIZE),
    ("8", "PipelinesScreen", SIZE), ("1", "OverviewScreen", (80, 24)),
]


async def visit(pilot: Any, key: str) -> None:
    """Open the screen and wait until it and its side loads (lineage, profile, drift
    report, log) have settled."""
    await pilot.press(key)
    app = pilot.app
    await wait_for(pilot, lambda: app.screen.loader.loads > 0 and not app.screen.loader.running,
                   what="the screen's load")
    for name in ("lineage", "profile_loader", "full_loader"):
        loader = getattr(app.screen, name, None)
        if loader is not None:
            await wait_for(pilot, lambda lo=loader: lo.loads > 0 and not lo.running,
                           what=name)
    await wait_for(pilot, lambda: not any(w.is_running for w in app.workers
                                          if w.group not in ("log",)),
                   what="the workers")
    await pilot.pause(0.3)
