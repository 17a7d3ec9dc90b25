"""The benchmarks' table helper: an anchor figure is measured in the run or the column says
"not installed" — a number typed into a benchmark is refused (issue 13)."""

from __future__ import annotations

import pytest

from benchmarks.report import (
    NOT_INSTALLED,
    Load,
    Measured,
    Row,
    at_most,
    measure,
    ratio_at_least,
    render,
)

QUIET = Load(0.5, 0.5, 0.0)


def test_a_typed_anchor_figure_is_refused() -> None:
    with pytest.raises(TypeError, match="anchor"):
        Row("1-row predict p50", 0.3, "ms", QUIET, 3.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="never typed in"):
        Measured(3.5, QUIET)


def test_an_anchor_not_installed_says_so_and_its_ratio_goal_is_not_judged() -> None:
    row = Row("req/s, 8 clients", 4400, "req/s", QUIET, NOT_INSTALLED, [ratio_at_least(30)],
              digits=0)
    _, _, anchor, ratio, _, met, _ = row.cells()
    assert (anchor, ratio, met) == (NOT_INSTALLED, "-", "unknown (no anchor)")
    assert "not installed" in render([row], "MLflow serve")


def test_a_measured_anchor_gives_the_ratio_and_the_verdict() -> None:
    anchor = measure(lambda: 3.5, tries=1)
    assert anchor.load.tries == 1
    faster = Row("p50", 0.25, "ms", QUIET, anchor, [at_most(0.25, "ms"), ratio_at_least(10)],
                 ratio="anchor/ours")
    assert faster.cells()[3] == "14x faster" and faster.met() == "met"
    slower = Row("p50", 7.0, "ms", QUIET, anchor, [at_most(0.25, "ms")], ratio="anchor/ours")
    assert slower.cells()[3] == "2.00x slower" and slower.met() == "NOT MET"
