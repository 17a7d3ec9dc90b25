"""Pages of a listing, as the client hands them out.

Every listing of the API takes `after` (a cursor) and `limit`, and answers
`{"items": [...], "next": cursor | null}`. The client returns a `PagedList`: the page's
items as a list, with the cursor of the next page in `.next` (None on the last page), like
MLflow's `PagedList` and its `token`:

    page = client.list_runs(filter="metrics.auc > 0.8", limit=50)
    while page.next:
        page = client.list_runs(filter="metrics.auc > 0.8", limit=50, after=page.next)

or, for every item, `all_items(client.list_runs, filter="metrics.auc > 0.8")`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

Item = TypeVar("Item")


class PagedList(list[Item]):
    """The items of one page; `next` is the cursor of the page after it (pass it as
    `after=`), None when this page is the last."""

    def __init__(self, items: Iterable[Item], next: str | None) -> None:
        super().__init__(items)
        self.next = next


def all_items(fetch: Callable[..., PagedList[Item]], /, *args: Any, page_size: int = 1000,
              **filters: Any) -> Iterator[Item]:
    """Every item of a listing, fetched `page_size` at a time: e.g.
    `all_items(client.list_jobs, state="failed")`, `all_items(client.list_versions, "bikes")`.
    """
    after = filters.pop("after", None)
    while True:
        page = fetch(*args, after=after, limit=page_size, **filters)
        yield from page
        if page.next is None:
            return
        after = page.next
