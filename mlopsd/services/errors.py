"""What a daemon service refuses, with the HTTP status and the field at fault: the API
turns it into its JSON error without each route catching it."""

from __future__ import annotations


class ServiceError(Exception):
    code: str | None = None
    """The error's code in the JSON reply when it says more than the status (e.g.
    `unknown_model`); None: the status's own."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field = status, message, field
