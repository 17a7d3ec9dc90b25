"""compare: challenger vs champion on the challenger's holdout, with a paired bootstrap CI.

The daemon runs it after a retraining. Import-light like the registry that lists it: the
daemon imports this to check params, and only `run` (in the worker) loads numpy, polars,
scikit-learn and LightGBM.
"""

from __future__ import annotations

from typing import Any

from jobs.compare.params import DESCRIPTION, GATE_DESCRIPTION, METRICS, check_params
from jobs.context import JobContext


def run(params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    from jobs.compare.job import run as compare

    return compare(params, ctx)


__all__ = ["DESCRIPTION", "GATE_DESCRIPTION", "METRICS", "check_params", "run"]
