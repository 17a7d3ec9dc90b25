"""Selector text, parsed: windows in UTC, errors that say what to write."""

from __future__ import annotations

from datetime import datetime

import pytest

from mlopsd.selectors import SelectorError, parse


def test_a_windows_offset_is_applied_not_dropped() -> None:
    sel = parse("bikes@all[2024-01-01T00:00+02:00..2024-01-02]")
    assert sel.start == datetime(2023, 12, 31, 22, 0) and sel.end == datetime(2024, 1, 2)
    assert parse("bikes@all[2024-01-01T00:00Z..]").start == datetime(2024, 1, 1)


@pytest.mark.parametrize(("text", "words"), [
    ("bikes@", "is not a selector"),
    ("bikes@all[2024-02-30..]", "is not an ISO date"),
    ("bikes@all[2024-02-01..2024-01-01]", "is not before its end"),
    ("b" * 1001, "at most 1000 characters"),
])
def test_bad_selectors_say_what_to_write(text: str, words: str) -> None:
    with pytest.raises(SelectorError, match=words):
        parse(text)
