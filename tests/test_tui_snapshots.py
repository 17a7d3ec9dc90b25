"""Snapshots of each screen at a fixed size, drawn from recorded replies of a real daemon
(tests/golden/tui_replies.json; `python -m tests.regen_tui_snapshots` records them again).
A changed look fails here: review the SVG diff, then `--snapshot-update`."""

from __future__ import annotations

import pytest

from mlopsd.home import Home
from tests.tui_recorded import CONNECTION, ReplaySource
from tests.tui_snapshot_steps import SCREENS, visit
from tui.app import MlopsApp


@pytest.mark.parametrize(("key", "name", "size"), SCREENS,
                         ids=[f"{name}-{size[0]}x{size[1]}" for _k, name, size in SCREENS])
def test_screen_snapshot(snap_compare, tmp_path, key: str, name: str,
                         size: tuple[int, int]) -> None:
    home = Home(tmp_path / "home")
    app = MlopsApp(home, source=ReplaySource(home), connection=CONNECTION)

    async def run_before(pilot) -> None:
        await visit(pilot, key)
        assert type(pilot.app.screen).__name__ == name
        assert not pilot.app.screen.query_one("#problem").display

    assert snap_compare(app, terminal_size=size, run_before=run_before)
