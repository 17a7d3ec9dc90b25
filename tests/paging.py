"""Walking a listing page by page, as the TUI does, and checking it against one big page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mlopsd.client import PagedList


def identity(item: Any) -> Any:
    """What tells two items apart: an id, a name, or the whole item."""
    for attr in ("id", "request_id"):
        if hasattr(item, attr) and not hasattr(item, "row_index"):
            return getattr(item, attr)
    if hasattr(item, "row_index"):
        return (item.request_id, item.row_index)
    if hasattr(item, "version") and hasattr(item, "dataset"):
        return (item.dataset, item.version)
    if hasattr(item, "version") and hasattr(item, "model"):
        return (item.model, item.version)
    return item.name


def walk(fetch: Callable[..., PagedList[Any]], *args: Any, limit: int, whole: int = 1000,
         **filters: Any) -> list[Any]:
    """Every page of a listing, `limit` at a time, checked against one page of it all:
    same items, same order, none twice, each page full but the last, whose `next` is None.
    Returns the pages."""
    everything = fetch(*args, limit=whole, **filters)
    assert everything.next is None
    pages, after = [], None
    while True:
        page = fetch(*args, after=after, limit=limit, **filters)
        pages.append(page)
        if page.next is None:
            break
        assert len(page) == limit, "only the last page is short"
        after = page.next
    walked = [identity(item) for page in pages for item in page]
    assert walked == [identity(item) for item in everything]
    assert len(set(walked)) == len(walked), "no item twice"
    return pages
