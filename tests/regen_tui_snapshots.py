"""Record the daemon's replies for the TUI's snapshot tests: a real daemon on a temp home
filled through the real paths, every screen visited the way the snapshot tests visit it.

    .venv/bin/python -m tests.regen_tui_snapshots
    .venv/bin/pytest tests/test_tui_snapshots.py --snapshot-update
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from tests import tui_home
from tests.daemon_process import DaemonProcess, wait_until
from tests.tui_recorded import CONNECTION, RECORDED, RecordingSource
from tests.tui_snapshot_steps import SCREENS, visit
from tui.app import MlopsApp


async def _record(home: Path) -> RecordingSource:
    source = RecordingSource(DaemonProcess(home).home, actor="test:tui")
    for key, _name, size in SCREENS:
        app = MlopsApp(source.home, source=source, connection=CONNECTION)
        async with app.run_test(size=size) as pilot:
            await visit(pilot, key)
    return source


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = DaemonProcess(Path(tmp) / "home", config=tui_home.CONFIG).start()
        try:
            tui_home.fill(d)
            client = d.client
            pipeline = client.retrain("riders", reason="weekly check").pipeline
            wait_until(lambda: client.pipeline(pipeline.id).state == "awaiting_approval",
                       timeout=120, what="approval")
            client.submit_job("selfcheck")
            source = asyncio.run(_record(d.home.root))
        finally:
            d.kill()
    source.save()
    print(f"recorded {len(source.recorded)} replies into {RECORDED}")


if __name__ == "__main__":
    main()
