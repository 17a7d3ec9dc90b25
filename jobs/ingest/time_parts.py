"""Calendar parts: columns that hold a part of a date or time (year, month, weekday, hour…).

Each new period brings values no earlier file held (the next month, the next year), so a
range or a set of categories learned from the reference data would warn on every drop:
these columns are checked by their declared rules only (min, max, allowed). A dataset names
them in `time_parts`; unset, a column counts when its name is one of CALENDAR_NAMES (case,
spaces, '_' and '-' aside).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

CALENDAR_NAMES = frozenset({
    "year", "yr", "quarter", "qtr", "season", "month", "mnth", "monthname", "week",
    "weekofyear", "isoweek", "day", "dayofmonth", "dayofyear", "doy", "weekday", "dayofweek",
    "dow", "hour", "hr", "hourofday", "minute",
})


def time_parts(spec: dict[str, Any], columns: Iterable[str]) -> set[str]:
    declared = spec.get("time_parts")
    if declared is not None:
        return set(declared)
    return {c for c in columns if _plain(c) in CALENDAR_NAMES}


def _plain(name: str) -> str:
    return re.sub(r"[\s_\-]", "", name.lower())
