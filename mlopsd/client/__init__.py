"""The client side that the CLI, the TUI and notebooks share: the HTTP client of the daemon,
the tracking SDK, the wire types, pages of listings, the event stream and the client's
errors. It imports nothing of the daemon's (`mlopsd.home` only, to find a home's daemon and
token); import-linter holds it to that."""

from mlopsd.client.client import Client, DaemonNotRunning
from mlopsd.client.errors import ApiError, MlopsError
from mlopsd.client.event_stream import EventStream
from mlopsd.client.pages import PagedList, all_items

__all__ = ["ApiError", "Client", "DaemonNotRunning", "EventStream", "MlopsError", "PagedList",
           "all_items"]
