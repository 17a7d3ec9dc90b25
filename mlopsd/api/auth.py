"""Bearer tokens with roles at the API's door (`services/access.py` decides: who a request
is, and whether its role may make the call). On loopback, reads need no token; when the
daemon listens beyond loopback, every call does. The request's principal goes into
`request.state.principal`, and its name into every audit entry the call writes
(`job_routes.actor_of`)."""

from __future__ import annotations

import ipaddress

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from mlopsd.api.errors import error_response
from mlopsd.api.mlflow.errors import PREFIX as MLFLOW_PREFIX
from mlopsd.api.mlflow.errors import refusal as mlflow_refusal
from mlopsd.services.access import Refused, admit, with_article
from mlopsd.services.errors import ServiceError
from mlopsd.services.tokens import ANYONE, Principal, TokenBook

_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require(request: Request, role: str, why: str) -> None:
    """A check beyond the path's rule, where the body decides (a blue-green deploy)."""
    principal: Principal = getattr(request.state, "principal", ANYONE)
    if not principal.may(role):
        raise ServiceError(403, f"{why}: that needs {with_article(role)}'s token; token "
                           f"{principal.name!r} is {with_article(principal.role)}'s")


class TokenAuthMiddleware:
    def __init__(self, app: ASGIApp, *, book: TokenBook, require_for_reads: bool) -> None:
        self.app = app
        self.book = book
        self._require_for_reads = require_for_reads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            principal = admit(self.book, scope, token_required=self._require_for_reads)
        except Refused as exc:
            headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
            # MLflow's client reads MLflow's error shape under its prefix.
            respond = (mlflow_refusal if scope["path"].startswith(MLFLOW_PREFIX + "/")
                       else lambda status, message, headers: error_response(
                           status, message, headers=headers))
            await respond(exc.status, exc.message, headers)(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)
