"""The client's calls about the daemon itself: health, status, the audit log, events."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from mlopsd.atomic import atomic_file
from mlopsd.client import backup_files
from mlopsd.client.event_stream import EventStream
from mlopsd.client.pages import PagedList
from mlopsd.client.transport import Transport, api_error
from mlopsd.client.wire import (
    AuditEntryOut,
    AuditVerifyOut,
    Health,
    HomeVerifyOut,
    Status,
    TokenMadeOut,
    TokenOut,
    WhoAmI,
)


class SystemCalls(Transport):
    def health(self) -> Health:
        return self._one(Health, "GET", "/api/v1/health")

    def status(self) -> Status:
        return self._one(Status, "GET", "/api/v1/status")

    def audit(self, *, action: str | None = None, subject: str | None = None,
              after: str | None = None, limit: int = 100) -> PagedList[AuditEntryOut]:
        """The audit log, newest first."""
        return self._page(AuditEntryOut, "/api/v1/audit", {
            "action": action, "subject": subject, "after": after, "limit": limit})

    def audit_verify(self) -> AuditVerifyOut:
        """The daemon recomputes the audit log's hash chain (see `store.audit_chain`)."""
        return self._one(AuditVerifyOut, "GET", "/api/v1/audit/verify")

    def audit_export(self, path: Path, *, since: datetime | None = None,
                     format: str = "jsonl") -> int:
        """Write the audit log (from `since` on) with its hashes to `path`, oldest first,
        as "jsonl" or "csv"; the file appears whole or not at all. Returns its bytes."""
        params = {"format": format}
        if since is not None:
            params["since"] = since.isoformat()
        written = 0
        try:
            with self.stream("GET", "/api/v1/audit/export", params=params) as response:
                if response.status_code >= 400:
                    response.read()
                    raise api_error(response)
                with atomic_file(Path(path), mode=0o644) as f:
                    for chunk in response.iter_bytes():
                        f.write(chunk)
                        written += len(chunk)
        except httpx.ConnectError as exc:
            raise self.unreachable(exc) from exc
        return written

    def verify_home(self) -> HomeVerifyOut:
        """The daemon checks its home is whole (see `store.integrity`)."""
        return self._one(HomeVerifyOut, "GET", "/api/v1/verify")

    def backup(self, dest: Path, *, with_token: bool = False) -> dict[str, Any]:
        """An online backup of the home into the new folder `dest`, every file checked
        against the manifest; returns the manifest."""
        try:
            with self.stream("POST", "/api/v1/backup",
                             params={"token": "true" if with_token else "false"}) as response:
                if response.status_code >= 400:
                    response.read()
                    raise api_error(response)
                return backup_files.receive(response.iter_bytes(), Path(dest))
        except httpx.ConnectError as exc:
            raise self.unreachable(exc) from exc

    def whoami(self) -> WhoAmI:
        """The name and role of the token this client sends."""
        return self._one(WhoAmI, "GET", "/api/v1/whoami")

    def tokens(self) -> list[TokenOut]:
        """Every token: names, roles, who made and revoked them (an admin's call)."""
        return self._many(TokenOut, "/api/v1/tokens")

    def create_token(self, name: str, role: str) -> TokenMadeOut:
        """A new token with a role; its secret is in the reply only (an admin's call)."""
        return self._one(TokenMadeOut, "POST", "/api/v1/tokens",
                         json={"name": name, "role": role})

    def revoke_token(self, name: str, *, note: str | None = None) -> TokenOut:
        return self._one(TokenOut, "POST", f"/api/v1/tokens/{name}/revoke",
                         json={"note": note})

    def events(self, *, types: list[str] | None = None, after: int | None = None,
               timeout: float | None = None, reconnect: bool = True) -> EventStream:
        """Follow the event stream from now (or from after event `after`), reconnecting
        by itself; `timeout` ends the iteration after that long without an event. See
        `mlopsd.client.event_stream`."""
        return EventStream(self, types=types, after=after, timeout=timeout,
                           reconnect=reconnect)
