"""Columns of plain Python values (as JSON decodes them) → the model's matrix, one
vectorised pass per column instead of one converter call per value.

Only what provably gives the row path's numbers is taken here: per column, the set of value
types is checked first (`true` is a bool, not a number; 2.5 is a float, not an integer), and
numbers are converted by numpy exactly as `float(value)` converts them. Anything this pass
cannot decide alone (a value of the wrong type, a float feeding an integer input that may
not be whole, an integer near the 64-bit edge, a date) answers None, and the caller encodes
the rows one by one: the row path then raises the exact error, naming row and input.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

_NONE = type(None)
_NUMBERS = frozenset({int, float, _NONE})
_FLAGS = frozenset({bool, _NONE})
_CATEGORY_TYPES = {"string": frozenset({str, _NONE}), "int64": frozenset({int, _NONE}),
                   "bool": _FLAGS}
_INT64_EDGE = 2.0**63


def columns_to_matrix(columns: Mapping[str, Sequence[Any]], rows: int,
                      inputs: Sequence[Mapping[str, Any]],
                      codes: Sequence[Mapping[Any, float] | None]) -> np.ndarray | None:
    """`columns`: per input name its values (lists of equal length `rows`); `codes`: per
    input its category → code table (None when it is not categorical). None when a value
    needs the row path."""
    matrix = np.empty((rows, len(inputs)), dtype=np.float64)
    for j, item in enumerate(inputs):
        values = columns[item["name"]]
        column = _column(values, item, codes[j])
        if column is None:
            return None
        matrix[:, j] = column
    return matrix


def _column(values: Sequence[Any], item: Mapping[str, Any],
            codes: Mapping[Any, float] | None) -> np.ndarray | list[float] | None:
    types = set(map(type, values))
    dtype = item["dtype"]
    if codes is not None:
        if not types <= _CATEGORY_TYPES[dtype]:
            return None
        nan, get = math.nan, codes.get
        return [get(v, nan) for v in values]
    if dtype == "bool":
        return np.array(values, dtype=np.float64) if types <= _FLAGS else None
    if dtype not in ("int64", "float64") or not types <= _NUMBERS:
        return None  # dates are parsed value by value on the row path
    try:
        column = np.array(values, dtype=np.float64)
    except OverflowError:  # past what a float holds: the row path says so
        return None
    if dtype == "int64":
        given = column[~np.isnan(column)]
        if float in types and np.any(given != np.floor(given)):
            return None
        if np.any(np.abs(given) >= _INT64_EDGE):
            return None
    return column
