"""Figures as people read them, the same in the terminal UI and the CLI's reports
(`mlopsd.client.numbers.number`): no exponent where a figure has whole digits to show, the
thousands grouped, floats that are whole written as whole numbers."""

from __future__ import annotations

import pytest

from mlopsd.client.numbers import number


@pytest.mark.parametrize(("value", "digits", "text"), [
    (None, 4, "-"),
    (True, 4, "true"),
    (8645, 4, "8,645"),
    (2**70, 4, f"{2**70:,}"),
    (0.92891234, 4, "0.9289"),
    (-0.5, 4, "-0.5"),
    (0.000012345, 4, "1.234e-05"),  # tiny: the exponent is the readable form
    (1000.0, 4, "1,000"),  # whole: as the same count as an int reads
    (2.0, 4, "2"),
    (15320.4, 4, "15,320"),  # a model card's total gain was '1.532e+04'
    (9999.96, 4, "10,000"),  # rounds up past the digits: no '1e+04'
    (296661304.25, 4, "296,661,304"),
    (-12345.6, 4, "-12,346"),
    (1234.5, 3, "1,234"),  # fewer digits asked than the whole part has: all of it
    (81.0976, 4, "81.1"),
    (2e15, 4, "2e+15"),  # past what a person counts in digits
    (float("nan"), 4, "nan"),
    (float("inf"), 4, "inf"),
    (float("-inf"), 4, "-inf"),
    ("bikes@1", 4, "bikes@1"),
])
def test_number(value: object, digits: int, text: str) -> None:
    assert number(value, digits) == text
