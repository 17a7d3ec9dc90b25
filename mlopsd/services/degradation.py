"""Whether a model got worse than its baseline (the holdout metrics it was registered with):
one headline metric per task, and the relative change in the bad direction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Per task: the headline metric and whether higher is better; the next ones stand in when a
# metric could not be computed (AUC needs both classes in the labels).
_HEADLINES = {
    "regression": [("rmse", False), ("mae", False)],
    "binary": [("auc", True), ("accuracy", True)],
    "multiclass": [("accuracy", True), ("macro_f1", True)],
}


@dataclass(frozen=True)
class Degradation:
    metric: str
    baseline: float
    now: float
    drop: float
    """Relative change in the bad direction (0.08: 8% worse); negative when better."""

    def describe(self) -> str:
        return (f"{self.metric} {self.now:.4g} against {self.baseline:.4g} at registration "
                f"({self.drop:+.1%} worse)")


def degradation(task: str, baseline: dict[str, Any] | None,
                now: dict[str, Any] | None) -> Degradation | None:
    """The headline metric's relative worsening, or None when it cannot be compared."""
    for metric, higher_is_better in _HEADLINES.get(task, []):
        base = (baseline or {}).get(metric)
        value = (now or {}).get(metric)
        if isinstance(base, int | float) and isinstance(value, int | float) and base:
            drop = (base - value) / abs(base) if higher_is_better else (value - base) / abs(base)
            return Degradation(metric, float(base), float(value), float(drop))
    return None


def kind_of_drop(inputs_drifted: bool) -> str:
    """Concept drift is performance falling while the inputs look as before: the relation
    between inputs and target changed. With drifted inputs, the inputs explain it."""
    return ("data drift: the inputs moved away from the training data" if inputs_drifted
            else "concept drift: the inputs look as in training, the target relation changed")
