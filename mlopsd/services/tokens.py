"""Tokens with roles: who may do what (the door for making and revoking them).

Roles rank viewer < operator < approver < admin; a token may do what its role and every
role below it may (the table of what each call needs is `mlopsd/api/roles.py`). The home's
token file is the token `owner`, an admin: whoever can read the home owns it. Secrets are
random, shown once when made and kept only as SHA-256 (a random 256-bit secret needs no slow
hash); each request's secret is looked up in memory, so checking costs a hash, not a query.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
from dataclasses import dataclass

from mlopsd.client.events import TokenCreated, TokenReplaced, TokenRevoked
from mlopsd.client.wire import NAME
from mlopsd.runtime.events import EventBus
from mlopsd.services.errors import ServiceError
from store import audit
from store import tokens as token_repo
from store.db import Store

ROLES = ("viewer", "operator", "approver", "admin")
VIEWER, OPERATOR, APPROVER, ADMIN = ROLES
OWNER = "owner"
ANONYMOUS = "anonymous"
PREFIX = "mlops_"


@dataclass(frozen=True)
class Principal:
    """Who a request is: a token's name and role (`anonymous`, a viewer, for the calls
    loopback allows without a token)."""

    name: str
    role: str

    def may(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


ANYONE = Principal(ANONYMOUS, VIEWER)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenBook:
    def __init__(self, store: Store, bus: EventBus) -> None:
        self.store, self.bus = store, bus
        self._lock = threading.Lock()
        self._by_hash: dict[str, Principal] = {}
        self._reload()

    def _reload(self) -> None:
        live = {t.secret_hash: Principal(t.name, t.role)
                for t in token_repo.list_tokens(self.store) if t.revoked_at is None}
        with self._lock:
            self._by_hash = live

    def who(self, bearer: str) -> Principal | None:
        """The principal a bearer secret stands for, or None (unknown or revoked)."""
        return self._by_hash.get(secret_hash(bearer))

    def ensure_owner(self, secret: str) -> None:
        """At start: the home's token file is the token `owner` (made, or its secret
        replaced when the file was replaced), audited."""
        digest = secret_hash(secret)
        with self.store.transaction():
            found = token_repo.get(self.store, OWNER)
            if found is None:
                token_repo.insert(self.store, name=OWNER, role=ADMIN, secret_hash=digest,
                                  by="mlopsd")
                entry = audit.append(self.store, actor="mlopsd", action="token.create",
                                     subject=f"token:{OWNER}",
                                     reason="the home's token file", details={"role": ADMIN})
                self.bus.publish(TokenCreated(token=OWNER, role=ADMIN, actor="mlopsd"),
                                 audit=entry)
            elif found.secret_hash != digest or found.revoked_at is not None:
                token_repo.replace_secret(self.store, OWNER, digest)
                entry = audit.append(self.store, actor="mlopsd", action="token.replace",
                                     subject=f"token:{OWNER}",
                                     reason="the home's token file changed")
                self.bus.publish(TokenReplaced(token=OWNER, actor="mlopsd"), audit=entry)
        self._reload()

    def create(self, name: str, role: str, *, actor: str) -> tuple[token_repo.Token, str]:
        """A new token; returns it and its secret (shown this once)."""
        if not re.match(NAME, name):
            raise ServiceError(422, f"{name!r}: letters, digits, '.', '_' and '-' only, "
                               "starting with a letter or digit", "name")
        if role not in ROLES:
            raise ServiceError(422, f"{role!r}: one of {', '.join(ROLES)}", "role")
        secret = PREFIX + secrets.token_urlsafe(32)
        with self.store.transaction():
            if token_repo.get(self.store, name) is not None:
                raise ServiceError(409, f"a token named {name!r} exists (names are not "
                                   "reused, even once revoked, so the audit log means one "
                                   "token by each)", "name")
            made = token_repo.insert(self.store, name=name, role=role,
                                     secret_hash=secret_hash(secret), by=actor)
            entry = audit.append(self.store, actor=actor, action="token.create",
                                 subject=f"token:{name}", details={"role": role})
            self.bus.publish(TokenCreated(token=name, role=role, actor=actor), audit=entry)
        self._reload()
        return made, secret

    def revoke(self, name: str, *, actor: str, reason: str | None = None) -> token_repo.Token:
        if name == OWNER:
            raise ServiceError(422, "the owner's token is the home's token file: to change "
                               "it, replace HOME/token and restart the daemon", "name")
        with self.store.transaction():
            found = token_repo.get(self.store, name)
            if found is None:
                raise ServiceError(404, f"no token named {name!r}", "name")
            if found.revoked_at is not None:
                return found
            revoked = token_repo.revoke(self.store, name, by=actor)
            entry = audit.append(self.store, actor=actor, action="token.revoke",
                                 subject=f"token:{name}", reason=reason)
            self.bus.publish(TokenRevoked(token=name, actor=actor), audit=entry)
        self._reload()
        return revoked

    def list(self) -> list[token_repo.Token]:
        return token_repo.list_tokens(self.store)
