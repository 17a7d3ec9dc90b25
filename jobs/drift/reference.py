"""A numeric reference column summarised once (stored with the model version), and the fast
comparison of a current column with it.

The summary: a grid of up to 2,001 quantile points of the reference, its CDF at each point
and just below it, its deciles (grid points too), and — for a reference of at most
`RAW_LIMIT` rows — the values themselves, so that its tests can be exact.

The comparison sorts the current column once. Between two neighbouring grid points the
reference's CDF is unknown but monotone: it lies in a band [F(g_i), F(g_{i+1}-)], while the
current's CDF is known exactly everywhere. On each stretch between consecutive points of
both samples, |F_ref - F_cur| therefore lies between the distance from F_cur to the band and
the farther edge of the band. Summed (Wasserstein) or maximised (Kolmogorov-Smirnov) this
gives a lower and an upper bound of the exact statistic; the estimate is their midpoint.
Where the reference has no mass between two grid points (most of the range, on a fine
grid) the band is a line and the stretch is exact; wide, sparsely filled intervals (far
outliers) no longer multiply the current's mass by their width, as the grid-only estimate
did (a bound of 33 around an exact 0.6). PSI on the reference's deciles is exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from jobs.drift.statistics import (
    PLOT_BINS,
    Statistic,
    decile_edges,
    normalised,
    psi,
    quantile_points,
    sorted_shares,
)

GRID_POINTS = 2_000
"""A multiple of 10, so the reference deciles are grid points."""
RAW_LIMIT = 10_000
"""References of at most this many values keep them: scipy's KS test is exact up to this
size (above it scipy uses the asymptotic distribution, which the fast path reproduces)."""
REFINE_POINTS = 2_000
"""At most this many reference values are added to the grid where it is too coarse…"""
REFINE_TOLERANCE = 1e-4
"""…which is where a grid interval's (reference mass inside x width) exceeds this many
reference standard deviations: far outliers, long tails."""
STRETCH_CHUNK = 1 << 20
"""Current values per chunk when summing the stretches between all points."""
SCIPY_EXACT_KS = 10_000
"""scipy's ks_2samp computes the exact p-value when both samples have at most this many."""


