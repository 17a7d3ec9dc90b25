"""The Models screen on a real daemon: versions, lineage, and every action through its
dialog (what will change, the reason) with what the daemon recorded."""

from __future__ import annotations

from mlopsd.home import Home
from tests import tui_home
from tests.daemon_process import wait_until
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


def _home(filled: tui_home.Filled) -> Home:
    return filled.daemon.home


async def _models(pilot) -> None:
    await pilot.press("2")
    await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "ModelsScreen")
    await loaded(pilot)


async def _select_version(pilot, version: str) -> None:
    table = pilot.app.screen.query_one("#versions-table", KeyedTable)
    table.focus()
    keys = [r.value for r in table.rows]
    table.move_cursor(row=keys.index(version))
    await pilot.pause()


async def _confirm(pilot, reason: str) -> str:
    """Type the reason into the open dialog and confirm; returns what the dialog said."""
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ConfirmAction),
                   what="the dialog")
    said = screen_text(pilot.app)
    await type_text(pilot, reason)
    await pilot.press("enter")
    await wait_for(pilot, lambda: not isinstance(pilot.app.screen, ConfirmAction),
                   what="the dialog to close")
    return said


def _production(client) -> str | None:
    return client.get_model("riders").aliases.get("production")


def _audit(filled: tui_home.Filled, action: str) -> list:
    client = filled.daemon.client
    assert client is not None
    return client.audit(action=action, subject="model:riders")


@pilot_test
async def test_versions_show_semver_aliases_metrics_and_lineage(
        filled: tui_home.Filled) -> None:
    async with Opened(_home(filled)) as pilot:
        await _models(pilot)
        await _select_version(pilot, filled.second)
        text = await wait_for_text(pilot, "bikes@1, bikes@2")
        assert f"{filled.first}    production" in text
        assert filled.second in text and "rmse" in text
        assert "config hash" in text and "no git commit" in text
        assert "trained on new data" in text  # why the number moved (minor)


@pilot_test
async def test_promote_says_what_changes_needs_a_reason_and_records_it(
        filled: tui_home.Filled) -> None:
    client = filled.daemon.client
    async with Opened(_home(filled)) as pilot:
        await _models(pilot)
        await _select_version(pilot, filled.second)
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ConfirmAction))
        text = screen_text(pilot.app)
        assert f"production moves from {filled.first} to {filled.second}" in text
        await pilot.press("enter")  # no reason: refused, nothing sent
        await wait_for_text(pilot, "a reason is needed")
        assert _production(client) == filled.first
        await type_text(pilot, "better on new data")
        await pilot.press("enter")
        await wait_for(pilot, lambda: _production(client) == filled.second,
                   what="production to move")
        await wait_for(pilot, lambda: pilot.app.last_action == (
            f"riders: production {filled.first} → {filled.second}"), what="the report")
        await loaded(pilot)
        assert f"{filled.second}    production" in screen_text(pilot.app)
    moves = client.alias_history("riders", "production")
    assert (moves[0].to_version, moves[0].reason, moves[0].actor) == (
        filled.second, "better on new data", "test:tui@owner")


@pilot_test
async def test_roll_back_moves_production_back_with_the_reason(
        filled: tui_home.Filled) -> None:
    client = filled.daemon.client
    assert _production(client) == filled.second
    async with Opened(_home(filled)) as pilot:
        await _models(pilot)
        await pilot.press("r")
        said = await _confirm(pilot, "latency went up")
        assert f"moves back from {filled.second} to {filled.first}" in said
        await wait_for(pilot, lambda: _production(client) == filled.first,
                   what="the rollback")
    move = client.alias_history("riders", "production")[0]
    assert (move.kind, move.reason, move.to_version) == ("rollback", "latency went up",
                                                          filled.first)


@pilot_test
async def test_canary_with_its_share_then_ended(filled: tui_home.Filled) -> None:
    client = filled.daemon.client
    async with Opened(_home(filled)) as pilot:
        await _models(pilot)
        await _select_version(pilot, filled.second)
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ConfirmAction))
        share = pilot.app.screen.query_one("#dialog-number")
        share.value = "25"
        said = await _confirm(pilot, "try it on a quarter")
        assert "a share of riders's requests is answered by" in said
        status = await wait_for(
            pilot, lambda: (s := client.deploy_status("riders")).canary and s,
            what="the canary")
        assert (status.canary.version, status.canary.percent) == (filled.second,
                                                                              25.0)
        await loaded(pilot)
        await wait_for_text(pilot, "canary")
        await pilot.press("e")
        await _confirm(pilot, "enough seen")
        await wait_for(pilot, lambda: client.deploy_status("riders").canary is None,
                   what="the canary to end")
    deployment = client.deployments("riders")[0]
    assert deployment.strategy == "canary" and deployment.reason == "try it on a quarter"


