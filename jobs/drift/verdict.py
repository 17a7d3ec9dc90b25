"""From statistics to a verdict, column by column.

- A column with fewer than `min_rows` values on either side gets no verdict ("not enough
  data"): a handful of rows says nothing about a distribution.
- An effect-size test (Wasserstein, Jensen-Shannon, PSI) calls drift only when the effect
  reaches its threshold *and* the difference is significant (KS for numbers, chi-square for
  categories, p < `significance`): on a small sample the effect size is mostly noise (200-
  row resamples of the training data drifted on prediction in 21.5% of draws by effect
  size alone), the p-value knows the sample size. `significance = 1` turns this off.
- A verdict never rests on an estimate whose bounds leave it open: when the fast path's
  [low, high] (or its p-value range) straddles the threshold, the statistic is computed
  exactly from the raw reference (`raw_reference`, read only then).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from jobs.drift import statistics as st
from jobs.drift.reference import NumericReference

EXACT_CURRENT_LIMIT = 50_000
"""With the reference's raw values at hand, current columns up to this size are compared
exactly (scipy); larger ones take the fast path (and the exact one only when needed)."""
EFFECT_TESTS = ("wasserstein", "jensenshannon", "psi")
_RELATIVE = 1e-9
"""Float slack when deciding that an estimate's bounds settle a verdict."""

RawReference = Callable[[], np.ndarray]


def _settled(low: float, high: float, threshold: float, *, p_value: bool) -> bool | None:
    """The verdict if every value in [low, high] gives the same one, else None. A p-value
    drifts below its threshold; a distance at or above it."""
    slack = _RELATIVE * max(1.0, abs(threshold))
    if p_value:
        if high < threshold - slack:
            return True
        if low >= threshold + slack:
            return False
        return None
    if low >= threshold + slack:
        return True
    if high < threshold - slack:
        return False
    return None


def numeric(name: str, reference: NumericReference, current: np.ndarray, test: str,
            threshold: float | None, *, significance: float, min_rows: int,
            raw_reference: RawReference | None, presorted: bool = False) -> dict[str, Any]:
    """`presorted`: `current` is sorted and holds no NaN (the drift job sorts with polars)."""
    if not presorted:
        current = np.sort(current[~np.isnan(current)].astype(np.float64, copy=False))
    n, m = reference.n, len(current)
    test = st.auto_test("numeric", n) if test == "auto" else test
    threshold = st.DEFAULT_THRESHOLDS[test] if threshold is None else threshold
    out: dict[str, Any] = {"column": name, "kind": "numeric", "test": test,
                           "threshold": threshold, "rows": {"reference": n, "current": m}}
    if m == 0:
        return {**out, "drifted": None, "note": "no values in the current data"}
    # The grid's bounds first (no pass over the current's values); the stretches between
    # all points only when those leave the verdict open.
    fast, bins = reference.compare_with_bins(current, presorted=True, precise=False)
    out["bins"] = bins
    gate = test in EFFECT_TESTS and significance < 1
    fallback = refined = False
    if reference.values is not None and m <= EXACT_CURRENT_LIMIT:
        chosen, p = _exact_numeric(reference.values, current, test, gate)
    else:
        chosen, p, open_verdict = _estimated(reference, fast, m, test, threshold, gate,
                                             significance)
        if open_verdict:
            refined = True
            fast = reference.compare_with_bins(current, presorted=True, precise=True)[0]
            chosen, p, open_verdict = _estimated(reference, fast, m, test, threshold, gate,
                                                 significance)
        # A column without a verdict (too few rows) is not worth reading the reference for.
        fallback = open_verdict and min(n, m) >= min_rows
        if fallback and raw_reference is not None:
            chosen, p = _exact_numeric(raw_reference(), current, test, gate)
    enough = min(n, m) >= min_rows
    drifted = _drifted(test, chosen, p, threshold, gate, significance) if enough else None
    if isinstance(p, _LazyP):
        p = p.found
    out.update(_described(chosen, p, test, gate, significance), exact_fallback=fallback,
               refined=refined, drifted=drifted)
    return out if enough else {**out, "note": _too_few(n, m, min_rows)}


def _estimated(reference: NumericReference, fast: dict[str, st.Statistic], m: int, test: str,
               threshold: float, gate: bool, significance: float
               ) -> tuple[st.Statistic, st.Statistic | None, bool]:
    """The estimate of the test's statistic, its p-value when the verdict needs one, and
    whether their bounds leave the verdict open."""
    chosen, p = fast[test], None
    if test == "ks":
        chosen = p = reference.with_p_value(chosen, m)
        return chosen, p, _open(chosen, threshold)
    # The significance behind an effect matters only once the effect reaches its
    # threshold (its p-value is then computed, and may itself be left open).
    effect = _settled(*_bounds(chosen), threshold, p_value=False)
    open_verdict = effect is None
    if gate and effect:
        p = reference.ks_tail_bound(fast["ks"], m)
        if p is None or p.p_high >= significance / 2:
            p = reference.with_p_value(fast["ks"], m)
        open_verdict = _settled(p.p_low, p.p_high, significance, p_value=True) is None
    return chosen, p, open_verdict


