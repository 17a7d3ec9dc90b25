"""Pages of a listing by keyset: each page is one ordered query that starts after the last
row of the page before (`WHERE key after ? ORDER BY key LIMIT n+1`), so a page costs the
same at the start and the end of 100,000 rows, and rows added meanwhile neither repeat nor
shift what follows (an offset would do both).

A listing declares its order as `Key`s, the last of which is unique (an id, a name), so
the order is total. The key of the last row on a page (`Page.next`) is where the next page
starts; its values are plain JSON values (timestamps as ISO text, floats that are not
finite as text), which `Order.after` checks and converts back.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class BadCursor(ValueError):
    """A cursor that does not fit the listing's order (not made by it, or tampered with)."""


@dataclass(frozen=True)
class Key:
    sql: str
    """The column (or expression) ordered by."""
    kind: type
    """int, str, float, bool or datetime: what a cursor's value must be."""
    descending: bool = False
    nullable: bool = False
    """NULLs sort last whatever the direction."""

    def order(self) -> str:
        return f"{self.sql} {'DESC' if self.descending else 'ASC'} NULLS LAST"

    def to_json(self, value: Any) -> Any:
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, float) and not math.isfinite(value):
            return repr(value)  # nan, inf, -inf: JSON has no such numbers
        return value

    def from_json(self, value: Any) -> Any:
        if value is None:
            if not self.nullable:
                raise BadCursor(f"{self.sql} cannot be null")
            return None
        try:
            if self.kind is datetime and isinstance(value, str):
                parsed = datetime.fromisoformat(value)
                return parsed.replace(tzinfo=None) if parsed.tzinfo else parsed
            if self.kind is float and isinstance(value, int | float | str):
                return float(value)
        except ValueError:
            raise BadCursor(f"{value!r} is not a {self.kind.__name__}") from None
        if self.kind is int and isinstance(value, int) and not isinstance(value, bool) and \
                abs(value) < 2**63:
            return value
        if self.kind in (str, bool) and type(value) is self.kind:
            return value
        raise BadCursor(f"{value!r} is not a {self.kind.__name__}")


@dataclass(frozen=True)
class Order:
    keys: tuple[Key, ...]

    def sql(self) -> str:
        return ", ".join(k.order() for k in self.keys)

    def columns(self) -> str:
        """The key columns, to select after a row's own columns."""
        return ", ".join(k.sql for k in self.keys)

    def after(self, cursor: Sequence[Any] | None) -> tuple[str, list[Any]]:
        """A WHERE fragment for the rows after the cursor's row in this order (TRUE
        without a cursor), with its parameters."""
        if cursor is None:
            return "TRUE", []
        if not isinstance(cursor, list | tuple) or len(cursor) != len(self.keys):
            raise BadCursor(f"a cursor of this listing has {len(self.keys)} values")
        values = [key.from_json(value) for key, value in zip(self.keys, cursor, strict=True)]
        return self._after(0, values)

    def _after(self, i: int, values: list[Any]) -> tuple[str, list[Any]]:
        key, value = self.keys[i], values[i]
        beyond = "<" if key.descending else ">"
        if i == len(self.keys) - 1:
            return f"{key.sql} {beyond} ?", [value]
        rest, rest_args = self._after(i + 1, values)
        if value is None:  # NULLs come last: only the NULLs after this one follow
            return f"({key.sql} IS NULL AND {rest})", rest_args
        null = f"{key.sql} IS NULL OR " if key.nullable else ""
        return (f"({null}{key.sql} {beyond} ? OR ({key.sql} = ? AND {rest}))",
                [value, value, *rest_args])

    def key_of(self, row: Sequence[Any]) -> list[Any]:
        """The cursor of a row whose last columns are `columns()`."""
        tail = row[len(row) - len(self.keys):]
        return [key.to_json(v) for key, v in zip(self.keys, tail, strict=True)]


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next: list[Any] | None
    """The key of the last item when more follow (where the next page starts), else None."""


def fetch_page(cur: Any, columns: str, source: str, where: list[str], args: list[Any],
               order: Order, after: Sequence[Any] | None, limit: int,
               make: Callable[[tuple], T], *, group_by: str = "", prefix: str = ""
               ) -> Page[T]:
    """One page: `SELECT columns, <key columns> FROM source WHERE … [GROUP BY …] ORDER BY
    <keys> LIMIT limit + 1` (the extra row says whether more follow). `args` are the
    parameters of `source` and `where`, in that order; `make` builds an item from a row's
    own columns; `prefix` goes before the SELECT (a WITH clause)."""
    clause, after_args = order.after(after)
    rows = cur.execute(
        f"{prefix} SELECT {columns}, {order.columns()} FROM {source} "
        f"WHERE {' AND '.join([*where, clause])} {group_by} ORDER BY {order.sql()} LIMIT ?",
        [*args, *after_args, limit + 1]).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    width = len(order.keys)
    items = [make(row[: len(row) - width]) for row in rows]
    return Page(items, order.key_of(rows[-1]) if more and rows else None)
