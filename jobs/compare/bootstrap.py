"""Paired, seeded bootstrap of a metric's difference between two models on the same rows.

The scheme, fixed so that anyone can reproduce an interval with a naive loop:
`rng = np.random.default_rng(seed)`; resample b (b = 0 … B-1, in order) is the row positions
`rng.integers(0, n, size=n)`; both models are scored on those same rows (paired); the
difference is oriented so that positive means the challenger is better; the interval is
`np.quantile(differences, [(1-c)/2, 1-(1-c)/2])` over the resamples that were not skipped.

Resamples are drawn `k` at a time as `rng.integers(0, n, size=(k, n))`, which gives exactly
the stream of `k` successive `size=n` draws (tests/test_compare_job.py checks it, odd `n`
and chunk edges included), and `k` keeps a chunk to CHUNK positions (16 MB of int64), so
memory does not grow with rows x resamples.

Per resample, from the row positions `idx` of a chunk:
- rmse, mae, log_loss, accuracy: the mean of a per-row quantity (squared error, absolute
  error, -log p of the true class with sklearn's clipping, correct or not), `v[idx].mean(1)`
  over the whole chunk at once;
- r2: the same with sums of squared errors and of the centred target and its square;
- precision, recall, f1 (binary, at the model's threshold): tp, fp and fn counted from one
  gathered int8 outcome code per row, chunk-wide; a zero denominator gives 0, as sklearn's
  `zero_division=0` (what the point values use);
- auc and macro_f1 loop over the resamples (one bincount each, O(n) numpy work, a few µs of
  Python): auc in the Mann-Whitney form (ties count one half) from each resample's counts per
  group of tied scores in score order, in exact integers, so no sort per resample; macro_f1
  from each resample's confusion matrix (classes² counts: 8 MB at the 1,000-class limit).

Skipped (degenerate) resamples: auc with one class drawn, r2 with a constant target drawn
(sklearn would answer 0 or 1 by convention, which says nothing about the models).

Measured on this machine (2 cores, numpy 2.4.6, `python -m jobs.compare.bootstrap`), 200,000
rows, B = 1,000, both models: rmse 1.3-1.5 s, mae 1.4 s, r2 2.3 s, log_loss 1.5 s, accuracy
1.5 s, f1 1.5 s, auc 2.9 s (all scores distinct; 1.7 s with many ties); multiclass (3 classes)
macro_f1 1.5 s, log_loss 1.3 s. Drawing the 2e8 row positions alone takes 0.8 s of each
(the exact scheme fixes it). The whole benchmark peaked at 100 MB resident.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from jobs.compare.params import HIGHER_IS_BETTER

CHUNK = 2_000_000
"""Row positions per chunk of resamples (int64: 16 MB; the per-chunk temporaries are a few
times that)."""



@dataclass
class Scored:
    """One model's holdout predictions: (n,) for regression and binary (the positive class's
    probability), (n, classes) for multiclass."""

    predictions: np.ndarray
    threshold: float | None = None


@dataclass
class Interval:
    ci: tuple[float, float] | None
    """None when every resample was skipped."""
    skipped: int
    differences: np.ndarray
    """per resample, oriented (positive = challenger better); NaN where skipped."""


class _Chunk:
    """The row positions of k resamples, and what both models' statistics share about them."""

    def __init__(self, idx: np.ndarray) -> None:
        self.idx = idx
        self.k, self.n = idx.shape
        self._shared: dict[str, np.ndarray] = {}

    def mean(self, values: np.ndarray) -> np.ndarray:
        return np.take(values, self.idx).mean(axis=1)

    def sum(self, values: np.ndarray) -> np.ndarray:
        return np.take(values, self.idx).sum(axis=1)

    def count(self, codes: np.ndarray, which: tuple[int, ...]) -> list[np.ndarray]:
        """Per resample, how many drawn rows have each code of `which` (few codes)."""
        drawn = np.take(codes, self.idx)
        return [np.count_nonzero(drawn == code, axis=1) for code in which]

    def each(self, codes: np.ndarray, size: int, value: Callable[[np.ndarray], float]
             ) -> np.ndarray:
        """Per resample, value(counts) where counts[c] is how many drawn rows have code c
        (0 … size-1).

        One bincount per resample, so memory is one (size,) count however many codes (a
        1,000-class confusion matrix is 10^6), and no (resample, code) keys are built; int32
        codes gather and count about twice as fast as int64 here."""
        codes = codes.astype(np.int32, copy=False)
        out = np.empty(self.k, dtype=np.float64)
        for row, drawn in enumerate(self.idx):
            out[row] = value(np.bincount(np.take(codes, drawn), minlength=size))
        return out

    def shared(self, key: str, compute: Callable[[], np.ndarray]) -> np.ndarray:
        """A value both models need (it depends on the target only): computed once."""
        if key not in self._shared:
            self._shared[key] = compute()
        return self._shared[key]


