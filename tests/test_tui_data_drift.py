"""The Data and Drift screens on a real daemon: versions and profiles of dropped files,
the quarantine with its reason and a requeue; a drift report's columns and a column's
distributions."""

from __future__ import annotations

from tests import tui_home
from tests.tui_screen import Opened, loaded, pilot_test, screen_text, wait_for, wait_for_text
from tui.dialogs.confirm_action import ConfirmAction
from tui.widgets.keyed_table import KeyedTable


async def _open(pilot, key: str, name: str) -> None:
    await pilot.press(key)
    await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == name)
    await loaded(pilot)


@pilot_test
async def test_versions_profiles_ingests_and_schema(filled: tui_home.Filled) -> None:
    client = filled.daemon.client
    profile = client.get_version("bikes", 2).profile
    async with Opened(filled.daemon.home) as pilot:
        await _open(pilot, "4", "DataScreen")
        text = await wait_for_text(pilot, "bikes@2", "bikes@1", "second.csv", "6,916")
        assert "Quarantine (1)" in text
        pilot.app.screen.query_one("#data-tabs").active = "tab-profile"
        text = await wait_for_text(pilot, "Profile of bikes@2", "temp")
        temp = profile["temp"]
        assert f"{temp['mean']:.4g}" in text and "float64" in text
        first, count = next(iter(profile["mnth"]["categories"].items()))
        assert f"{first} {count}" in text  # a categorical column's top counts
        pilot.app.screen.query_one("#data-tabs").active = "tab-ingests"
        text = await wait_for_text(pilot, "broken.csv", "rejected",
                                   "row 1 has 4 fields but the header has 2")
        pilot.app.screen.query_one("#data-tabs").active = "tab-schema"
        await wait_for_text(pilot, "@1", client.get_version("bikes", 1).schema_hash[:12])


@pilot_test
async def test_quarantine_shows_why_and_requeues_a_file(filled: tui_home.Filled) -> None:
    client = filled.daemon.client
    quarantined = client.quarantine("bikes")[0]
    async with Opened(filled.daemon.home) as pilot:
        await _open(pilot, "4", "DataScreen")
        pilot.app.screen.query_one("#data-tabs").active = "tab-quarantine"
        await wait_for_text(pilot, "broken.csv", "row 1 has 4 fields")
        pilot.app.screen.query_one("#quarantine-table", KeyedTable).focus()
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ConfirmAction))
        said = screen_text(pilot.app)
        assert "moves from quarantine back into inbox/bikes/" in said
        await pilot.press("enter")
        await wait_for(pilot, lambda: any(
            i.id == quarantined.id and i.requeued_at for i in client.list_ingests(
                dataset="bikes")), what="the requeue")
        assert "requeued" in pilot.app.last_action
        # Read again with the same rules: rejected again, a second ingest recorded.
        await wait_for(pilot, lambda: sum(i.source_name.endswith("broken.csv")
                                          for i in client.list_ingests(dataset="bikes")) >= 2,
                       timeout=60, what="the second ingest")


@pilot_test
async def test_drift_report_columns_and_a_columns_distributions(
        filled: tui_home.Filled) -> None:
    client = filled.daemon.client
    report = client.drift_reports(model="riders")[0]
    temp = next(c for c in report.columns if c["column"] == "temp")
    async with Opened(filled.daemon.home) as pilot:
        await _open(pilot, "5", "DriftScreen")
        text = await wait_for_text(pilot, report.current, report.reference, temp["test"])
        assert "verdict" in text and "threshold" in text
        assert f"{temp['statistic']:.4g}" in text
        table = pilot.app.screen.query_one("#columns-table", KeyedTable)
        table.focus()
        table.move_cursor(row=[r.value for r in table.rows].index("temp"))
        await wait_for_text(pilot, "temp: reference vs current")
        pilot.app.screen.query_one("#drift-tabs").active = "tab-series"
        await wait_for_text(pilot, "data quality by version")
