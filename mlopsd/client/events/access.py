"""Who may do what: tokens made and revoked."""

from __future__ import annotations

from typing import ClassVar

from mlopsd.client.events.base import EventData


class TokenCreated(EventData):
    name: ClassVar[str] = "token.created"
    token: str
    role: str
    actor: str


class TokenRevoked(EventData):
    name: ClassVar[str] = "token.revoked"
    token: str
    actor: str


class TokenReplaced(EventData):
    """The owner's secret is the home's token file: a new file, a new secret (at start)."""

    name: ClassVar[str] = "token.replaced"
    token: str
    actor: str
