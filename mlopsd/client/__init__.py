"""The client side that the CLI, the TUI and notebooks share: the HTTP client of the daemon,
the tracking SDK, the wire types and the client's errors. It imports nothing of the daemon's
(`mlopsd.home` only, to find a home's daemon and token); import-linter holds it to that."""

from mlopsd.client.client import Client, DaemonNotRunning
from mlopsd.client.errors import ApiError, MlopsError

__all__ = ["ApiError", "Client", "DaemonNotRunning", "MlopsError"]
