"""The Overview on a real daemon: production, canary, health from real predictions, open
alerts, the last drift verdict, running jobs and the next scheduled retrain; and live
updates that keep the cursor on the same row while new rows arrive."""

from __future__ import annotations

from tests import tui_home
from tests.daemon_process import wait_until
from tests.tui_screen import Opened, loaded, pilot_test, screen_text, wait_for, wait_for_text
from tui.format import BARS
from tui.screens.overview import HISTORY, POINT_S
from tui.screens.overview import MODEL_COLUMNS as OVERVIEW_COLUMNS
from tui.widgets.keyed_table import KeyedTable


def _rows() -> list[dict]:
    return tui_home.example().drop("casual", "registered", "bikers").head(5).to_dicts()


@pilot_test
async def test_every_model_at_a_glance(filled: tui_home.Filled) -> None:
    client = filled.daemon.client
    client.deploy("riders", filled.second, strategy="canary", percent=20,
                  reason="overview test", latency_margin=1000)
    job = client.submit_job("selfcheck", {"seconds": 30})
    try:
        for _ in range(40):
            client.predict("riders", _rows())
        schedule = client.schedules()[0]
        async with Opened(filled.daemon.home) as pilot:
            screen = pilot.app.screen
            await loaded(pilot, screen)
            text = await wait_for_text(pilot, "riders", f"canary {filled.second} 20%")
            stats = client.serving().stats[f"riders:{filled.first}"]
            models = screen.query_one("#overview-models", KeyedTable)
            row = models.get_row("riders")
            cells = dict(zip(OVERVIEW_COLUMNS, [str(c) for c in row], strict=True))
            assert cells["production"] == filled.first
            assert int(cells["requests"].replace(",", "")) >= stats.requests - 40
            assert cells["err %"] == "0.0%"
            assert cells["drift"] == "ok"  # the report of bikes@2 against bikes@1
            assert cells["next retrain"] == schedule.next_run_at.strftime("%Y-%m-%d %H:%M:%S")
            assert cells["alerts"] == "0"
            # The filled home's data alert may be raised after the screen's first load.
            text = await wait_for_text(pilot, "open alerts: 1 (1 about data or the daemon)")
            assert "open alerts: 1 (1 about data or the daemon)" in text
            await wait_for_text(pilot, "Running jobs (1)", "selfcheck")
            # Health sparklines: their past from the daemon's serving numbers (the 40
            # requests above), then a point every few seconds from its serving.stats events.
            seeded = list(screen.traffic["riders"])
            assert len(seeded) == HISTORY and sum(seeded) > 0, seeded
            traffic = str(models.get_row("riders")[OVERVIEW_COLUMNS.index("traffic")])
            assert traffic.strip() and set(traffic) <= set(BARS) | {" "}
            for _ in range(20):
                client.predict("riders", _rows())
            points = screen.traffic["riders"]
            await wait_for(pilot, lambda: list(points) != seeded and list(points)[-1] > 0,
                           timeout=3 * POINT_S, what="a point made of serving.stats events")
    finally:
        client.cancel_job(job.id, "test over")
        client.deploy_abort("riders", reason="test over")


@pilot_test
async def test_live_updates_keep_the_cursor_on_its_row(filled: tui_home.Filled) -> None:
    client = filled.daemon.client
    for _ in range(4):
        client.wait_job(client.submit_job("selfcheck").id)
    async with Opened(filled.daemon.home) as pilot:
        await pilot.press("7")
        await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "JobsScreen")
        await loaded(pilot)
        table = pilot.app.screen.query_one("#jobs-table", KeyedTable)
        chosen = [r.value for r in table.rows][3]
        table.focus()
        table.move_cursor(row=3)
        await pilot.pause()
        assert table.selected_key == chosen
        before = len(table.rows)
        new = [client.submit_job("selfcheck").id for _ in range(3)]
        await wait_for(pilot, lambda: len(table.rows) >= before + 3,
                       what="the new jobs to arrive by events")
        assert table.selected_key == chosen  # the same job, now further down
        assert table.cursor_row == 3 + 3
        assert all(str(j) in [r.value for r in table.rows] for j in new)
        assert pilot.app.events_seen > 0
        assert "Log of job" in screen_text(pilot.app)


@pilot_test
async def test_long_lists_come_a_page_at_a_time(filled: tui_home.Filled) -> None:
    client = filled.daemon.client
    # The filled daemon may still be running a job (a drift check after a drop): its rows
    # would move while the pages are compared, so the list is taken once all have ended.
    jobs = wait_until(lambda: (found := client.list_jobs(limit=1000)) and all(
        j.state not in ("queued", "running") for j in found) and found, timeout=60,
        what="the filled daemon's jobs to end")
    assert len(jobs) > 4
    async with Opened(filled.daemon.home) as pilot:
        await pilot.press("7")
        await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "JobsScreen")
        screen = pilot.app.screen
        screen.page = 2  # small pages, so a few jobs make several
        await loaded(pilot)
        table = screen.query_one("#jobs-table", KeyedTable)
        assert [r.value for r in table.rows] == [str(j.id) for j in jobs[:2]]
        assert "] for more" in str(screen.query_one("#jobs-title").render())
        # What the UI asks the client for: pages after a cursor, never a larger page.
        asked: list[dict[str, object]] = []
        call = pilot.app.source._call

        def noted(method: str, *args: object, **kwargs: object) -> object:
            if method == "list_jobs" and "state" in kwargs and kwargs["state"] is None:
                asked.append(kwargs)
            return call(method, *args, **kwargs)

        pilot.app.source._call = noted
        await pilot.press("right_square_bracket")
        await wait_for(pilot, lambda: len(table.rows) == 4, what="the next page")
        assert [r.value for r in table.rows] == [str(j.id) for j in jobs[:4]]
        assert asked and all(k["limit"] == 2 for k in asked), asked
        assert any(k.get("after") for k in asked), asked
