"""drift: compare a current data version with a model's reference (its training data
versions), column by column, and the model's predictions on both.

Columns are the model's inputs: categorical ones (and text) are compared by their category
counts, the others as numbers (dates as epoch seconds, booleans as 0/1). The test per
column is `auto` (see statistics.py) unless the params name one for all numeric or all
categorical columns. Prediction drift compares the version's scores on (a sample of) the
reference with its scores on the current rows. The whole report, with binned reference and
current distributions for plots, goes to the artifact store; the result is its summary.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from jobs.context import JobContext, JobError
from jobs.drift import statistics as st
from jobs.drift.params import DESCRIPTION, check_params

__all__ = ["DESCRIPTION", "check_params", "run"]
PREDICTION_SAMPLE = 100_000
PLOT_BINS = 20


def _read(items: list[dict[str, Any]], ctx: JobContext, columns: list[str]) -> Any:
    import polars as pl

    frames = []
    for item in items:
        path = ctx.artifacts.verify(item["snapshot_sha"])
        frame = pl.read_parquet(path)
        frames.append(frame.select([c for c in columns if c in frame.columns]))
    return pl.concat(frames, how="diagonal_relaxed")


def _numbers(column: Any) -> np.ndarray:
    import polars as pl

    dtype = column.dtype
    if dtype == pl.Boolean:
        column = column.cast(pl.Float64)
    elif dtype == pl.Date or isinstance(dtype, pl.Datetime):
        column = column.cast(pl.Datetime("us")).dt.epoch("us").cast(pl.Float64) / 1e6
    elif dtype == pl.String:
        raise JobError(f"column {column.name!r} is text where the model has a number")
    return column.cast(pl.Float64).drop_nulls().to_numpy()


def _counts(column: Any) -> dict[str, int]:
    import polars as pl

    counts = column.cast(pl.String).drop_nulls().value_counts()
    return {str(k): int(v) for k, v in counts.iter_rows()}


def _numeric(name: str, ref: np.ndarray, cur: np.ndarray, test: str,
             threshold: float | None) -> dict[str, Any]:
    if len(ref) == 0 or len(cur) == 0:
        return {"column": name, "kind": "numeric", "test": None, "drifted": False,
                "note": "no values on one side"}
    test = st.auto_test("numeric", len(ref)) if test == "auto" else test
    small = len(ref) <= st.SMALL_REFERENCE and len(cur) <= 50_000
    if small:
        result = {"ks": st.ks_exact, "wasserstein": st.wasserstein_exact,
                  "psi": st.psi_numeric}[test](ref, cur)
    else:
        result = st.NumericReference.build(ref).compare(cur)[test]
    threshold = st.DEFAULT_THRESHOLDS[test] if threshold is None else threshold
    low, high = float(ref.min()), float(ref.max())
    edges = np.linspace(low, high, PLOT_BINS + 1) if high > low else np.array([low, low + 1])
    return {"column": name, "kind": "numeric", "test": test,
            "statistic": result.statistic, "p_value": result.p_value,
            "approximate": result.approximate, "bound": result.bound,
            "threshold": threshold, "drifted": st.drifted(test, result.value, threshold),
            "bins": {"edges": edges.tolist(),
                     "reference": _hist(ref, edges), "current": _hist(cur, edges)}}


def _hist(values: np.ndarray, edges: np.ndarray) -> list[float]:
    """Shares below the first edge, in each bin, above the last edge."""
    counts = np.bincount(np.searchsorted(edges, values, side="right"),
                         minlength=len(edges) + 1)
    return (counts / max(len(values), 1)).tolist()


def _categorical(name: str, ref: dict[str, int], cur: dict[str, int], test: str,
                 threshold: float | None) -> dict[str, Any]:
    if not ref or not cur:
        return {"column": name, "kind": "categorical", "test": None, "drifted": False,
                "note": "no values on one side"}
    n_ref = sum(ref.values())
    test = st.auto_test("categorical", n_ref) if test == "auto" else test
    result = {"chisquare": st.chisquare, "jensenshannon": st.jensenshannon,
              "psi": st.psi_categorical}[test](ref, cur)
    threshold = st.DEFAULT_THRESHOLDS[test] if threshold is None else threshold
    top = sorted(set(ref) | set(cur), key=lambda c: -(ref.get(c, 0) + cur.get(c, 0)))[:20]
    n_cur = sum(cur.values())
    return {"column": name, "kind": "categorical", "test": test,
            "statistic": result.statistic, "p_value": result.p_value, "approximate": False,
            "bound": None, "threshold": threshold,
            "drifted": st.drifted(test, result.value, threshold),
            "unseen": sorted(set(cur) - set(ref))[:20],
            "bins": {"categories": top, "reference": [ref.get(c, 0) / n_ref for c in top],
                     "current": [cur.get(c, 0) / n_cur for c in top]}}


def run(params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    import orjson

    params = check_params(params)
    signature = params["signature"]
    inputs = signature["inputs"]
    names = [i["name"] for i in inputs]
    reference = _read(params["reference"], ctx, names)
    current = _read(params["current"], ctx, names)
    missing = [n for n in names if n not in current.columns]
    if missing:
        raise JobError(f"the current data has no column {missing[0]!r} (a model input)")
    thresholds = params["thresholds"]
    ctx.log.info("drift of %s rows against %s reference rows, %s columns", current.height,
                 reference.height, len(names))

    def one(item: dict[str, Any]) -> dict[str, Any]:
        name = item["name"]
        categorical = item.get("categorical") or item["dtype"] == "string"
        if categorical:
            return _categorical(name, _counts(reference[name]), _counts(current[name]),
                                params["categorical_test"], thresholds.get(name))
        return _numeric(name, _numbers(reference[name]), _numbers(current[name]),
                        params["numeric_test"], thresholds.get(name))

    # Columns in parallel: the heavy parts (sorting, searchsorted) release the GIL.
    with ThreadPoolExecutor(max_workers=2) as pool:
        columns = list(pool.map(one, inputs))
    _correct(columns, params["correction"])
    judged = [c for c in columns if c["test"] is not None]
    share = sum(c["drifted"] for c in judged) / len(judged) if judged else 0.0
    prediction = _prediction_drift(params, reference, current, ctx)
    report = {"model": params.get("model"), "version": params.get("version"),
              "reference": params["reference"], "current": params["current"],
              "columns": columns, "drift_share": share,
              "dataset_drift": share >= params["share"], "share_threshold": params["share"],
              "correction": params["correction"], "prediction": prediction,
              "rows": {"reference": reference.height, "current": current.height}}
    report_sha = ctx.artifacts.put_bytes(orjson.dumps(report, option=orjson.OPT_SERIALIZE_NUMPY))
    summary = [{k: c.get(k) for k in ("column", "kind", "test", "statistic", "p_value",
                                      "threshold", "drifted", "approximate", "bound")}
               for c in columns]
    ctx.log.info("drift share %.2f (%s of %s columns); dataset drift: %s", share,
                 sum(c["drifted"] for c in judged), len(judged), report["dataset_drift"])
    return {"dataset_drift": report["dataset_drift"], "drift_share": share,
            "columns": summary, "prediction": _without_bins(prediction),
            "report_sha": report_sha, "rows": report["rows"]}


def _correct(columns: list[dict[str, Any]], method: str | None) -> None:
    """Re-judge p-value columns together when a multiple-testing correction is asked for."""
    if method in (None, "none"):
        return
    judged = [c for c in columns if c["test"] in st.P_VALUE_TESTS]
    if not judged:
        return
    alpha = judged[0]["threshold"]
    for column, verdict in zip(judged, st.corrected_verdicts(
            [c["p_value"] for c in judged], alpha, method), strict=True):
        column["drifted"] = verdict
        column["correction"] = method


def _without_bins(prediction: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if prediction is None else {k: v for k, v in prediction.items() if k != "bins"}


def _prediction_drift(params: dict[str, Any], reference: Any, current: Any,
                      ctx: JobContext) -> dict[str, Any] | None:
    """The version's scores on the reference against its scores on the current rows."""
    if not params.get("model_sha"):
        return None
    import lightgbm as lgb

    from jobs.features import to_matrix

    signature = params["signature"]
    booster = lgb.Booster(model_str=ctx.artifacts.read_bytes(params["model_sha"]).decode())

    def scores(frame: Any) -> np.ndarray:
        if frame.height > PREDICTION_SAMPLE:
            frame = frame.gather(np.linspace(0, frame.height - 1, PREDICTION_SAMPLE)
                                 .astype(np.int64))
        return booster.predict(to_matrix(frame, signature), num_threads=2)

    ref_scores, cur_scores = scores(reference), scores(current)
    if signature.get("task") == "multiclass":
        classes = (signature.get("target") or {}).get("classes") or list(
            range(ref_scores.shape[1]))
        ref_counts = _label_counts(ref_scores.argmax(axis=1), classes)
        cur_counts = _label_counts(cur_scores.argmax(axis=1), classes)
        result = _categorical("prediction", ref_counts, cur_counts, params["categorical_test"],
                              None)
    else:
        result = _numeric("prediction", ref_scores, cur_scores, params["numeric_test"], None)
    return result


def _label_counts(indices: np.ndarray, classes: list[Any]) -> dict[str, int]:
    counts = np.bincount(indices, minlength=len(classes))
    return {str(c): int(n) for c, n in zip(classes, counts, strict=True) if n}
