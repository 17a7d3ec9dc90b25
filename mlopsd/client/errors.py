"""The client's errors (their own module: the tracking SDK needs them without importing the
client)."""

from __future__ import annotations


class MlopsError(Exception):
    """Base of the client's errors."""


class ApiError(MlopsError):
    """The daemon answered with an error: its status, code, message and the field at fault."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        self.status, self.code, self.message, self.field = status, code, message, field
        super().__init__(f"{message} [{status} {code}]")


class BadPathName(MlopsError):
    """A name or id that would change a request's path if sent as it is (a '?', a '..'):
    refused before anything is sent, so it can never reach another resource."""
