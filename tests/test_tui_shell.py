"""The app's shell on a real daemon: screens one key (or click) away, help, the status bar,
the banner while the daemon is away and the reconnect, `mlops tui` starting a daemon (or
refusing with --no-start), settings from mlops.toml, and 80x24."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from mlopsd.home import Home, init_home
from tests import tui_home
from tests.daemon_process import DaemonProcess, pid_alive, run_mlops, wait_until
from tests.tui_screen import Opened, pilot_test, screen_text, wait_for, wait_for_text
from tui.daemon_start import ensure_daemon
from tui.keys import SCREENS
from tui.settings import load_settings

SCREEN_CLASSES = {"overview": "OverviewScreen", "models": "ModelsScreen",
                  "experiments": "ExperimentsScreen", "data": "DataScreen",
                  "drift": "DriftScreen", "alerts": "AlertsScreen", "jobs": "JobsScreen",
                  "pipelines": "PipelinesScreen"}


@pilot_test
async def test_every_screen_is_one_key_away_and_clickable(filled: tui_home.Filled) -> None:
    async with Opened(filled.daemon.home) as pilot:
        text = await wait_for_text(pilot, "? Help", "q Quit")  # the footer
        for _mode, key, title in SCREENS:
            assert f"{key} {title}" in text
        for mode, key, _title in SCREENS:
            await pilot.press(key)
            await wait_for(pilot, lambda m=mode: type(pilot.app.screen).__name__ ==
                           SCREEN_CLASSES[m], what=f"screen {mode}")
        await pilot.click("#nav-data")
        await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "DataScreen",
                       what="a click on Data")
        await wait_for_text(pilot, "bikes@2", "first.csv")


@pilot_test
async def test_help_lists_the_screen_keys_with_their_ids(filled: tui_home.Filled) -> None:
    async with Opened(filled.daemon.home) as pilot:
        await pilot.press("2")
        await wait_for_text(pilot, "p Promote")  # the Models screen's keys are live
        await pilot.press("question_mark")
        text = await wait_for_text(pilot, "This screen: Models")
        assert "Promote" in text and "(models.promote)" in text, text
        assert "ctrl+p" in text and "[tui.keys]" in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "ModelsScreen")


@pilot_test
async def test_status_bar_names_the_daemon(filled: tui_home.Filled) -> None:
    client = filled.daemon.client
    async with Opened(filled.daemon.home) as pilot:
        status = client.status()
        await wait_for_text(pilot, f"daemon {status.version}, pid {status.pid} at "
                            f"{client.base_url}")
        assert "live: daemon" in screen_text(pilot.app)


@pilot_test
async def test_a_banner_while_the_daemon_is_away_then_it_reconnects(tmp_path: Path) -> None:
    d = DaemonProcess(tmp_path / "home").start()
    first_pid = d.pid
    try:
        async with Opened(d.home) as pilot:
            await pilot.press("7")
            d.kill()
            text = await wait_for_text(pilot, "The daemon went away", "reconnecting")
            assert "daemon away" in text
            d.start()
            await wait_for(pilot, lambda: pilot.app.connection.state == "connected"
                           and pilot.app.connection.pid == d.pid != first_pid,
                           what="the reconnect to the new daemon")
            await wait_for(pilot, lambda: "The daemon went away" not in screen_text(
                pilot.app), what="the banner to go")
            assert f"pid {d.pid}" in screen_text(pilot.app)
            # Still live after the reconnect: an event reaches the screen.
            job = d.client.submit_job("selfcheck")
            await wait_for_text(pilot, "selfcheck", str(job.id))
    finally:
        d.kill()


@pilot_test
async def test_mlops_tui_starts_a_daemon_in_the_background_and_says_so(
        tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    init_home(home)
    found = ensure_daemon(home, start=True)
    assert not found.running and found.started_pid
    try:
        async with Opened(home, started_here=found.message) as pilot:
            text = await wait_for_text(pilot, "started mlopsd in the background",
                                       f"pid {found.started_pid}")
            assert "live" in text
        assert ensure_daemon(home, start=True).running  # found, not started twice
    finally:
        os.kill(found.started_pid, signal.SIGTERM)
        wait_until(lambda: not pid_alive(found.started_pid), what="the daemon to stop")


def test_mlops_tui_no_start_refuses_without_a_daemon(tmp_path: Path) -> None:
    home = tmp_path / "home"
    init_home(Home(home))
    result = run_mlops(home, "tui", "--no-start")
    assert result.returncode == 1
    assert "no daemon is running for" in result.stderr and "--no-start" in result.stderr
    assert not Home(home).daemon_json.exists()


@pilot_test
async def test_theme_and_keys_come_from_mlops_toml(tmp_path: Path) -> None:
    config = tui_home.CONFIG + '\n[tui]\ntheme = "textual-light"\n[tui.keys]\n' \
        '"screen.alerts" = "f6"\n'
    d = DaemonProcess(tmp_path / "home", config=config).start()  # the daemon accepts [tui]
    try:
        settings = load_settings(d.home.config)
        assert settings.problems == []
        async with Opened(d.home, settings=settings) as pilot:
            assert pilot.app.theme == "textual-light"
            await pilot.press("f6")
            await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "AlertsScreen",
                           what="f6 to open Alerts")
            await pilot.press("ctrl+t")
            await wait_for(pilot, lambda: pilot.app.theme == "textual-dark")
    finally:
        d.kill()


def test_a_bad_tui_setting_is_named(tmp_path: Path) -> None:
    config = tmp_path / "mlops.toml"
    config.write_text('[tui]\ncolour = "red"\n[tui.keys]\n"screen.models" = 3\n')
    problems = load_settings(config).problems
    assert any("tui.colour: unknown key" in p for p in problems)
    assert any("tui.keys.screen.models must be a key" in p for p in problems)


@pilot_test
async def test_every_screen_reads_at_80x24(filled: tui_home.Filled) -> None:
    async with Opened(filled.daemon.home, size=(80, 24)) as pilot:
        for mode, key, _title in SCREENS:
            await pilot.press(key)
            await wait_for(pilot, lambda m=mode: type(pilot.app.screen).__name__ ==
                           SCREEN_CLASSES[m])
            screen = pilot.app.screen
            await wait_for(pilot, lambda s=screen: s.loader.loads > 0, what=f"{mode} loaded")
            lines = screen_text(pilot.app).splitlines()
            assert len(lines) == 24
            assert "1 Overview" in lines[0]
            assert "daemon" in lines[-2] and "live" in lines[-2]
            assert "? Help" in lines[-1]
            assert not screen.query_one("#problem").display, screen_text(pilot.app)


@pilot_test
async def test_connecting_follows_from_now_without_replaying_the_history(
        filled: tui_home.Filled) -> None:
    kept = filled.daemon.client.status().last_event_id
    assert kept > 30, "the home's fill published a history"
    async with Opened(filled.daemon.home) as pilot:
        await pilot.pause(2.5)  # the stream is renewed after each quiet second
        assert pilot.app.events_seen < 10, pilot.app.events_seen
