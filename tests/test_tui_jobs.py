"""The Jobs screen on a real daemon: a running job with its log followed live, cancelled
with a reason; a schedule run now."""

from __future__ import annotations

from pathlib import Path

from tests import tui_home
from tests.daemon_process import DaemonProcess
from tests.tui_screen import (
    Opened,
    loaded,
    pilot_test,
    screen_text,
    type_text,
    wait_for,
    wait_for_text,
)
from tui.dialogs.confirm_action import ConfirmAction
from tui.widgets.keyed_table import KeyedTable


async def _confirm(pilot, reason: str) -> str:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ConfirmAction))
    said = screen_text(pilot.app)
    await type_text(pilot, reason)
    await pilot.press("enter")
    await wait_for(pilot, lambda: not isinstance(pilot.app.screen, ConfirmAction))
    return said


@pilot_test
async def test_a_running_job_its_log_following_and_cancel(tmp_path: Path) -> None:
    d = DaemonProcess(tmp_path / "home", config=tui_home.CONFIG).start()
    client = d.client
    try:
        async with Opened(d.home) as pilot:
            await pilot.press("7")
            await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "JobsScreen")
            job = client.submit_job("selfcheck", {"seconds": 60})
            await wait_for(pilot, lambda: client.get_job(job.id).state == "running")
            # ("running" alone would match the title's "0 running" while it is queued.)
            await wait_for_text(pilot, "selfcheck", "1 running", f"Log of job {job.id}")
            # The log follows while it runs: a line the job writes later shows up.
            await wait_for_text(pilot, "trained", timeout=60)
            table = pilot.app.screen.query_one("#jobs-table", KeyedTable)
            assert table.selected_key == str(job.id)
            await pilot.press("x")
            said = await _confirm(pilot, "wrong parameters")
            assert "ends as cancelled" in said
            await wait_for(pilot, lambda: client.get_job(job.id).state == "cancelled",
                           timeout=60, what="the cancel")
            await wait_for_text(pilot, "cancelled")
            await wait_for_text(pilot, f"Log of job {job.id} (ended)")
        entry = client.audit(action="job.cancel")[0] if client.audit(action="job.cancel") \
            else next(e for e in client.audit() if "cancel" in e.action)
        assert entry.reason == "wrong parameters" and entry.actor == "test:tui@owner"
    finally:
        d.kill()


@pilot_test
async def test_a_schedule_is_listed_with_its_next_run_and_runs_now(tmp_path: Path) -> None:
    d = DaemonProcess(tmp_path / "home", config=tui_home.CONFIG).start()
    client = d.client
    try:
        frame = tui_home.example()
        tui_home.drop_version(d, frame.sample(fraction=0.3, seed=1), "first.csv", 1)
        tui_home.train(client)
        schedule = client.schedules()[0]
        async with Opened(d.home) as pilot:
            await pilot.press("7")
            await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "JobsScreen")
            await loaded(pilot)
            text = await wait_for_text(pilot, "0 3 * * mon")
            assert schedule.next_run_at.strftime("%Y-%m-%d %H:%M") in text
            pilot.app.screen.query_one("#schedules-table", KeyedTable).focus()
            await pilot.press("n")
            said = await _confirm(pilot, "data came early")
            assert "a retraining pipeline of riders starts now" in said
            pipeline = await wait_for(pilot, lambda: client.pipelines(model="riders"),
                                      what="a pipeline")
        assert pipeline[0].trigger == "manual"
        assert pipeline[0].trigger_detail.get("reason") == "data came early"
        assert pipeline[0].actor == "test:tui@owner"
    finally:
        d.kill()