def categorical(name: str, ref: dict[str, int], cur: dict[str, int], test: str,
                threshold: float | None, *, significance: float,
                min_rows: int) -> dict[str, Any]:
    n, m = sum(ref.values()), sum(cur.values())
    test = st.auto_test("categorical", n) if test == "auto" else test
    threshold = st.DEFAULT_THRESHOLDS[test] if threshold is None else threshold
    out: dict[str, Any] = {"column": name, "kind": "categorical", "test": test,
                           "threshold": threshold, "rows": {"reference": n, "current": m}}
    if m == 0 or n == 0:
        side = "current" if m == 0 else "reference"
        return {**out, "drifted": None, "note": f"no values in the {side} data"}
    gate = test in EFFECT_TESTS and significance < 1
    chosen = {"chisquare": st.chisquare, "jensenshannon": st.jensenshannon,
              "psi": st.psi_categorical}[test](ref, cur)
    p = st.chisquare(ref, cur) if gate else None  # cheap on counts: always shown
    top = sorted(set(ref) | set(cur), key=lambda c: (-(ref.get(c, 0) + cur.get(c, 0)), c))[:20]
    enough = min(n, m) >= min_rows
    out.update(_described(chosen, p, test, gate, significance), exact_fallback=False,
               unseen=sorted(set(cur) - set(ref))[:20],
               bins={"categories": top, "reference": [ref.get(c, 0) / n for c in top],
                     "current": [cur.get(c, 0) / m for c in top]},
               drifted=_drifted(test, chosen, p, threshold, gate, significance)
               if enough else None)
    return out if enough else {**out, "note": _too_few(n, m, min_rows)}


def _open(statistic: st.Statistic, threshold: float) -> bool:
    """Whether an approximate statistic's bounds leave its verdict open."""
    if not statistic.approximate:
        return False
    if statistic.test in st.P_VALUE_TESTS:
        return _settled(statistic.p_low, statistic.p_high, threshold, p_value=True) is None
    return _settled(*_bounds(statistic), threshold, p_value=False) is None


def _bounds(statistic: st.Statistic) -> tuple[float, float]:
    if statistic.low is None or statistic.high is None:
        return statistic.statistic, statistic.statistic
    return statistic.low, statistic.high


def _exact_numeric(reference: np.ndarray, current: np.ndarray, test: str, gate: bool
                   ) -> tuple[st.Statistic, st.Statistic | None]:
    """The exact statistic, and the KS test behind an effect size — computed only when the
    effect reaches its threshold (below it there is no drift whatever the p-value)."""
    chosen = {"ks": st.ks_exact, "wasserstein": st.wasserstein_exact,
              "psi": st.psi_numeric}[test](reference, current)
    if test == "ks":
        return chosen, chosen
    return chosen, _LazyP(lambda: st.ks_exact(reference, current)) if gate else None


class _LazyP:
    """A p-value computed when first asked for."""

    def __init__(self, compute: Callable[[], st.Statistic]) -> None:
        self._compute = compute
        self.found: st.Statistic | None = None

    def get(self) -> st.Statistic:
        if self.found is None:
            self.found = self._compute()
        return self.found


def _drifted(test: str, chosen: st.Statistic, p: st.Statistic | _LazyP | None,
             threshold: float, gate: bool, significance: float) -> bool:
    if test in st.P_VALUE_TESTS:
        return st.drifted(test, chosen.value, threshold)
    if not st.drifted(test, chosen.statistic, threshold):
        return False
    if not gate:
        return True
    p = p.get() if isinstance(p, _LazyP) else p
    return p is not None and p.value < significance


def _described(chosen: st.Statistic, p: st.Statistic | None, test: str, gate: bool,
               significance: float) -> dict[str, Any]:
    """What a report keeps of a column's numbers: the statistic (an estimate says so and
    gives its bounds), and the p-value with the test it came from (an exact one behind an
    effect size is computed only when the effect reaches its threshold)."""
    out: dict[str, Any] = {"statistic": chosen.statistic, "approximate": chosen.approximate,
                           "low": chosen.low if chosen.approximate else None,
                           "high": chosen.high if chosen.approximate else None,
                           "bound": chosen.bound}
    if test in st.P_VALUE_TESTS:
        out.update(p_value=chosen.p_value, p_test=test)
    elif gate and p is not None:
        out.update(p_value=p.p_value, p_test=p.test, significance=significance,
                   p_approximate=p.approximate, p_at_most=p.p_at_most)
    else:
        out.update(p_value=None, p_test=None)
    return out


def _too_few(n: int, m: int, min_rows: int) -> str:
    side, rows = ("current", m) if m < min_rows else ("reference", n)
    return (f"not enough data: {rows} {side} value{'s' if rows != 1 else ''} "
            f"(min_rows {min_rows})")


def correct(columns: list[dict[str, Any]], method: str | None) -> None:
    """Re-judge the p-value columns together when a multiple-testing correction is asked
    for (columns without a verdict stay without)."""
    if method in (None, "none"):
        return
    judged = [c for c in columns if c["test"] in st.P_VALUE_TESTS and c["drifted"] is not None]
    if not judged:
        return
    alpha = judged[0]["threshold"]
    for column, verdict in zip(judged, st.corrected_verdicts(
            [c["p_value"] for c in judged], alpha, method), strict=True):
        column["drifted"] = verdict
        column["correction"] = method