@dataclass
class NumericReference:
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
    values: np.ndarray | None = None
    """The sorted values themselves, for a reference of at most RAW_LIMIT values."""
    plot_edges: np.ndarray | None = None
    """The reference's 20-quantile points (grid points): the bins of the plots."""

    @classmethod
    def build(cls, values: np.ndarray, grid_points: int = GRID_POINTS,
              keep_values: bool = True) -> NumericReference:
        return cls.from_sorted(np.sort(values[~np.isnan(values)].astype(np.float64)),
                               grid_points, keep_values)

    @classmethod
    def from_sorted(cls, values: np.ndarray, grid_points: int = GRID_POINTS,
                    keep_values: bool = True) -> NumericReference:
        """The summary of values already sorted, without NaN (the drift job sorts with
        polars, several times faster than numpy). Everything is read off the sorted values
        by index or binary search: no pass over them but the mean and the deviation."""
        if len(values) == 0:
            raise ValueError("a numeric reference needs at least one non-missing value")
        quantiles = np.unique(quantile_points(values, np.arange(grid_points + 1) / grid_points))
        n, std = len(values), float(values.std())
        grid = _refined(values, quantiles, std)
        cdf = np.searchsorted(values, grid, side="right") / n
        below = np.searchsorted(values, grid, side="left") / n
        deciles = decile_edges(values)
        kept = values.copy() if keep_values and n <= RAW_LIMIT else None
        # Levels i / 20 are the grid's levels 100 i / 2000: the same doubles, grid points.
        plot_edges = np.unique(quantile_points(values, np.arange(21) / 20))
        return cls(n, float(values.mean()), std, grid, cdf, below, deciles,
                   sorted_shares(values, deciles), kept, plot_edges)

    def to_json(self) -> dict[str, Any]:
        return {"n": self.n, "mean": self.mean, "std": self.std, "grid": self.grid.tolist(),
                "cdf": self.cdf.tolist(), "below": self.below.tolist(),
                "deciles": self.deciles.tolist(), "decile_shares": self.decile_shares.tolist(),
                "values": None if self.values is None else self.values.tolist(),
                "plot_edges": None if self.plot_edges is None else self.plot_edges.tolist()}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> NumericReference:
        raw, edges = d.get("values"), d.get("plot_edges")
        grid = np.array(d["grid"], dtype=np.float64)
        if edges is None:  # a profile stored before plot edges were kept
            edges = grid[np.linspace(0, len(grid) - 1, PLOT_BINS + 1).round().astype(int)]
        return cls(d["n"], d["mean"], d["std"], grid, np.array(d["cdf"]),
                   np.array(d["below"]), np.array(d["deciles"]), np.array(d["decile_shares"]),
                   None if raw is None else np.sort(np.array(raw, dtype=np.float64)),
                   np.unique(np.array(edges, dtype=np.float64)))

    def compare(self, current: np.ndarray) -> dict[str, Statistic]:
        """KS (with its p-value), normalised Wasserstein and PSI of `current` against this
        reference."""
        found = self.compare_with_bins(current)[0]
        m = int(np.count_nonzero(~np.isnan(current)))
        return {**found, "ks": self.with_p_value(found["ks"], m)}

    def compare_with_bins(self, current: np.ndarray, *, presorted: bool = False,
                          precise: bool = True
                          ) -> tuple[dict[str, Statistic], dict[str, Any]]:
        """The statistics (KS without its p-value: `with_p_value`, only when a verdict needs
        it, as scipy's distribution can take most of a second for some statistics), and both
        distributions on the reference's 20 quantile bins (for plots: the reference has 5%
        in each; where the current's mass went is the picture), read off the same pass.

        `presorted`: `current` is sorted and has no NaN. `precise=False` bounds the
        statistics from both CDFs at the grid points alone (`_grid_bounds`: no pass over
        the current's values), wider bounds that settle most verdicts; the stretches
        between all points (`_stretch_bounds`) make them tight."""
        if not presorted:
            current = current[~np.isnan(current)].astype(np.float64)  # a copy of our own…
            current.sort()  # …sorted in place
        m = len(current)
        if m == 0:
            raise ValueError("the current column has no non-missing value")
        grid, k = self.grid, len(self.grid)
        cur_cdf = np.searchsorted(current, grid, side="right") / m
        cur_below = np.searchsorted(current, grid, side="left") / m
        w_low, w_high, ks_low, ks_high = (_stretch_bounds if precise else _grid_bounds)(
            self, current)
        ks = self._ks(ks_low, ks_high, cur_cdf, cur_below, m)
        low, high = normalised(w_low, self.std), normalised(w_high, self.std)
        wasserstein = Statistic("wasserstein", _mid(low, high), approximate=low != high,
                                low=low, high=high)
        # The deciles are grid points: their CDF is already known.
        at = np.searchsorted(grid, self.deciles)
        decile_shares = np.diff(np.concatenate([[0.0], cur_cdf[at], [1.0]]))
        edges = self.plot_edges if self.plot_edges is not None else grid[[0, k - 1]]
        at = np.searchsorted(grid, edges)
        bins = {"edges": edges.tolist(),
                "reference": np.diff(np.concatenate([[0.0], self.cdf[at], [1.0]])).tolist(),
                "current": np.diff(np.concatenate([[0.0], cur_cdf[at], [1.0]])).tolist()}
        return ({"ks": ks, "wasserstein": wasserstein,
                 "psi": Statistic("psi", psi(self.decile_shares, decile_shares))}, bins)

    def _ks(self, between_low: float, between_high: float, cur_cdf: np.ndarray,
            cur_below: np.ndarray, m: int) -> Statistic:
        """Exact at the grid points (both CDFs known there); between them the bounds of the
        stretches."""
        at_grid = float(max(np.max(np.abs(self.cdf - cur_cdf)),
                            np.max(np.abs(self.below - cur_below))))
        low = max(at_grid, between_low)
        high = max(at_grid, between_high)
        return Statistic("ks", _mid(low, high), approximate=True, low=low, high=high)

    def ks_tail_bound(self, ks: Statistic, m: int) -> Statistic | None:
        """A cheap upper bound of scipy's asymptotic KS p-value (the DKW inequality with
        Massart's constant: P(D_N >= d) <= 2 exp(-2 N d^2), for the distribution scipy
        uses), enough when it is far below the significance level: scipy's own value can
        take a second to compute for statistics between the bulk and the far tail."""
        if max(self.n, m) <= SCIPY_EXACT_KS or ks.low is None:
            return None
        big, small = sorted([float(self.n), float(m)], reverse=True)
        en = float(np.round(big * small / (big + small)))
        bound = min(1.0, 2 * math.exp(-2 * en * ks.low ** 2))
        return Statistic("ks", ks.statistic, bound, approximate=True, low=ks.low,
                         high=ks.high, p_low=0.0, p_high=bound, p_at_most=True)

    def with_p_value(self, ks: Statistic, m: int) -> Statistic:
        """The KS statistic with its p-value as scipy's ks_2samp computes it from the
        statistic when it uses the asymptotic distribution (either sample above
        SCIPY_EXACT_KS), and the p-values at its bounds; for smaller samples scipy's exact
        p-value cannot be reproduced here, so its range is left open ([0, 1]) and a verdict
        that depends on it is computed exactly."""
        from scipy import stats

        d, low, high = ks.statistic, ks.low, ks.high
        if max(self.n, m) > SCIPY_EXACT_KS:
            big, small = sorted([float(self.n), float(m)], reverse=True)
            en = float(np.round(big * small / (big + small)))
            p = float(stats.kstwo.sf(d, en))
            p_low, p_high = float(stats.kstwo.sf(high, en)), float(stats.kstwo.sf(low, en))
        else:
            en = self.n * m / (self.n + m)
            p = min(1.0, float(stats.kstwo.sf(d, max(1.0, round(en)))))
            p_low, p_high = 0.0, 1.0
        return Statistic("ks", d, min(max(p, 0.0), 1.0), approximate=True, low=low,
                         high=high, p_low=min(max(p_low, 0.0), 1.0),
                         p_high=min(max(p_high, 0.0), 1.0))


