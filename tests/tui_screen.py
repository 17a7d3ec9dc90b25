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
    last = getattr(pilot.app, "last_action", "")
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last action: "
                         f"{last!r})\n{screen_text(pilot.app)}")


async def wait_for_text(pilot: Any, *needles: str, timeout: float = 30.0) -> str:
    found = await wait_for(pilot, lambda: (t := screen_text(pilot.app)) and all(
        n in t for n in needles) and t, timeout=timeout, what=f"{needles} on screen")
    return found


def run_blocking(func: Callable[[], Any]) -> Any:
    """Run a blocking call (the daemon's client) without stopping the app's loop."""
    return asyncio.get_running_loop().run_in_executor(None, func)


SIZE = (120, 40)


class Opened:
    """An app on a home's daemon, run headless, connected."""

    def __init__(self, home: Any, size: tuple[int, int] = SIZE, **kwargs: Any) -> None:
        from tui.app import MlopsApp

        self.app = MlopsApp(home, actor="test:tui", **kwargs)
        self._context = self.app.run_test(size=size)
        self.pilot: Any = None

    async def __aenter__(self) -> Any:
        self.pilot = await self._context.__aenter__()
        await wait_for(self.pilot, lambda: self.app.connection.state == "connected",
                       what="the app to connect")
        return self.pilot

    async def __aexit__(self, *exc: Any) -> None:
        await self._context.__aexit__(*exc)


async def loaded(pilot: Any, screen: Any | None = None) -> None:
    """Wait until the screen's current load (and any load queued after it) has finished."""
    screen = screen or pilot.app.screen
    before = screen.loader.loads
    screen.loader.request()
    await wait_for(pilot, lambda: screen.loader.loads > before and not screen.loader.running,
                   what=f"{type(screen).__name__} to load")


async def type_text(pilot: Any, text: str) -> None:
    for char in text:
        await pilot.press("space" if char == " " else char)


def pilot_test(test: Callable[..., Any]) -> Callable[..., Any]:
    """An async pilot test run as a plain pytest test (its own event loop)."""
    import functools

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> Any:
        return asyncio.run(test(*args, **kwargs))

    return run
