"""The Pipelines and Experiments screens on a real daemon: a retrain's record step by step
and the deployment history with one key to roll back; runs filtered by an expression,
compared side by side with their curves, and a training drawn live."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import tui_home
from tests.daemon_process import DaemonProcess, wait_until
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
from tui.screens.run_compare import RunCompareScreen
from tui.widgets.keyed_table import KeyedTable


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tui_home.Filled]:
    d = DaemonProcess(tmp_path_factory.mktemp("tui-pipelines") / "home",
                      config=tui_home.CONFIG).start()
    try:
        filled = tui_home.fill(d)
        pipeline = d.client.retrain("riders", reason="weekly check").pipeline
        wait_until(lambda: d.client.pipeline(pipeline.id).state == "awaiting_approval",
                   timeout=120, what="the pipeline to wait for approval")
        yield filled
    finally:
        d.kill()


async def _open(pilot, key: str, name: str) -> None:
    await pilot.press(key)
    await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == name)
    await loaded(pilot)


@pilot_test
async def test_a_pipelines_record_step_by_step(filled: tui_home.Filled) -> None:
    pipeline = filled.daemon.client.pipelines(model="riders")[0]
    compare = next(s for s in pipeline.steps if s["step"] == "compare")["detail"]
    async with Opened(filled.daemon.home, size=(160, 50)) as pilot:
        await _open(pilot, "8", "PipelinesScreen")
        text = await wait_for_text(pilot, f"pipeline {pipeline.id} of riders: "
                                   "awaiting_approval")
        assert "trigger   manual by" in text and "weekly check" in text
        for step in ("materialise", "validate", "train", "evaluate", "compare", "gate",
                     "approval"):
            assert step in text
        low, high = compare["ci"]
        assert f"CI [{low:.4g}, {high:.4g}]" in text
        assert "waiting for a person" in text
        assert "first model goes live" in text  # the deployment history: who and why


@pilot_test
async def test_one_key_rolls_back_from_the_deployment_history(
        filled: tui_home.Filled) -> None:
    client = filled.daemon.client
    client.promote("riders", filled.second, reason="second goes live")
    async with Opened(filled.daemon.home, size=(160, 50)) as pilot:
        await _open(pilot, "8", "PipelinesScreen")
        await wait_for_text(pilot, "second goes live", f"r: roll back to {filled.first}")
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ConfirmAction))
        assert f"moves back from {filled.second} to {filled.first}" in screen_text(pilot.app)
        await type_text(pilot, "error rate up")
        await pilot.press("enter")
        await wait_for(pilot, lambda: client.get_model("riders").aliases["production"]
                       == filled.first, what="the rollback")
        await loaded(pilot)
        await wait_for_text(pilot, "rollback", "error rate up")
    move = client.alias_history("riders", "production")[0]
    assert (move.kind, move.reason, move.actor) == ("rollback", "error rate up", "test:tui@owner")


@pilot_test
async def test_runs_filtered_by_an_expression_and_compared(filled: tui_home.Filled) -> None:
    client = filled.daemon.client
    runs = client.list_runs(experiment="riders")
    best = min(r.metrics["rmse"] for r in runs)
    async with Opened(filled.daemon.home) as pilot:
        await _open(pilot, "3", "ExperimentsScreen")
        table = pilot.app.screen.query_one("#runs-table", KeyedTable)
        await wait_for(pilot, lambda: len(table.rows) == len(runs), what="every run")
        await pilot.press("slash")
        await type_text(pilot, f"metrics.rmse <= {best}")
        await pilot.press("enter")
        await wait_for(pilot, lambda: 0 < len(table.rows) < len(runs), what="the filter")
        assert all(r.metrics["rmse"] <= best for r in runs if r.id in
                   {k.value for k in table.rows})
        await pilot.press("slash")
        pilot.app.screen.query_one("#run-filter").value = "metrics.rmse <<< 3"
        await pilot.press("enter")
        await wait_for_text(pilot, "could not load")  # the daemon's words about it
        await pilot.press("slash")
        pilot.app.screen.query_one("#run-filter").value = ""
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(table.rows) == len(runs), what="all runs again")
        table.focus()
        table.move_cursor(row=0)
        await pilot.press("space")
        table.move_cursor(row=1)
        await pilot.press("space")
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, RunCompareScreen))
        first, second = (r for r in runs if r.id in pilot.app.screen_stack[-1].runs_ids())
        text = await wait_for_text(pilot, "2 runs side by side", "params.data",
                                   "valid_rmse by step")
        assert "≠" in text
        compared = pilot.app.screen.query_one("#compare-table", KeyedTable)
        for field in ("params.data", "params.task", "metrics.rmse"):
            kind, key = field.split(".", 1)
            values = [getattr(r, kind).get(key) for r in (first, second)]
            mark = str(compared.get_row(field)[0])
            assert (mark == "≠") == (values[0] != values[1]), field


@pilot_test
async def test_a_training_in_progress_draws_its_curve(filled: tui_home.Filled) -> None:
    client = filled.daemon.client
    async with Opened(filled.daemon.home) as pilot:
        await _open(pilot, "3", "ExperimentsScreen")
        job = client.train("riders", reason="live curve")
        screen = pilot.app.screen
        await wait_for(pilot, lambda: job.id in screen.live, timeout=60,
                       what="iterations of the training")
        await wait_for_text(pilot, f"(job {job.id}), round")
        client.wait_job(job.id)
        await wait_for_text(pilot, f"ended: riders (job {job.id})")
        assert screen.live[job.id]["valid rmse"]


@pilot_test
async def test_a_click_on_a_metric_header_sorts_by_it(filled: tui_home.Filled) -> None:
    client = filled.daemon.client
    runs = client.list_runs()
    async with Opened(filled.daemon.home) as pilot:
        await _open(pilot, "3", "ExperimentsScreen")
        table = pilot.app.screen.query_one("#runs-table", KeyedTable)
        await wait_for(pilot, lambda: len(table.rows) == len(runs))
        for direction, pick in (("asc", min), ("desc", max)):
            await pilot.pause(0.2)  # widths are measured once the rows are drawn
            columns = list(table.ordered_columns)
            index = next(i for i, c in enumerate(columns) if c.key.value == "metrics.rmse")
            x = sum(c.get_render_width(table) for c in columns[:index])
            x += columns[index].get_render_width(table) // 2  # the header's middle
            await pilot.click("#runs-table", offset=(x, 0))
            await wait_for_text(pilot, f"sort metrics.rmse {direction}")
            await loaded(pilot)
            best = pick(runs, key=lambda r: r.metrics["rmse"])
            assert table.coordinate_to_cell_key((0, 0)).row_key.value == best.id
