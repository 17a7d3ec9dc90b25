"""The Alerts screen on a real daemon: open alerts from a quarantined drop, filters, and
acknowledge / resolve with a note that the daemon keeps (alert and audit log)."""

from __future__ import annotations

from tests import tui_home
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


async def _alerts(pilot) -> None:
    await pilot.press("6")
    await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "AlertsScreen")
    await loaded(pilot)


async def _note(pilot, note: str) -> str:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ConfirmAction))
    said = screen_text(pilot.app)
    await type_text(pilot, note)
    await pilot.press("enter")
    await wait_for(pilot, lambda: not isinstance(pilot.app.screen, ConfirmAction))
    return said


@pilot_test
async def test_acknowledge_then_resolve_with_notes(filled: tui_home.Filled) -> None:
    client = filled.daemon.client
    alert = next(a for a in client.alerts(state="open") if a.rule == "quarantined_file")
    async with Opened(filled.daemon.home) as pilot:
        await _alerts(pilot)
        text = await wait_for_text(pilot, "quarantined_file", "dataset:bikes", "broken.csv")
        assert "state open" in text
        table = pilot.app.screen.query_one("#alerts-table", KeyedTable)
        table.move_cursor(row=[r.value for r in table.rows].index(str(alert.id)))
        await pilot.pause()
        await pilot.press("a")
        said = await _note(pilot, "looking at the upstream export")
        assert "from open to acknowledged" in said
        await wait_for(pilot, lambda: client.alerts(state="acknowledged"), what="the ack")
        await pilot.press("s")  # state filter: acknowledged
        await loaded(pilot)
        await wait_for_text(pilot, "state acknowledged", "broken.csv")
        await pilot.press("v")
        said = await _note(pilot, "export fixed upstream")
        assert "from acknowledged to resolved" in said
        await wait_for(pilot, lambda: client.alerts(state="resolved"), what="the resolve")
        await loaded(pilot)
        await wait_for(pilot, lambda: "broken.csv" not in screen_text(pilot.app),
                       what="the resolved alert to leave the acknowledged list")
    resolved = next(a for a in client.alerts(state="resolved") if a.id == alert.id)
    assert resolved.note == "export fixed upstream"
    entries = {e.action: e for e in client.audit(subject=f"alert:{alert.id}")}
    assert entries["alert.acknowledged"].reason == "looking at the upstream export"
    assert entries["alert.resolved"].reason == "export fixed upstream"
    assert entries["alert.resolved"].actor == "test:tui@owner"


@pilot_test
async def test_filters_by_severity_and_model(filled: tui_home.Filled) -> None:
    client = filled.daemon.client
    d = filled.daemon
    tui_home.drop(d, "season,mnth\n1,Jan,x\n", "broken-again.csv")
    await_open = [a for a in client.alerts(state="open")]
    async with Opened(d.home) as pilot:
        await _alerts(pilot)
        await pilot.press("s", "s", "s")  # open → acknowledged → resolved → all
        await loaded(pilot)
        await wait_for_text(pilot, "state all")
        rows = lambda: len(pilot.app.screen.query_one("#alerts-table", KeyedTable).rows)  # noqa: E731
        everything = rows()
        assert everything >= len(await_open)
        # The drop's alert may come a moment after the drop: the screen follows it.
        await pilot.press("g")  # severity: critical (none of those here)
        await wait_for_text(pilot, "severity critical")
        await wait_for(pilot, lambda: rows() == sum(a.severity == "critical"
                                                     for a in client.alerts()),
                       what="the critical alerts")
        await pilot.press("g")  # warning
        await wait_for_text(pilot, "severity warning")
        await wait_for(pilot, lambda: rows() == sum(a.severity == "warning"
                                                     for a in client.alerts()),
                       what="the warning alerts")
        await pilot.press("g", "m")  # all severities; model: the first one alerted about
        text = screen_text(pilot.app)
        assert "model all" in text or "model riders" in text
