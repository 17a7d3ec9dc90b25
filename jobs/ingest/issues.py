"""Issues: what is wrong with a dropped file, said so a person can find and fix it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Issue = dict[str, Any]

MAX_EXAMPLES = 5
_MAX_VALUE_CHARS = 80


class Rejected(Exception):
    """Reading cannot go on; the issues say why (they become the result's errors)."""

    def __init__(self, *issues: Issue) -> None:
        self.issues = list(issues)
        super().__init__("; ".join(i["message"] for i in issues))


def show(value: Any) -> str:
    """A value as it appears in a message: text, cut short, control characters visible."""
    text = value if isinstance(value, str) else str(value)
    text = text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text
    return text if len(text) <= _MAX_VALUE_CHARS else text[: _MAX_VALUE_CHARS - 1] + "…"


def issue(
    check: str,
    message: str,
    *,
    column: str | None = None,
    rows: Iterable[int] = (),
    values: Iterable[Any] = (),
    rule: dict[str, Any] | None = None,
) -> Issue:
    return {
        "check": check,
        "column": column,
        "message": message,
        "rows": [int(r) for r in list(rows)[:MAX_EXAMPLES]],
        "values": [show(v) for v in list(values)[:MAX_EXAMPLES]],
        "rule": rule or {},
    }


def examples(rows: list[int], values: list[Any] | None = None) -> str:
    """'row 17 'hot', row 230 'n/a'' (or 'rows 3, 9') for a message."""
    if values is None:
        return ("row " if len(rows) == 1 else "rows ") + ", ".join(str(r) for r in rows)
    return ", ".join(f"row {r} '{show(v)}'" for r, v in zip(rows, values, strict=False))


def share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def percent(x: float) -> str:
    return f"{x:.1%}" if x >= 0.001 or x == 0 else f"{x:.3%}"
