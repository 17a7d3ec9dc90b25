"""The one error of the prediction endpoints: every refusal on /v1 is a `ServingError` with
the HTTP status, a message, and the field (and row) at fault; `replies.error` turns it into
the JSON body clients read."""

from __future__ import annotations


class ServingError(Exception):
    def __init__(self, status: int, message: str, *, field: str | None = None,
                 row: int | None = None, code: str | None = None,
                 allow: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field, self.row = status, message, field, row
        self.code = code
        """The error code when it is not the status's usual one (e.g. `unservable`)."""
        self.allow = allow
        """For a 405: the methods the endpoint takes (its Allow header)."""


class DrillFailure(RuntimeError):
    """A failure injected on purpose: a canary's `drill_failure_rate`, or a drill on the
    live version (POST /api/v1/models/{name}/drill)."""