@pilot_test
async def test_shadow_is_started_with_its_reason(filled: tui_home.Filled) -> None:
    client = filled.daemon.client
    async with Opened(_home(filled)) as pilot:
        await _models(pilot)
        await _select_version(pilot, filled.second)
        await pilot.press("s")
        said = await _confirm(pilot, "compare quietly")
        assert "never returned" in said
        await wait_for(pilot, lambda: client.deploy_status("riders").shadow, what="the shadow")
        await pilot.press("e")
        await _confirm(pilot, "done comparing")
        await wait_for(pilot, lambda: client.deploy_status("riders").shadow is None,
                   what="the shadow to end")
    assert client.deployments("riders")[0].reason in ("compare quietly", "done comparing")
    assert any(d.strategy == "shadow" and d.reason == "compare quietly"
               for d in client.deployments("riders"))


@pilot_test
async def test_approve_and_reject_a_pipeline_awaiting_approval(
        filled: tui_home.Filled) -> None:
    d, client = filled.daemon, filled.daemon.client
    frame = tui_home.example()
    tui_home.drop_version(d, frame.sample(fraction=0.3, seed=3), "third.csv", 3)
    first = client.retrain("riders", reason="new data").pipeline
    wait_until(lambda: client.pipeline(first.id).state == "awaiting_approval", timeout=120,
               what="approval")
    challenger = client.pipeline(first.id).challenger
    async with Opened(_home(filled)) as pilot:
        await _models(pilot)
        await wait_for_text(pilot, f"awaiting #{first.id}")
        await _select_version(pilot, challenger)
        await pilot.press("x")
        said = await _confirm(pilot, "not this week")
        assert f"{challenger} is archived" in said
        await wait_for(pilot, lambda: client.pipeline(first.id).state != "awaiting_approval",
                   what="the rejection")
    assert client.model_version("riders", challenger).archived
    decision = {s["step"]: s for s in client.pipeline(first.id).steps}["approval"]["detail"]
    assert (decision["decision"], decision["by"], decision["note"]) == (
        "rejected", "test:tui@owner", "not this week")
    archived = _audit(filled, "model.archive")[0]
    assert (archived.reason, archived.details["version"]) == ("not this week", challenger)
    tui_home.drop_version(d, frame.sample(fraction=0.3, seed=4), "fourth.csv", 4)
    second = client.retrain("riders", reason="newer data").pipeline
    wait_until(lambda: client.pipeline(second.id).state == "awaiting_approval", timeout=120,
               what="approval")
    challenger = client.pipeline(second.id).challenger
    async with Opened(_home(filled)) as pilot:
        await _models(pilot)
        await _select_version(pilot, challenger)
        await pilot.press("a")
        said = await _confirm(pilot, "looks right")
        assert "deploys" in said
        await wait_for(pilot, lambda: _production(client) == challenger,
                   timeout=120, what="the approved challenger in production")
    decision = {s["step"]: s for s in client.pipeline(second.id).steps}["approval"]["detail"]
    assert (decision["decision"], decision["by"], decision["note"]) == (
        "approved", "test:tui@owner", "looks right")


@pilot_test
async def test_palette_lists_model_actions_and_runs_one(filled: tui_home.Filled) -> None:
    client = filled.daemon.client
    live = _production(client)
    async with Opened(_home(filled)) as pilot:
        app = pilot.app
        await wait_for(pilot, lambda: any(a.kind == "rollback" for a in app.palette_actions),
                       what="palette entries")
        back = next(a for a in app.palette_actions if a.kind == "rollback")
        await pilot.press("ctrl+p")
        await type_text(pilot, "riders roll back")
        await wait_for_text(pilot, f"riders: roll back to {back.version}")
        await pilot.press("enter")
        said = await _confirm(pilot, "from the palette")
        assert f"moves back from {live} to {back.version}" in said
        await wait_for(pilot, lambda: _production(client) == back.version,
                   what="the palette's rollback")
    assert client.alias_history("riders", "production")[0].reason == "from the palette"


@pilot_test
async def test_archive_asks_for_a_reason_and_the_audit_log_keeps_it(
        filled: tui_home.Filled) -> None:
    client = filled.daemon.client
    aliased = set(client.get_model("riders").aliases.values())
    version = next(v.version for v in client.model_versions("riders")
                   if v.version not in aliased and not v.archived)
    async with Opened(_home(filled)) as pilot:
        await _models(pilot)
        await _select_version(pilot, version)
        await pilot.press("d")
        said = await _confirm(pilot, "superseded")
        assert "no alias can point at it again" in said
        await wait_for(pilot, lambda: client.model_version("riders", version).archived,
                       what="archive")
    entry = _audit(filled, "model.archive")[0]
    assert entry.reason == "superseded" and entry.details == {"version": version}
