"""Drift statistics on raw samples, column by column: scipy's own functions, and the rules
that turn a statistic into a verdict.

Numeric tests: Kolmogorov-Smirnov (`ks`, p-value), Wasserstein distance divided by the
reference's standard deviation (`wasserstein`), population stability index (`psi`).
Categorical tests: chi-square on the 2 x k table of counts (`chisquare`, p-value),
Jensen-Shannon distance (`jensenshannon`, natural log, as scipy), `psi`.

`auto` (Evidently's defaults, see ../shared/TRAPS.md): a reference of at most 1,000 rows gets
`ks` / `chisquare` at p < 0.05; a larger one `wasserstein` / `jensenshannon` at 0.1 (at scale
any tiny shift has a tiny p-value: judge by effect size). Evidently uses a z-test for binary
categorical columns of small references; here chi-square does (for a 2 x 2 table without
continuity correction the two give the same p-value).

The fast path against a stored reference profile is in reference.py; verdict.py decides
(with the exact statistics where an estimate's bounds leave the verdict open).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

# Re-exported: the drift job names the tests through this module.
from jobs.drift.params import CATEGORICAL_TESTS, NUMERIC_TESTS  # noqa: F401

P_VALUE_TESTS = ("ks", "chisquare")
DEFAULT_THRESHOLDS = {"ks": 0.05, "chisquare": 0.05, "wasserstein": 0.1,
                      "jensenshannon": 0.1, "psi": 0.1}
SMALL_REFERENCE = 1_000
PLOT_BINS = 20
PSI_EPSILON = 1e-4
"""Empty bins count as this share in PSI (as Evidently does), so one empty bin does not
make the index infinite."""


def auto_test(kind: str, reference_rows: int) -> str:
    if kind == "numeric":
        return "ks" if reference_rows <= SMALL_REFERENCE else "wasserstein"
    return "chisquare" if reference_rows <= SMALL_REFERENCE else "jensenshannon"


def drifted(test: str, value: float, threshold: float) -> bool:
    """A p-value drifts below its threshold; a distance or index at or above it."""
    if test in P_VALUE_TESTS:
        return value < threshold
    return value >= threshold


@dataclass(frozen=True)
class Statistic:
    test: str
    statistic: float
    p_value: float | None = None
    approximate: bool = False
    low: float | None = None
    """For an approximate statistic: the exact one lies in [low, high]…"""
    high: float | None = None
    p_low: float | None = None
    """…and its p-value in [p_low, p_high]."""
    p_high: float | None = None
    p_at_most: bool = False
    """`p_value` is only an upper bound of the p-value (enough for the verdict)."""

    @property
    def bound(self) -> float | None:
        """How far the exact statistic can be from this one."""
        if self.low is None or self.high is None:
            return None
        return max(self.statistic - self.low, self.high - self.statistic)

    @property
    def value(self) -> float:
        """What the threshold applies to: the p-value for p-value tests."""
        return self.p_value if self.test in P_VALUE_TESTS and self.p_value is not None \
            else self.statistic


# -- exact, on raw samples -------------------------------------------------------------------


def ks_exact(reference: np.ndarray, current: np.ndarray) -> Statistic:
    from scipy import stats

    result = stats.ks_2samp(reference, current)
    return Statistic("ks", float(result.statistic), float(result.pvalue))


def wasserstein_exact(reference: np.ndarray, current: np.ndarray) -> Statistic:
    from scipy import stats

    distance = float(stats.wasserstein_distance(reference, current))
    return Statistic("wasserstein", normalised(distance, float(np.std(reference))))


def psi_numeric(reference: np.ndarray, current: np.ndarray) -> Statistic:
    edges = decile_edges(np.sort(reference))
    return Statistic("psi", psi(shares(reference, edges), shares(current, edges)))


def chisquare(reference: dict[Any, int], current: dict[Any, int]) -> Statistic:
    from scipy import stats

    categories = sorted(set(reference) | set(current), key=repr)
    table = np.array([[reference.get(c, 0) for c in categories],
                      [current.get(c, 0) for c in categories]], dtype=np.float64)
    # A category counted 0 on both sides is no category (scipy refuses its empty column).
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return Statistic("chisquare", 0.0, 1.0)
    result = stats.chi2_contingency(table, correction=False)
    return Statistic("chisquare", float(result.statistic), float(result.pvalue))


def jensenshannon(reference: dict[Any, int], current: dict[Any, int]) -> Statistic:
    from scipy.spatial import distance

    categories = sorted(set(reference) | set(current), key=repr)
    p = np.array([reference.get(c, 0) for c in categories], dtype=np.float64)
    q = np.array([current.get(c, 0) for c in categories], dtype=np.float64)
    return Statistic("jensenshannon", float(distance.jensenshannon(p / p.sum(), q / q.sum())))


def psi_categorical(reference: dict[Any, int], current: dict[Any, int]) -> Statistic:
    categories = sorted(set(reference) | set(current), key=repr)
    p = np.array([reference.get(c, 0) for c in categories], dtype=np.float64)
    q = np.array([current.get(c, 0) for c in categories], dtype=np.float64)
    return Statistic("psi", psi(p / p.sum(), q / q.sum()))


def psi(reference_shares: np.ndarray, current_shares: np.ndarray) -> float:
    r = np.clip(reference_shares, PSI_EPSILON, None)
    c = np.clip(current_shares, PSI_EPSILON, None)
    return float(np.sum((c - r) * np.log(c / r)))


def quantile_points(sorted_values: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """`np.quantile(sorted_values, levels, method="inverted_cdf")` read off values already
    sorted: numpy partitions the whole array even then (14 ms for 2,001 levels of 1M
    values). Its index, as numpy computes it: n * level - 1, up to the next whole number
    unless it is one, at least 0."""
    index = len(sorted_values) * np.asarray(levels, dtype=np.float64) - 1
    whole = np.floor(index)
    at = np.where(index - whole == 0, whole, whole + 1).astype(np.intp)
    return sorted_values[np.clip(at, 0, len(sorted_values) - 1)]


def decile_edges(sorted_values: np.ndarray) -> np.ndarray:
    """The nine inner edges of ten bins holding a tenth of the reference each (reference
    values, so they are points of the reference's quantile grid too)."""
    # Levels as i / 10, like the grid's i / GRID_POINTS: the same doubles, the same points.
    return np.unique(quantile_points(sorted_values, np.arange(1, 10) / 10))


def shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Shares in the bins (-inf, e1], (e1, e2], …, (e9, inf)."""
    counts = np.bincount(np.searchsorted(edges, values, side="left"),
                         minlength=len(edges) + 1)
    return counts / max(len(values), 1)


def sorted_shares(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """`shares` of sorted values: a binary search per edge, not one per value."""
    upto = np.searchsorted(sorted_values, edges, side="right")
    counts = np.diff(np.concatenate([[0], upto, [len(sorted_values)]]))
    return counts / max(len(sorted_values), 1)


def normalised(distance: float, std: float) -> float:
    return distance / std if std > 0 else (0.0 if distance == 0 else math.inf)


# -- many columns ------------------------------------------------------------------------------


def corrected_verdicts(p_values: list[float], alpha: float, method: str | None) -> list[bool]:
    """Which p-values count as drift after a multiple-testing correction."""
    if not p_values:
        return []
    if method is None or method == "none":
        return [p < alpha for p in p_values]
    if method == "bonferroni":
        return [p < alpha / len(p_values) for p in p_values]
    if method in ("bh", "benjamini-hochberg"):
        from scipy import stats

        adjusted = stats.false_discovery_control(np.array(p_values))
        return [bool(a < alpha) for a in adjusted]
    raise ValueError(f"unknown correction {method!r} (none, bonferroni, bh)")
