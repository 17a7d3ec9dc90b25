"""`mlops tui --web`: the UI served to a browser on loopback, only with the token printed
at start; a browser's websocket gets the real app on the home's daemon."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.daemon_process import DaemonProcess


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(tmp_path: Path):
    d = DaemonProcess(tmp_path / "home").start()
    port = _free_port()
    web = subprocess.Popen([sys.executable, "-m", "tui", "--home", str(d.home.root), "--web",
                            "--port", str(port)], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    try:
        line = web.stdout.readline()
        assert "open http://127.0.0.1:" in line, line
        url = line.split("open ", 1)[1].split()[0]
        yield d, url, port
    finally:
        web.send_signal(signal.SIGTERM)
        try:
            web.wait(timeout=20)
        except subprocess.TimeoutExpired:
            web.kill()
        d.kill()


async def _browse(url: str, port: int, pid: int) -> str:
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as anonymous:
        for _attempt in range(100):
            try:
                async with anonymous.get(base + "/") as response:
                    assert response.status == 401
                    break
            except aiohttp.ClientConnectorError:
                await asyncio.sleep(0.1)
        else:
            raise AssertionError("the web server did not start")
        async with anonymous.get(base + "/?token=not-it") as response:
            assert response.status == 401
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await anonymous.ws_connect(f"ws://127.0.0.1:{port}/ws")
    # unsafe=True: keep cookies of an IP address, as browsers do (aiohttp does not by default)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        async with browser.get(url) as response:
            assert response.status == 200
            assert "/ws" in await response.text()
        seen = b""
        async with browser.ws_connect(f"ws://127.0.0.1:{port}/ws?width=100&height=30") as ws:
            await ws.send_json(["resize", {"width": 100, "height": 30}])
            deadline = asyncio.get_running_loop().time() + 60
            while f"pid {pid}".encode() not in seen:
                left = deadline - asyncio.get_running_loop().time()
                assert left > 0, seen[-2000:]
                message = await ws.receive(timeout=left)
                if message.type == aiohttp.WSMsgType.BINARY:
                    seen += message.data
                elif message.type == aiohttp.WSMsgType.TEXT:
                    seen += message.data.encode()
                else:
                    break
        return seen.decode(errors="replace")


def test_the_ui_in_a_browser_needs_the_token(served) -> None:
    d, url, port = served
    assert "token=" in url
    seen = asyncio.run(_browse(url, port, d.pid))
    assert "Overview" in seen and f"pid {d.pid}" in seen
