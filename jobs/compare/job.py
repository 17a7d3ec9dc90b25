"""run(): the challenger's holdout again → both models scored on it → metric, difference, CI.

The holdout is re-materialised exactly as the train job cut it (same loader, labels and split
with the challenger's train params); the challenger's predictions on it must hash to what its
training recorded, which proves it. Each model encodes the rows with its own signature, so a
champion trained on other columns is judged on what it needs; a champion that cannot be
scored on these rows (a missing column, a value of the wrong kind, other classes, another
task) is reported as unscorable rather than failing the job: the challenger's numbers still
stand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from jobs.check_model import task_of
from jobs.compare import bootstrap, latency
from jobs.compare.params import HIGHER_IS_BETTER, check_params
from jobs.context import JobContext, JobError, Timings
from jobs.features import FeatureError, to_matrix
from jobs.train import data, evaluate
from jobs.train.split import split
from store.errors import ArtifactError


class _Unscorable(Exception):
    """The champion cannot be scored on these rows; the message says why."""


@dataclass
class _Holdout:
    rows: pl.DataFrame
    y: np.ndarray
    classes: list | None


def run(params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    params = check_params(params)
    train, metric = params["train"], params["metric"]
    task = train["task"]
    challenger, champion = params["challenger"], params["champion"]
    timings = Timings()
    ctx.log.info("compare %s: challenger %s vs champion %s on %s", params["model"],
                 challenger["version"], champion["version"] if champion else "none", metric)

    with timings("load", ctx):
        holdout = _holdout(train, ctx)
    n_classes = len(holdout.classes) if holdout.classes is not None else None

    with timings("predict", ctx):
        ours, booster = _score_challenger(challenger, holdout, train, ctx)
        matches = _check_holdout(challenger, ours.predictions)
        theirs, unscorable = None, None
        if champion is not None:
            try:
                theirs = _score_champion(champion, challenger["signature"], holdout, train, ctx)
            except _Unscorable as exc:
                unscorable = str(exc)
                ctx.log.warning("champion %s is unscorable: %s", champion["version"], unscorable)

    with timings("metric", ctx):
        ours_value = _point(task, metric, holdout.y, ours, n_classes)
        theirs_value = _point(task, metric, holdout.y, theirs, n_classes) if theirs is not None \
            else None

    higher = HIGHER_IS_BETTER[metric]
    improvement, ci, skipped = None, None, None
    if ours_value is not None and theirs_value is not None:
        improvement = _finite(ours_value - theirs_value if higher else theirs_value - ours_value)
        with timings("bootstrap", ctx):
            ci, skipped = _interval(params, holdout.y, ours, theirs, n_classes, ctx)
    ctx.log.info("%s: challenger %s, champion %s, improvement %s, CI %s", metric, ours_value,
                 theirs_value, improvement, ci)
    single_row = None
    if params.get("latency"):
        with timings("latency", ctx):
            single_row = latency.single_row(booster, challenger["signature"], holdout.rows,
                                            params["latency"]["rows"])
        ctx.log.info("single-row latency of %s: p50 %s ms, p95 %s ms over %s rows",
                     challenger["version"], single_row["p50_ms"], single_row["p95_ms"],
                     single_row["rows"])

    found: dict[str, Any] = {
        "metric": metric,
        "higher_is_better": higher,
        "rows": len(holdout.y),
        "challenger": {"version": challenger["version"], "value": ours_value},
        "champion": (None if theirs is None
                     else {"version": champion["version"], "value": theirs_value}),
        "champion_unscorable": unscorable,
        "improvement": improvement,
        "ci": ci,
        "skipped": skipped,
        "confidence": params["confidence"],
        "bootstrap": params["bootstrap"],
        "seed": params["seed"],
        "holdout_matches_training": matches,
        "timings": dict(timings),
    }
    if single_row is not None:
        found["latency"] = single_row
    return found


def _interval(params: dict[str, Any], y: np.ndarray, ours: bootstrap.Scored,
              theirs: bootstrap.Scored, n_classes: int | None, ctx: JobContext
              ) -> tuple[list[float] | None, int]:
    """The bootstrap CI of the improvement (None when no resample could be scored) and the
    number of resamples skipped."""
    found = bootstrap.paired(params["metric"], y, ours, theirs, n_classes=n_classes,
                             resamples=params["bootstrap"], confidence=params["confidence"],
                             seed=params["seed"])
    if found.skipped:
        ctx.log.warning("%d of %d resamples skipped (degenerate for %s)", found.skipped,
                        params["bootstrap"], params["metric"])
    if found.ci is None:
        return None, found.skipped
    low, high = (_finite(v) for v in found.ci)
    return (None if low is None or high is None else [low, high]), found.skipped


def _finite(value: float | None) -> float | None:
    """Plain JSON has no NaN or infinity: None stands for them."""
    return value if value is not None and math.isfinite(value) else None


# -- the holdout -------------------------------------------------------------------------------


def _holdout(train: dict[str, Any], ctx: JobContext) -> _Holdout:
    """The rows the challenger's training held out, by the train job's own steps."""
    frame = data.load(train, ctx)
    frame, labels = data.labels(frame, train)
    parts = split(frame, labels.y, labels.classes, train)
    return _Holdout(frame[parts.holdout], labels.y[parts.holdout], labels.classes)


# -- scoring -----------------------------------------------------------------------------------


class _PredictError(Exception):
    """LightGBM refused the matrix (e.g. another number of features than the model's)."""


@dataclass
class _Model:
    booster: Any
    text: str

    def objective(self) -> str | None:
        """The objective line of the model text (no tree dump needed)."""
        return next((line.split("=", 1)[1] for line in self.text.splitlines()
                     if line.startswith("objective=")), None)

    def predict(self, x: np.ndarray, threads: int) -> np.ndarray:
        import lightgbm as lgb

        try:
            # the train job's call on the stored model: the bits its training recorded
            return self.booster.predict(x, num_threads=threads)
        except lgb.basic.LightGBMError as exc:
            raise _PredictError(str(exc)) from None


def _load(sha: str, who: str, ctx: JobContext) -> _Model:
    import lightgbm as lgb

    try:
        text = ctx.artifacts.read_bytes(sha).decode()  # hash-checked; LightGBM text, no pickle
    except (ArtifactError, UnicodeDecodeError) as exc:
        raise JobError(f"{who}: its model {sha} cannot be read: {exc}") from None
    try:
        return _Model(lgb.Booster(model_str=text), text)
    except lgb.basic.LightGBMError as exc:
        raise JobError(f"{who}: its model {sha} does not load in LightGBM: {exc}") from None


def _score_challenger(challenger: dict[str, Any], holdout: _Holdout, train: dict[str, Any],
                      ctx: JobContext) -> tuple[bootstrap.Scored, Any]:
    """Its scores on the holdout, and its booster (for the latency, when asked)."""
    who = f"challenger {challenger['version']}"
    signature = challenger["signature"]
    classes = signature["target"]["classes"]
    if classes is not None and classes != holdout.classes:
        raise JobError(f"{who}: its classes {classes} are not the data's {holdout.classes}: "
                       "these are not the rows it was trained on")
    try:
        x = to_matrix(holdout.rows, signature)
    except FeatureError as exc:
        raise JobError(f"{who}: the holdout does not fit its signature: {exc}") from None
    model = _load(challenger["model_sha"], who, ctx)
    try:
        predictions = model.predict(x, train["num_threads"])
    except _PredictError as exc:
        raise JobError(f"{who}: the model does not predict on its signature's inputs: "
                       f"{exc}") from None
    return bootstrap.Scored(predictions, signature.get("threshold")), model.booster


def _check_holdout(challenger: dict[str, Any], predictions: np.ndarray) -> bool | None:
    expected = challenger["holdout_predictions_sha"]
    if expected is None:
        return None
    found = evaluate.predictions_sha(predictions)
    if found != expected:
        raise JobError(
            f"challenger {challenger['version']}: its predictions on the holdout hash to "
            f"{found}, not to the {expected} its training recorded: the rows re-materialised "
            "from the train params are not the holdout it was trained against (changed data, "
            "params or code), so the comparison would not be on its holdout")
    return True


def _score_champion(champion: dict[str, Any], ours: dict[str, Any], holdout: _Holdout,
                    train: dict[str, Any], ctx: JobContext) -> bootstrap.Scored:
    signature = champion["signature"]
    model = _load(champion["model_sha"], f"champion {champion['version']}", ctx)
    _check_compatible(signature, ours, model)
    missing = [item["name"] for item in signature["inputs"]
               if item["name"] not in holdout.rows.columns]
    if missing:
        raise _Unscorable(f"input {missing[0]!r}: no column {missing[0]!r} in the data")
    try:
        x = to_matrix(holdout.rows, signature)
    except FeatureError as exc:
        raise _Unscorable(str(exc)) from None
    try:
        predictions = model.predict(x, train["num_threads"])
    except _PredictError as exc:
        raise _Unscorable(f"the model does not predict on its signature's inputs: "
                          f"{exc}") from None
    expected = (len(holdout.y), len(ours["target"]["classes"])) if ours["task"] == "multiclass" \
        else (len(holdout.y),)
    if predictions.shape != expected:
        raise _Unscorable(f"its predictions have shape {predictions.shape}, the challenger's "
                          f"{expected}")
    return bootstrap.Scored(predictions, signature.get("threshold"))


def _check_compatible(signature: dict[str, Any], ours: dict[str, Any], model: _Model) -> None:
    """Both models answer the same question: same task, target and classes (what is unknown
    about an SDK-logged champion is taken from its model text or assumed)."""
    task = signature.get("task") or task_of(model.objective())
    if task != ours["task"]:
        raise _Unscorable(f"it is a {task or 'unknown'} model, the challenger a {ours['task']} "
                          "one")
    target = signature.get("target") or {}
    name = target.get("name")
    if name is not None and name != ours["target"]["name"]:
        raise _Unscorable(f"it predicts {name!r}, the challenger {ours['target']['name']!r}")
    classes = target.get("classes")
    if classes is not None and classes != ours["target"]["classes"]:
        raise _Unscorable(f"its classes {classes} are not the challenger's "
                          f"{ours['target']['classes']}")


def _point(task: str, metric: str, y: np.ndarray, scored: bootstrap.Scored,
           n_classes: int | None) -> float | None:
    """The metric on the whole holdout, as the train job reports it (sklearn)."""
    threshold = scored.threshold if scored.threshold is not None else 0.5
    return evaluate.metrics(task, y, scored.predictions, n_classes=n_classes,
                            threshold=threshold)[metric]
