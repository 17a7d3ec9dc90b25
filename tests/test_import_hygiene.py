"""The client side stays light: importing it loads none of the daemon's heavy parts."""

from __future__ import annotations

import subprocess
import sys

import pytest

FORBIDDEN = ["duckdb", "lightgbm", "scipy", "polars", "textual", "store", "jobs", "uvicorn",
             "fastapi"]


@pytest.mark.parametrize("module", ["mlopsd.client", "mlopsd.cli.main", "tui"])
def test_client_side_imports_no_heavy_module(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        f"loaded = sorted(m for m in {FORBIDDEN!r} if m in sys.modules)\n"
        "print(','.join(loaded))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "", f"{module} loaded {result.stdout.strip()}"
