"""Reading what a Textual app shows, as text, for the TUI's pilot tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from textual.app import App


def screen_text(app: App[Any]) -> str:
    """Every line of the screen as a user sees it (modal dialogs included)."""
    strips = app.screen._compositor.render_strips()
    return "\n".join(strip.text for strip in strips)


async def wait_for(pilot: Any, predicate: Callable[[], Any], timeout: float = 30.0,
                   what: str = "condition") -> Any:
    """Let the app run until `predicate()` holds (workers and messages go on meanwhile)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await pilot.pause(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}\n"
                         f"{screen_text(pilot.app)}")


async def wait_for_text(pilot: Any, *needles: str, timeout: float = 30.0) -> str:
    found = await wait_for(pilot, lambda: (t := screen_text(pilot.app)) and all(
        n in t for n in needles) and t, timeout=timeout, what=f"{needles} on screen")
    return found


def run_blocking(func: Callable[[], Any]) -> Any:
    """Run a blocking call (the daemon's client) without stopping the app's loop."""
    return asyncio.get_running_loop().run_in_executor(None, func)
