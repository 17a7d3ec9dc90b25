"""drift: compare current rows (data versions, or logged requests) with a model's reference
(its training data versions), column by column, and the model's predictions on both.

The reference is summarised once per model version (its profile, an artifact the daemon
passes back to later checks); compare.py judges; a verdict the fast path leaves open reads
the reference's raw column (or scores it again, for predictions) and decides exactly. The
whole report, with binned reference and current distributions for plots, goes to the
artifact store; the result is its summary.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from jobs.context import JobContext, JobError, Timings
from jobs.drift import predictions
from jobs.drift.columns import Rows
from jobs.drift.compare import Rules, compare
from jobs.drift.params import DESCRIPTION, check_params
from jobs.drift.profile import is_categorical, numbers, profile_of

__all__ = ["DESCRIPTION", "check_params", "run"]
SUMMARY_KEYS = ("column", "kind", "test", "statistic", "p_value", "p_test", "threshold",
                "drifted", "approximate", "low", "high", "bound", "exact_fallback", "rows",
                "note", "significance", "p_at_most")


def run(params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    import orjson

    params = check_params(params)
    signature = params["signature"]
    names = [i["name"] for i in signature["inputs"]]
    numeric = [i["name"] for i in signature["inputs"] if not is_categorical(i)]
    # Both sides are read a column at a time (columns.py): memory holds a column or two of
    # them at once, and samples of 100,000 rows, whatever the size of the data.
    timings = Timings()
    reference = _Later(lambda: Rows(params["reference"], ctx))
    with timings("open", ctx):
        current = Rows(params["current"], ctx)
    missing = [n for n in names if n not in current.columns]
    if missing:
        raise JobError(f"the current data has no column {missing[0]!r} (a model input)")
    with timings("reference", ctx):
        profiles, profile_sha = _profiles(params, ctx, names, reference)
    ctx.log.info("drift of %s rows against %s reference rows (%s), %s columns",
                 current.height, profiles["rows"],
                 "stored profile" if params.get("profile_sha") else "profiled now", len(names))
    kept: dict[str, Any] = {}

    def raw_column(name: str) -> np.ndarray:
        ctx.log.info("column %s: the estimate leaves the verdict open; computed exactly", name)
        return numbers(reference.get()[name])

    def raw_prediction() -> np.ndarray:
        ctx.log.info("predictions: the estimate leaves the verdict open; computed exactly")
        if "frame" not in kept:
            kept["frame"] = reference.get().sample(names)
        return predictions.scores(params, kept["frame"], ctx)

    excluded = set(params["exclude"])
    current.plan([n for n in numeric if n not in excluded])
    # Scored after the columns are judged: their sample rows are kept as they are read.
    scored = (lambda: predictions.scores(params, current.sample(names), ctx)) \
        if params.get("model_sha") else None
    with timings("compare", ctx):
        found = compare(profiles, current, signature, Rules.of(params),
                        current_scores=scored, raw_column=raw_column,
                        raw_prediction=raw_prediction)
    with timings("performance", ctx):
        labelled = predictions.labelled(params, current, ctx)
        performance = None if labelled is None else predictions.performance(
            params, labelled, ctx)
    with timings("report", ctx):
        current.checked()
        reference.checked()
        report = {"model": params.get("model"), "version": params.get("version"),
                  "reference": params["reference"], "current": params["current"],
                  **found, "performance": performance}
        report_sha = ctx.artifacts.put_bytes(orjson.dumps(
            report, option=orjson.OPT_SERIALIZE_NUMPY))
    columns = found["columns"]
    judged = [c for c in columns if c["drifted"] is not None]
    ctx.log.info("drift share %.2f (%s of %s columns judged); %s", found["drift_share"],
                 sum(c["drifted"] for c in judged), len(judged), found["note"] or
                 f"dataset drift: {found['dataset_drift']}")
    prediction = found["prediction"]
    return {"dataset_drift": found["dataset_drift"], "drift_share": found["drift_share"],
            "status": found["status"], "note": found["note"], "excluded": found["excluded"],
            "not_inputs": found["not_inputs"],
            "columns": [{k: c.get(k) for k in SUMMARY_KEYS} for c in columns],
            "prediction": None if prediction is None else {
                k: v for k, v in prediction.items() if k != "bins"},
            "report_sha": report_sha, "profile_sha": profile_sha, "rows": found["rows"],
            "performance": performance, "timings": dict(timings)}


class _Later:
    """The reference's rows, opened (and their hashes checked) only if needed: a stored
    profile spares reading them unless a verdict needs the exact statistic."""

    def __init__(self, open_rows: Callable[[], Rows]) -> None:
        self._open, self._rows = open_rows, None
        self._lock = threading.Lock()

    def get(self) -> Rows:
        with self._lock:  # two columns' fallbacks may ask at once
            if self._rows is None:
                self._rows = self._open()
            return self._rows

    def checked(self) -> None:
        if self._rows is not None:
            self._rows.checked()


def _profiles(params: dict[str, Any], ctx: JobContext, names: list[str], reference: _Later
              ) -> tuple[dict[str, Any], str]:
    """The reference, summarised: read back when the daemon has it stored (it is built once
    per model version and reference), else built from the reference rows and stored."""
    import orjson

    if params.get("profile_sha"):
        return orjson.loads(ctx.artifacts.read_bytes(params["profile_sha"])), \
            params["profile_sha"]
    rows = reference.get()
    rows.plan([i["name"] for i in params["signature"]["inputs"] if not is_categorical(i)])
    items = {i["name"]: i for i in params["signature"]["inputs"]}
    with ThreadPoolExecutor(max_workers=2) as pool:
        columns = dict(zip(names, pool.map(lambda n: profile_of(items[n], rows), names),
                           strict=True))
    prediction = None
    if params.get("model_sha"):
        prediction = predictions.summary(params["signature"], predictions.scores(
            params, rows.sample(names), ctx))
    profiles = {"rows": rows.height, "columns": columns, "prediction": prediction}
    rows.checked()  # stored only once its data is known intact
    sha = ctx.artifacts.put_bytes(orjson.dumps(profiles, option=orjson.OPT_SERIALIZE_NUMPY))
    return profiles, sha