Statistic = Callable[[_Chunk], np.ndarray]
"""A chunk → the metric on each of its resamples, (k,) float64, NaN where degenerate."""


def draws(n: int, resamples: int, seed: int) -> Iterator[np.ndarray]:
    """The resamples' row positions, (k, n) at a time, in the order of the scheme."""
    rng = np.random.default_rng(seed)
    per_chunk = max(1, CHUNK // max(n, 1))
    done = 0
    while done < resamples:
        k = min(per_chunk, resamples - done)
        yield rng.integers(0, n, size=(k, n))
        done += k


def paired(metric: str, y: np.ndarray, challenger: Scored, champion: Scored, *,
           n_classes: int | None, resamples: int, confidence: float, seed: int) -> Interval:
    """The bootstrap interval of the oriented difference challenger vs champion."""
    ours = statistic(metric, y, challenger, n_classes)
    theirs = statistic(metric, y, champion, n_classes)
    sign = 1.0 if HIGHER_IS_BETTER[metric] else -1.0
    parts = []
    for idx in draws(len(y), resamples, seed):
        chunk = _Chunk(idx)
        parts.append(sign * (ours(chunk) - theirs(chunk)))
    differences = np.concatenate(parts) if parts else np.empty(0)
    return interval(differences, confidence)


def one_model(metrics: tuple[str, ...], y: np.ndarray, scored: Scored, *,
              n_classes: int | None, resamples: int, seed: int) -> dict[str, np.ndarray]:
    """One model's metrics on resamples of its holdout (a model card's intervals): the
    scheme of `paired`, each resample's rows drawn once and every metric scored on them.
    Per metric, its value on each resample, NaN where degenerate."""
    statistics = {m: statistic(m, y, scored, n_classes) for m in metrics}
    parts: dict[str, list[np.ndarray]] = {m: [] for m in metrics}
    for idx in draws(len(y), resamples, seed):
        chunk = _Chunk(idx)
        for metric, values in statistics.items():
            parts[metric].append(values(chunk))
    return {m: np.concatenate(p) if p else np.empty(0) for m, p in parts.items()}


def interval(differences: np.ndarray, confidence: float) -> Interval:
    kept = differences[~np.isnan(differences)]
    skipped = len(differences) - len(kept)
    if not len(kept):
        return Interval(None, skipped, differences)
    tail = (1 - confidence) / 2
    low, high = np.quantile(kept, [tail, 1 - tail])
    return Interval((float(low), float(high)), skipped, differences)


# -- the metrics per resample ----------------------------------------------------------------


def statistic(metric: str, y: np.ndarray, scored: Scored, n_classes: int | None) -> Statistic:
    p = scored.predictions
    if metric in ("rmse", "mae", "r2"):
        return _regression(metric, np.asarray(y, dtype=np.float64), p)
    if p.ndim == 2:
        return _multiclass(metric, y, p, n_classes or p.shape[1])
    return _binary(metric, y, p, scored.threshold if scored.threshold is not None else 0.5)


def _regression(metric: str, y: np.ndarray, p: np.ndarray) -> Statistic:
    error = y - p
    if metric == "mae":
        absolute = np.abs(error)
        return lambda chunk: chunk.mean(absolute)
    squared = error * error
    if metric == "rmse":
        return lambda chunk: np.sqrt(chunk.mean(squared))
    # centring on the holdout's mean keeps sum(y^2) - sum(y)^2/n from cancelling badly
    centred = y - y.mean()
    centred_squared = centred * centred

    def spread(chunk: _Chunk) -> np.ndarray:
        total = chunk.sum(centred_squared)
        value = total - chunk.sum(centred) ** 2 / chunk.n
        # a constant target drawn: what is left is rounding noise around 0
        return np.where(value <= 1e-12 * total, np.nan, value)

    def r2(chunk: _Chunk) -> np.ndarray:
        return 1.0 - chunk.sum(squared) / chunk.shared("r2.spread", lambda: spread(chunk))

    return r2


def _log_loss_rows(probability_of_true: np.ndarray) -> np.ndarray:
    # sklearn.metrics.log_loss clips every probability to [eps, 1-eps] before the log
    eps = np.finfo(np.float64).eps
    return -np.log(np.clip(probability_of_true, eps, 1 - eps))


_FN, _FP, _TP = 1, 2, 3
"""Binary outcome codes, 2 * decided + positive (0 is a true negative)."""


def _binary(metric: str, y: np.ndarray, p: np.ndarray, threshold: float) -> Statistic:
    positive = np.asarray(y) == 1
    if metric == "auc":
        return _auc(positive, p)
    if metric == "log_loss":
        # sklearn stacks [1-p, p] and clips both columns
        loss = _log_loss_rows(np.where(positive, p, 1.0 - p))
        return lambda chunk: chunk.mean(loss)
    decided = p >= threshold
    if metric == "accuracy":
        correct = (decided == positive).astype(np.float64)
        return lambda chunk: chunk.mean(correct)
    codes = (2 * decided + positive).astype(np.int8)

    def ratio(chunk: _Chunk) -> np.ndarray:
        fn, fp, tp = chunk.count(codes, (_FN, _FP, _TP))
        # sklearn's forms: precision tp/(tp+fp), recall tp/(tp+fn), f1 2tp/(2tp+fp+fn)
        if metric == "precision":
            return _divide(tp, tp + fp)
        if metric == "recall":
            return _divide(tp, tp + fn)
        return _divide(2 * tp, 2 * tp + fp + fn)

    return ratio


def _divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, 0 where the denominator is 0 (sklearn's zero_division=0)."""
    out = np.zeros(np.shape(numerator), dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def _auc(positive: np.ndarray, p: np.ndarray) -> Statistic:
    order = np.argsort(p, kind="stable")
    ranked = p[order]
    # rows with the same score form a group, numbered in score order (ties count one half
    # against each other); code positive * groups + group
    group = np.empty(len(p), dtype=np.int64)
    group[order] = np.cumsum(np.r_[False, ranked[1:] != ranked[:-1]])
    groups = int(group.max()) + 1 if len(p) else 0
    codes = positive * groups + group

    def one(counts: np.ndarray) -> float:
        negatives, positives = counts[:groups], counts[groups:]
        n_pos, n_neg = int(positives.sum()), int(negatives.sum())
        if not n_pos or not n_neg:
            return math.nan
        below = np.cumsum(negatives) - negatives
        # twice the Mann-Whitney count, in integers: exact, one rounding in the division
        wins = int(positives @ (2 * below + negatives))
        return wins / (2 * n_pos * n_neg)

    def auc(chunk: _Chunk) -> np.ndarray:
        return chunk.each(codes, 2 * groups, one)

    return auc


def _multiclass(metric: str, y: np.ndarray, p: np.ndarray, n_classes: int) -> Statistic:
    y = np.asarray(y, dtype=np.int64)
    if metric == "log_loss":
        loss = _log_loss_rows(p[np.arange(len(y)), y])
        return lambda chunk: chunk.mean(loss)
    decided = p.argmax(axis=1)
    if metric == "accuracy":
        correct = (decided == y).astype(np.float64)
        return lambda chunk: chunk.mean(correct)
    codes = y * n_classes + decided  # a cell of the confusion matrix

    def one(counts: np.ndarray) -> float:
        confusion = counts.reshape(n_classes, n_classes)
        # sklearn's f1 = 2tp / (true + predicted), 0 for a class neither drawn nor predicted
        f1 = _divide(2 * np.diagonal(confusion), confusion.sum(axis=1) + confusion.sum(axis=0))
        return float(f1.mean())

    def macro_f1(chunk: _Chunk) -> np.ndarray:
        return chunk.each(codes, n_classes * n_classes, one)

    return macro_f1


# -- the measurement quoted in the docstring ---------------------------------------------------


def _benchmark(rows: int = 200_000, resamples: int = 1000) -> None:
    import time

    rng = np.random.default_rng(0)
    y = rng.normal(100, 30, rows)
    a, b = Scored(y + rng.normal(0, 10, rows)), Scored(y + rng.normal(0, 11, rows))
    labels = (rng.random(rows) < 0.3).astype(np.int32)
    pa = Scored(np.clip(labels * 0.3 + rng.random(rows) * 0.7, 0, 1), 0.5)
    pb = Scored(np.clip(labels * 0.2 + rng.random(rows) * 0.8, 0, 1), 0.5)
    classes = rng.integers(0, 3, rows)
    qa, qb = rng.dirichlet([1, 1, 1], rows), rng.dirichlet([1, 1, 1], rows)
    cases = [(m, y, a, b, None) for m in ("rmse", "mae", "r2")]
    cases += [(m, labels, pa, pb, None) for m in ("log_loss", "accuracy", "f1", "auc")]
    cases += [("auc", labels, Scored(np.round(pa.predictions, 2)),
               Scored(np.round(pb.predictions, 2)), None)]  # many ties
    cases += [(m, classes, Scored(qa), Scored(qb), 3) for m in ("macro_f1", "log_loss")]
    for metric, truth, ours, theirs, n_classes in cases:
        started = time.perf_counter()
        paired(metric, truth, ours, theirs, n_classes=n_classes, resamples=resamples,
               confidence=0.95, seed=42)
        print(f"{metric:9} {n_classes or '':2} {time.perf_counter() - started:6.2f} s")


if __name__ == "__main__":
    _benchmark()
