"""Drift statistics, column by column: exact ones on raw samples (scipy's own functions), and
fast ones for numeric columns against a stored reference profile.

Numeric tests: Kolmogorov-Smirnov (`ks`, p-value), Wasserstein distance divided by the
reference's standard deviation (`wasserstein`), population stability index (`psi`).
Categorical tests: chi-square on the 2 x k table of counts (`chisquare`, p-value),
Jensen-Shannon distance (`jensenshannon`, natural log, as scipy), `psi`.

`auto` (Evidently's defaults, see ../shared/TRAPS.md): a reference of at most 1,000 rows gets
`ks` / `chisquare` at p < 0.05; a larger one `wasserstein` / `jensenshannon` at 0.1 (at scale
any tiny shift has a tiny p-value: judge by effect size). Evidently uses a z-test for binary
categorical columns of small references; here chi-square does (for a 2 x 2 table without
continuity correction the two give the same p-value).

The fast numeric path (`NumericReference`): the reference is summarised once by a grid of
up to 2,000 quantile points and its CDF on them. A current column is placed on the grid
with one `searchsorted` (no sort of the current rows), which gives its CDF on the grid:
- KS on the grid (both CDFs at every grid point and just below it) is a lower bound of the
  exact statistic; between two neighbouring grid points each CDF can only rise, which gives
  an upper bound too, and `bound` is their difference (small unless the current sample
  piles up between two reference quantiles, when the statistic is large anyway);
- Wasserstein is the integral of |F_ref - F_cur| on the grid intervals plus the current's
  exact tails outside the reference's range; its error is at most the sum over intervals
  of (reference mass + current mass inside) x width, reported as `bound` (normalised);
- PSI uses the reference deciles as bins, exactly as it would on raw rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# Re-exported: the drift job names the tests through this module.
from jobs.drift.params import CATEGORICAL_TESTS, NUMERIC_TESTS  # noqa: F401

P_VALUE_TESTS = ("ks", "chisquare")
DEFAULT_THRESHOLDS = {"ks": 0.05, "chisquare": 0.05, "wasserstein": 0.1,
                      "jensenshannon": 0.1, "psi": 0.1}
SMALL_REFERENCE = 1_000
GRID_POINTS = 2_000
"""A multiple of 10, so the reference deciles are grid points."""
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
    bound: float | None = None
    """For an approximate statistic: how far the exact one can be (see the module doc)."""

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
    return Statistic("wasserstein", _normalised(distance, float(np.std(reference))))


def psi_numeric(reference: np.ndarray, current: np.ndarray) -> Statistic:
    edges = decile_edges(np.sort(reference))
    return Statistic("psi", psi(_shares(reference, edges), _shares(current, edges)))


def chisquare(reference: dict[Any, int], current: dict[Any, int]) -> Statistic:
    from scipy import stats

    categories = sorted(set(reference) | set(current), key=repr)
    table = np.array([[reference.get(c, 0) for c in categories],
                      [current.get(c, 0) for c in categories]], dtype=np.float64)
    if len(categories) < 2:
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


def decile_edges(sorted_values: np.ndarray) -> np.ndarray:
    """The nine inner edges of ten bins holding a tenth of the reference each (reference
    values, so they are points of the reference's quantile grid too)."""
    # Levels as i / 10, like the grid's i / GRID_POINTS: the same doubles, the same points.
    return np.unique(np.quantile(sorted_values, np.arange(1, 10) / 10, method="inverted_cdf"))


def _shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Shares in the bins (-inf, e1], (e1, e2], …, (e9, inf)."""
    counts = np.bincount(np.searchsorted(edges, values, side="left"),
                         minlength=len(edges) + 1)
    return counts / max(len(values), 1)


def _normalised(distance: float, std: float) -> float:
    return distance / std if std > 0 else (0.0 if distance == 0 else math.inf)


# -- fast, against a stored reference profile ------------------------------------------------


@dataclass
class NumericReference:
    """A numeric reference column, summarised once (it is stored with the model)."""

    n: int
    mean: float
    std: float
    grid: np.ndarray
    """Sorted distinct quantile points of the reference (at most GRID_POINTS + 1)."""
    cdf: np.ndarray
    """The reference's CDF at each grid point (share of rows <= the point)."""
    below: np.ndarray
    """The reference's share of rows < each grid point (the CDF's left limit there)."""
    deciles: np.ndarray
    decile_shares: np.ndarray = field(default_factory=lambda: np.zeros(10))

    @classmethod
    def build(cls, values: np.ndarray, grid_points: int = GRID_POINTS) -> NumericReference:
        values = np.sort(values[~np.isnan(values)].astype(np.float64))
        if len(values) == 0:
            raise ValueError("a numeric reference needs at least one non-missing value")
        grid = np.unique(np.quantile(values, np.arange(grid_points + 1) / grid_points,
                                     method="inverted_cdf"))
        n = len(values)
        cdf = np.searchsorted(values, grid, side="right") / n
        below = np.searchsorted(values, grid, side="left") / n
        deciles = decile_edges(values)
        return cls(n, float(values.mean()), float(values.std()), grid, cdf, below, deciles,
                   _shares(values, deciles))

    def to_json(self) -> dict[str, Any]:
        return {"n": self.n, "mean": self.mean, "std": self.std, "grid": self.grid.tolist(),
                "cdf": self.cdf.tolist(), "below": self.below.tolist(),
                "deciles": self.deciles.tolist(), "decile_shares": self.decile_shares.tolist()}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> NumericReference:
        return cls(d["n"], d["mean"], d["std"], np.array(d["grid"]), np.array(d["cdf"]),
                   np.array(d["below"]), np.array(d["deciles"]), np.array(d["decile_shares"]))

    def compare(self, current: np.ndarray) -> dict[str, Statistic]:
        """KS, normalised Wasserstein and PSI of `current` against this reference."""
        return self.compare_with_bins(current)[0]

    def compare_with_bins(self, current: np.ndarray
                          ) -> tuple[dict[str, Statistic], dict[str, Any]]:
        """The statistics, and both distributions on the reference's 20 quantile bins (for
        plots: the reference has 5% in each; where the current's mass went is the
        picture), read off the same pass."""
        from scipy import stats

        current = current[~np.isnan(current)].astype(np.float64, copy=False)
        m = len(current)
        if m == 0:
            raise ValueError("the current column has no non-missing value")
        grid, k = self.grid, len(self.grid)
        # One pass places every current value among the grid points (no sort): v <= g_i
        # exactly when fewer than i + 1 grid points are below v.
        left = np.searchsorted(grid, current, side="left")
        cur_cdf = np.cumsum(np.bincount(left, minlength=k + 1))[:k] / m
        nearest = grid[np.minimum(left, k - 1)]
        hits = np.bincount(left[nearest == current], minlength=k)[:k] / m
        cur_below = cur_cdf - hits
        d_grid = float(max(np.max(np.abs(self.cdf - cur_cdf)),
                           np.max(np.abs(self.below - cur_below))))
        # Between two grid points each CDF can only rise: the largest gap possible there.
        if k > 1:
            between = np.maximum(cur_below[1:] - self.cdf[:-1], self.below[1:] - cur_cdf[:-1])
            d_upper = max(d_grid, float(between.max()))
        else:
            d_upper = d_grid
        en = math.sqrt(self.n * m / (self.n + m))
        ks = Statistic("ks", d_grid, min(1.0, float(stats.kstwobign.sf(en * d_grid))),
                       approximate=True, bound=d_upper - d_grid)

        widths = np.diff(grid)
        inner = float(np.sum(np.abs(self.cdf[:-1] - cur_cdf[:-1]) * widths))
        low, high = grid[0], grid[-1]
        below_range, above_range = left == 0, left == k  # v <= g_0, v > g_last
        tails = (float(np.sum(low - current[below_range]))
                 + float(np.sum(current[above_range] - high))) / m
        rise = (self.below[1:] - self.cdf[:-1]) + (cur_below[1:] - cur_cdf[:-1])
        w_bound = float(np.sum(np.maximum(rise, 0) * widths))
        wasserstein = Statistic("wasserstein", _normalised(inner + tails, self.std),
                                approximate=True, bound=_normalised(w_bound, self.std))
        # The deciles are grid points: their CDF is already known, no third pass.
        at = np.searchsorted(grid, self.deciles)
        shares = np.diff(np.concatenate([[0.0], cur_cdf[at], [1.0]]))
        edges = np.unique(grid[np.linspace(0, k - 1, PLOT_BINS + 1).round().astype(int)])
        at = np.searchsorted(grid, edges)
        bins = {"edges": edges.tolist(),
                "reference": np.diff(np.concatenate([[0.0], self.cdf[at], [1.0]])).tolist(),
                "current": np.diff(np.concatenate([[0.0], cur_cdf[at], [1.0]])).tolist()}
        return ({"ks": ks, "wasserstein": wasserstein,
                 "psi": Statistic("psi", psi(self.decile_shares, shares))}, bins)


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
