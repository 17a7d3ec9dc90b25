"""Cursors of the API's listings.

Every listing takes `after` (a cursor) and `limit`, and answers `{"items": [...],
"next": cursor | null}` (`wire.Page`). A cursor is opaque to clients: base64url of a JSON
list, the listing's name (and, for run searches, its order) followed by the key of the
last item given out (store.pages). A cursor of another listing, or one not made here, is
a 422 naming `after`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar

import orjson
from fastapi import Query

from mlopsd.api.errors import ApiError
from mlopsd.client.wire import MAX_CURSOR, Page
from store.pages import Page as StorePage

Item = TypeVar("Item")
Out = TypeVar("Out")

After = Annotated[str | None, Query(
    max_length=MAX_CURSOR, description="a cursor: the `next` of the page before (items "
    "after it, in this listing's order)")]


def cursor_in(text: str | None, listing: str) -> list[Any] | None:
    """The store key a cursor holds (None for the first page)."""
    if text is None:
        return None
    try:
        decoded = orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError):
        decoded = None
    if not isinstance(decoded, list) or not decoded or not isinstance(decoded[0], str):
        raise ApiError(422, "after: not a cursor this daemon gave out (pass the `next` of "
                       "the page before)", field="after")
    if decoded[0] != listing:
        raise ApiError(422, f"after: a cursor of another listing ({decoded[0]!r}, not "
                       f"{listing!r}): page on with the same listing and order",
                       field="after")
    return decoded[1:]


def cursor_out(key: Sequence[Any] | None, listing: str) -> str | None:
    if key is None:
        return None
    return base64.urlsafe_b64encode(orjson.dumps([listing, *key])).decode().rstrip("=")


def page_out(page: StorePage[Item], listing: str, out: Callable[[Item], Out]) -> Page[Out]:
    return Page[Any](items=[out(item) for item in page.items],
                     next=cursor_out(page.next, listing))
