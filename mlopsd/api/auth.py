"""Bearer-token auth: mutating calls always need the home's token; every call does when the
daemon listens beyond loopback."""

from __future__ import annotations

import hmac
import ipaddress

from starlette.types import ASGIApp, Receive, Scope, Send

from mlopsd.api.errors import error_response

_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class TokenAuthMiddleware:
    def __init__(self, app: ASGIApp, *, token: str, require_for_reads: bool) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode()
        self._require_for_reads = require_for_reads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        needs_token = self._require_for_reads or scope["method"] not in _SAFE_METHODS
        if needs_token:
            given = b""
            for name, value in scope["headers"]:
                if name == b"authorization":
                    given = value
                    break
            if not given:
                response = error_response(
                    401, "this call needs the home's token: send 'Authorization: Bearer <token>' "
                    "(the token is in HOME/token)", headers={"WWW-Authenticate": "Bearer"},
                )
                await response(scope, receive, send)
                return
            if not hmac.compare_digest(given, self._expected):
                response = error_response(
                    401, "the token does not match this home's token",
                    headers={"WWW-Authenticate": "Bearer"},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
