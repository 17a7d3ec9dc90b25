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


def numeric_profile(values: np.ndarray) -> dict[str, Any]:
    """What is kept of a numeric reference column: its quantile profile, and for a small
    reference the values themselves (its tests are exact)."""
    if len(values) == 0:
        return {"kind": "numeric", "empty": True}
    profile = st.NumericReference.build(values).to_json()
    small = len(values) <= st.SMALL_REFERENCE
    return {"kind": "numeric", **profile, "values": values.tolist() if small else None}


def _numeric(name: str, profile: dict[str, Any], cur: np.ndarray, test: str,
             threshold: float | None) -> dict[str, Any]:
    if profile.get("empty") or len(cur) == 0:
        return {"column": name, "kind": "numeric", "test": None, "drifted": False,
                "note": "no values on one side"}
    reference = st.NumericReference.from_json(profile)
    test = st.auto_test("numeric", reference.n) if test == "auto" else test
    statistics, bins = reference.compare_with_bins(cur)
    if profile.get("values") is not None and len(cur) <= 50_000:
        ref = np.array(profile["values"])  # a small reference: the exact test on raw values
        result = {"ks": st.ks_exact, "wasserstein": st.wasserstein_exact,
                  "psi": st.psi_numeric}[test](ref, cur)
    else:
        result = statistics[test]
    threshold = st.DEFAULT_THRESHOLDS[test] if threshold is None else threshold
    return {"column": name, "kind": "numeric", "test": test,
            "statistic": result.statistic, "p_value": result.p_value,
            "approximate": result.approximate, "bound": result.bound,
            "threshold": threshold, "drifted": st.drifted(test, result.value, threshold),
            "bins": bins}


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
    profiles, profile_sha = _profiles(params, ctx, names)
    target = (signature.get("target") or {}).get("name")
    # The target too, when the batch has it: one read serves drift and performance.
    current = _read(params["current"], ctx, [*names, target] if target else names)
    missing = [n for n in names if n not in current.columns]
    if missing:
        raise JobError(f"the current data has no column {missing[0]!r} (a model input)")
    thresholds = params["thresholds"]
    ctx.log.info("drift of %s rows against %s reference rows (%s), %s columns",
                 current.height, profiles["rows"],
                 "stored profile" if params.get("profile_sha") else "profiled now", len(names))

    def one(item: dict[str, Any]) -> dict[str, Any]:
        name = item["name"]
        profile = profiles["columns"][name]
        own = params["tests"].get(name)
        if profile["kind"] == "categorical":
            if own is not None and own not in st.CATEGORICAL_TESTS:
                raise JobError(f"column {name!r} is categorical: {own!r} does not apply "
                               f"(use {', '.join(st.CATEGORICAL_TESTS)})")
            return _categorical(name, profile["counts"], _counts(current[name]),
                                own or params["categorical_test"], thresholds.get(name))
        if own is not None and own not in st.NUMERIC_TESTS:
            raise JobError(f"column {name!r} is numeric: {own!r} does not apply "
                           f"(use {', '.join(st.NUMERIC_TESTS)})")
        return _numeric(name, profile, _numbers(current[name]), own or params["numeric_test"],
                        thresholds.get(name))

    # Columns in parallel: the heavy parts (searchsorted, bincount) release the GIL.
    with ThreadPoolExecutor(max_workers=2) as pool:
        columns = list(pool.map(one, inputs))
    _correct(columns, params["correction"])
    judged = [c for c in columns if c["test"] is not None]
    share = sum(c["drifted"] for c in judged) / len(judged) if judged else 0.0
    prediction = _prediction_drift(params, profiles.get("prediction"), current, ctx)
    performance = _performance(params, current, ctx)
    report = {"model": params.get("model"), "version": params.get("version"),
              "reference": params["reference"], "current": params["current"],
              "columns": columns, "drift_share": share,
              "dataset_drift": share >= params["share"], "share_threshold": params["share"],
              "correction": params["correction"], "prediction": prediction,
              "performance": performance,
              "rows": {"reference": profiles["rows"], "current": current.height}}
    report_sha = ctx.artifacts.put_bytes(orjson.dumps(report, option=orjson.OPT_SERIALIZE_NUMPY))
    summary = [{k: c.get(k) for k in ("column", "kind", "test", "statistic", "p_value",
                                      "threshold", "drifted", "approximate", "bound")}
               for c in columns]
    ctx.log.info("drift share %.2f (%s of %s columns); dataset drift: %s", share,
                 sum(c["drifted"] for c in judged), len(judged), report["dataset_drift"])
    return {"dataset_drift": report["dataset_drift"], "drift_share": share,
            "columns": summary, "prediction": _without_bins(prediction),
            "report_sha": report_sha, "profile_sha": profile_sha, "rows": report["rows"],
            "performance": performance}


