"""The UI stays on its side of the layers: importing the app loads none of the daemon's
heavy parts, and `mlops tui`'s entry point loads not even Textual before it must."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ["duckdb", "lightgbm", "scipy", "polars", "store", "jobs", "uvicorn", "fastapi",
         "mlopsd.services", "mlopsd.runtime", "mlopsd.api", "mlopsd.serving"]


def _loaded(module: str, watch: list[str]) -> list[str]:
    code = (f"import sys, {module}\n"
            f"print(','.join(sorted(m for m in {watch!r} if m in sys.modules)))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    return [m for m in result.stdout.strip().split(",") if m]


@pytest.mark.parametrize("module", ["tui.app", "tui.cli", "tui.source"])
def test_the_ui_loads_nothing_heavy(module: str) -> None:
    assert _loaded(module, HEAVY) == []


def test_the_entry_point_waits_to_load_textual() -> None:
    assert _loaded("tui.cli", ["textual", "textual_plotext", "plotext", "textual_serve",
                               "aiohttp"]) == []


def test_plots_load_only_with_a_plot() -> None:
    assert _loaded("tui.app", ["textual_plotext", "plotext"]) == []