def _stretch_bounds(ref: NumericReference, current: np.ndarray
                    ) -> tuple[float, float, float, float]:
    """Bounds of Wasserstein (low, high) and KS between the grid points (low, high), from
    the stretches between consecutive points of the grid and the sorted current sample. On
    each stretch the current's CDF f is known and the reference's lies in the band [a, b] of
    the grid interval it is in (0 before the first grid point, 1 from the last one on), so
    |F_ref - F_cur| lies in [max(0, a - f, f - b), max(f - a, b - f)]. Two kinds of stretch,
    taken apart without merging the samples: from a current value, and from a grid point (a
    grid point goes before current values equal to it)."""
    grid, m = ref.grid, len(current)
    band_low = np.concatenate([[0.0], ref.cdf])  # by the number of grid points <= x
    band_high = np.concatenate([ref.below, [1.0]])
    found = [0.0, 0.0, 0.0, 0.0]  # w_low, w_high, ks_low, ks_high
    # From each current value to the next point (the next current value or grid point); the
    # current's CDF there counts it (the last of a run of ties counts them all, the others'
    # stretches have length 0). The current is sorted: how many values lie in each grid
    # interval says, by repetition, which interval each is in (no search per value). In
    # chunks of STRETCH_CHUNK values: a handful of arrays as long as the chunk, not the
    # column (10M values: 80 MB each).
    below = np.searchsorted(current, grid, side="left")  # current values under each point
    edges = np.concatenate([[0], below, [m]])
    next_point = np.append(grid, np.inf)
    for start in range(0, m, STRETCH_CHUNK):
        end = min(start + STRETCH_CHUNK, m)
        per_interval = np.diff(np.clip(edges, start, end))
        length = np.empty(end - start)
        length[:-1] = current[start + 1:end]
        length[-1] = current[end] if end < m else np.inf
        np.minimum(length, np.repeat(next_point, per_interval), out=length)
        length -= current[start:end]
        f = np.arange(start + 1, end + 1, dtype=np.float64)
        f /= m
        _add_stretches(found, length, f, np.repeat(band_low, per_interval),
                       np.repeat(band_high, per_interval))
    # From each grid point to the next point: the first current value at or above it, or
    # the next grid point; the current's CDF there counts the values below it.
    grid_length = np.minimum(np.append(current, np.inf)[below], np.append(grid[1:], np.inf))
    grid_length -= grid
    _add_stretches(found, grid_length, below / m, ref.cdf, band_high[1:])
    return found[0], found[1], found[2], found[3]


