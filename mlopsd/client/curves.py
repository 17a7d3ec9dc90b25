"""A run's metric histories as curves: which metric and which part (training rows, holdout,
or a series an SDK run logged) a metric key holds, and its points as one value per step.

Shared by the daemon (a model card's curves) and the CLI (`mlops runs compare --html`), so
both read a run's keys the same way: the train job logs `train_<metric>` and
`valid_<metric>` each boosting round (and the final `train_<metric>` once more at the kept
round, which the first point of a step wins over)."""

from __future__ import annotations

import math
from collections.abc import Iterable


def curve_part(key: str) -> tuple[str, str]:
    """(metric, part) of a metric key: part is train, holdout or logged."""
    part, _, metric = key.partition("_")
    if part == "train" and metric:
        return metric, "train"
    if part == "valid" and metric:
        return metric, "holdout"
    return key, "logged"


def by_step(points: Iterable[tuple[int, float | None]]) -> list[float | None]:
    """One value per step from the first step to the last (None where a step has none or
    its value is not finite); empty when fewer than two steps were logged."""
    found: dict[int, float | None] = {}
    for step, value in points:
        finite = value if value is not None and math.isfinite(value) else None
        found.setdefault(step, finite)
    if len(found) < 2:
        return []
    return [found.get(step) for step in range(min(found), max(found) + 1)]
