"""`mlops tui --web`: the same app served to a browser on loopback (textual-serve runs one UI
process per browser tab), behind a token made for this run. Without the token (in the
address printed at start, then in a cookie) every request is refused, so another user of
the machine cannot open it."""

from __future__ import annotations

import hmac
import secrets
import shlex
import sys
from typing import Any

from mlopsd.home import Home

COOKIE = "mlops_tui_token"
HOST = "127.0.0.1"


def ui_command(home: Home) -> str:
    """What each browser tab runs: the UI on the home's daemon, never starting one."""
    return shlex.join([sys.executable, "-m", "tui", "--home", str(home.root), "--no-start"])


def make_server(home: Home, port: int, token: str | None = None) -> Any:
    from aiohttp import web
    from textual_serve.server import Server

    class TokenServer(Server):
        def __init__(self, token: str) -> None:
            super().__init__(ui_command(home), host=HOST, port=port,
                             title=f"mlops: {home.root}")
            self.token = token

        async def _make_app(self) -> web.Application:
            app = await super()._make_app()
            app.middlewares.append(self._require_token)
            return app

        @web.middleware
        async def _require_token(self, request: web.Request, handler: Any) -> Any:
            given = request.query.get("token") or request.cookies.get(COOKIE) or ""
            if not hmac.compare_digest(given.encode(), self.token.encode()):
                return web.Response(status=401, text="mlops tui --web: open the address it "
                                    "printed (with its token)\n")
            response = await handler(request)
            if request.path == "/" and request.query.get("token"):
                response.set_cookie(COOKIE, self.token, httponly=True, samesite="Strict")
            return response

    return TokenServer(token or secrets.token_urlsafe(24))


def serve(home: Home, port: int) -> int:
    server = make_server(home, port)
    print(f"mlops tui --web: open http://{HOST}:{port}/?token={server.token} "
          "(loopback only; Ctrl-C stops it)", flush=True)
    server.serve()
    return 0