def _add_stretches(found: list[float], length: np.ndarray, f: np.ndarray, a: np.ndarray,
                   b: np.ndarray) -> None:
    """Adds stretches (their lengths, the current's CDF f on each, the reference's band
    [a, b]) to the bounds `found` (w_low, w_high, ks_low, ks_high)."""
    # The last stretch of all runs to infinity, where both CDFs are 1: nothing there.
    length[~np.isfinite(length)] = 0.0
    up, down = f - a, b - f  # both >= 0 exactly when f is inside the band
    high = np.maximum(up, down)
    low = np.negative(np.minimum(up, down, out=up), out=up)
    np.maximum(low, 0.0, out=low)
    found[0] += float(np.vdot(low, length))
    found[1] += float(np.vdot(high, length))
    # KS over stretches of positive length only: a zero-length one between tied values
    # holds no value of the current's CDF.
    positive = length > 0
    found[2] = max(found[2], float(np.max(low, where=positive, initial=0.0)))
    found[3] = max(found[3], float(np.max(high, where=positive, initial=0.0)))


def _grid_bounds(ref: NumericReference, current: np.ndarray
                 ) -> tuple[float, float, float, float]:
    """Bounds of Wasserstein and KS (as `_stretch_bounds`) from the two CDFs at the grid
    points only: inside the interval between two grid points the reference's CDF lies in
    its band [a, b] and the current's in its own [p, q], so |F_ref - F_cur| lies in
    [max(0, p - b, a - q), max(b - p, q - a)] all along it (an interval that holds no value
    of either sample has both bands reduced to points: exact). Outside the grid (below the
    reference's minimum, above its maximum) the reference's CDF is 0 or 1 and the stretches
    of the sorted current there are summed exactly."""
    grid, m = ref.grid, len(current)
    below = np.searchsorted(current, grid, side="left")
    upto = np.searchsorted(current, grid, side="right")
    a, b = ref.cdf[:-1], ref.below[1:]
    p, q = upto[:-1] / m, below[1:] / m
    high = np.maximum(b - p, q - a)
    low = np.maximum(np.maximum(p - b, a - q), 0.0)
    length = np.diff(grid)
    w_low, w_high = float(np.vdot(low, length)), float(np.vdot(high, length))
    ks_low = float(low.max(initial=0.0))
    ks_high = float(high.max(initial=0.0))
    # Below the grid the reference's CDF is 0: |F_ref - F_cur| is the current's CDF, j / m
    # from its j-th value to the next point; above, 1 - F_cur, from the last grid point on.
    # (KS there is the gap at the first or last grid point, already among the exact ones.)
    first, last = int(below[0]), int(upto[-1])
    if first:
        stretch = np.diff(np.append(current[:first], grid[0]))
        outside = float(np.vdot(np.arange(1, first + 1) / m, stretch))
        w_low, w_high = w_low + outside, w_high + outside
    if last < m:
        stretch = np.diff(np.concatenate([grid[-1:], current[last:]]))
        outside = float(np.vdot(1.0 - np.arange(last, m) / m, stretch))
        w_low, w_high = w_low + outside, w_high + outside
    return w_low, w_high, ks_low, ks_high


def _refined(values: np.ndarray, quantiles: np.ndarray, std: float) -> np.ndarray:
    """The quantile grid, with the reference's own values added inside the intervals where
    not knowing how its mass spreads costs most (mass inside x width: far outliers, long
    tails), largest first, up to REFINE_POINTS values."""
    if len(quantiles) < 2 or std == 0:
        return quantiles
    first = np.searchsorted(values, quantiles[:-1], side="right")  # first value inside
    end = np.searchsorted(values, quantiles[1:], side="left")  # one past the last inside
    inside = end - first
    cost = inside / len(values) * np.diff(quantiles)
    wanted = [i for i in np.argsort(-cost, kind="stable")
              if cost[i] > REFINE_TOLERANCE * std and inside[i] > 0]
    extra, taken = [], 0
    for i in wanted:
        if taken + inside[i] > REFINE_POINTS:
            break
        extra.append(values[first[i]:end[i]])
        taken += int(inside[i])
    return np.unique(np.concatenate([quantiles, *extra])) if extra else quantiles


def _mid(low: float, high: float) -> float:
    if math.isinf(high):
        return high if math.isinf(low) else low
    return (low + high) / 2
