"""Figures as people read them, one way for the terminal UI (`tui`) and the CLI's reports
(`mlops models card`, `runs compare --html`): a table of metrics, importance or row counts
reads the same on both."""

from __future__ import annotations

import math
from typing import Any

LARGEST_COUNTED = 1e15
"""Past this a whole float's digits are no longer exact (2**53 is about 9e15) and an
exponent reads better than sixteen digits."""


def number(value: Any, digits: int = 4) -> str:
    """`digits` significant digits; from 10**digits up, the whole part grouped in thousands
    instead of an exponent (15,320 rather than 1.532e+04: the digits past the point are
    the ones that do not matter there); a whole float as a whole number (a count kept as a
    float reads like one kept as an int); '-' for none; nan and inf as such."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if abs(value) < LARGEST_COUNTED:
            text = f"{value:.{digits}g}"
            if value.is_integer() or "e+" in text:
                return f"{round(value):,}"
            return text
        return f"{value:.{digits}g}"
    return str(value)