def _profiles(params: dict[str, Any], ctx: JobContext, names: list[str]
              ) -> tuple[dict[str, Any], str]:
    """The reference, summarised: read back when the daemon has it stored (it is built once
    per model version and reference), else built from the reference rows and stored."""
    import orjson

    if params.get("profile_sha"):
        return orjson.loads(ctx.artifacts.read_bytes(params["profile_sha"])), \
            params["profile_sha"]
    reference = _read(params["reference"], ctx, names)
    items = {i["name"]: i for i in params["signature"]["inputs"]}

    def one(name: str) -> dict[str, Any]:
        item = items[name]
        if item.get("categorical") or item["dtype"] == "string":
            return {"kind": "categorical", "counts": _counts(reference[name])}
        return numeric_profile(_numbers(reference[name]))

    with ThreadPoolExecutor(max_workers=2) as pool:
        columns = dict(zip(names, pool.map(one, names), strict=True))
    profiles = {"rows": reference.height, "columns": columns,
                "prediction": _prediction_profile(params, reference, ctx)}
    sha = ctx.artifacts.put_bytes(orjson.dumps(profiles, option=orjson.OPT_SERIALIZE_NUMPY))
    return profiles, sha


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


def _scores(params: dict[str, Any], frame: Any, ctx: JobContext) -> np.ndarray:
    import lightgbm as lgb

    from jobs.features import to_matrix

    booster = lgb.Booster(model_str=ctx.artifacts.read_bytes(params["model_sha"]).decode())
    if frame.height > PREDICTION_SAMPLE:
        frame = frame.gather(np.linspace(0, frame.height - 1, PREDICTION_SAMPLE)
                             .astype(np.int64))
    return booster.predict(to_matrix(frame, params["signature"]), num_threads=2)


def _prediction_summary(params: dict[str, Any], scores: np.ndarray) -> dict[str, Any]:
    signature = params["signature"]
    if signature.get("task") == "multiclass":
        classes = (signature.get("target") or {}).get("classes") or list(
            range(scores.shape[1]))
        return {"kind": "categorical", "counts": _label_counts(scores.argmax(axis=1), classes)}
    return numeric_profile(scores)


def _prediction_profile(params: dict[str, Any], reference: Any,
                        ctx: JobContext) -> dict[str, Any] | None:
    """The version's scores on (a sample of) its reference, summarised like a column."""
    if not params.get("model_sha"):
        return None
    return _prediction_summary(params, _scores(params, reference, ctx))


def _prediction_drift(params: dict[str, Any], profile: dict[str, Any] | None, current: Any,
                      ctx: JobContext) -> dict[str, Any] | None:
    if profile is None or not params.get("model_sha"):
        return None
    scores = _scores(params, current, ctx)
    if profile["kind"] == "categorical":
        now = _prediction_summary(params, scores)
        return _categorical("prediction", profile["counts"], now["counts"],
                            params["categorical_test"], None)
    return _numeric("prediction", profile, scores, params["numeric_test"], None)


def _performance(params: dict[str, Any], frame: Any, ctx: JobContext
                 ) -> dict[str, Any] | None:
    """When the current batch carries the target: the version's metrics on it (up to
    PREDICTION_SAMPLE rows), by the same code as its holdout metrics."""
    import polars as pl

    from jobs.train import evaluate

    signature = params["signature"]
    target = (signature.get("target") or {}).get("name")
    if not target or not params.get("model_sha"):
        return None
    if target not in frame.columns:
        return None
    frame = frame.filter(pl.col(target).is_not_null())
    if frame.height == 0:
        return None
    if frame.height > PREDICTION_SAMPLE:
        frame = frame.gather(np.linspace(0, frame.height - 1, PREDICTION_SAMPLE)
                             .astype(np.int64))
    scores = _scores(params, frame, ctx)
    task = signature.get("task") or "regression"
    if task == "regression":
        y = frame[target].cast(pl.Float64).to_numpy()
        classes = None
    else:
        classes = (signature.get("target") or {}).get("classes") or []
        index = {c: i for i, c in enumerate(classes)}
        labels = frame[target].to_list()
        keep = np.array([label in index for label in labels])
        if not keep.any():
            return {"rows": 0, "note": "no label of the model's classes"}
        y = np.array([index[label] for label in labels if label in index], dtype=np.int32)
        scores = scores[keep]
    metrics = evaluate.metrics(task, y, scores, n_classes=len(classes) if classes else None,
                               threshold=signature.get("threshold") or 0.5)
    return {"rows": len(y), "metrics": metrics}


def _label_counts(indices: np.ndarray, classes: list[Any]) -> dict[str, int]:
    counts = np.bincount(indices, minlength=len(classes))
    return {str(c): int(n) for c, n in zip(classes, counts, strict=True) if n}
