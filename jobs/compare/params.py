"""check_params for compare: every field checked, defaults filled, the field named.

Import-light (the daemon runs it at submission) and idempotent: checking checked params
changes nothing. The challenger's train params go through the train job's own check, so the
holdout is cut from exactly the rows and the split the training used.
"""

from __future__ import annotations

import math
import re
from typing import Any

from jobs.checks import a_name, an_object, no_unknown_keys
from jobs.context import InvalidParams
from jobs.train.params import MAX_SEED, TASKS
from jobs.train.params import check_params as check_train_params

DESCRIPTION = (
    "Score a challenger (just trained) and the champion (in production) on the holdout the "
    "challenger's training held out; report both metric values, the paired difference and a "
    "seeded paired bootstrap confidence interval of it; params: model, train, challenger, "
    "champion, metric, bootstrap, confidence, seed."
)
GATE_DESCRIPTION = (
    "The retraining pipeline's comparison for a registered version (mlops check model): it "
    "and the version an alias points at scored on its own holdout, a paired bootstrap CI of "
    "the difference, and its single-row prediction latency; the daemon judges the policy's "
    "gates on the result, moving nothing; params: those of compare, and latency."
)

METRICS = {
    "regression": ("rmse", "mae", "r2"),
    "binary": ("auc", "log_loss", "accuracy", "precision", "recall", "f1"),
    "multiclass": ("accuracy", "macro_f1", "log_loss"),
}
DEFAULT_METRIC = {"regression": "rmse", "binary": "auc", "multiclass": "log_loss"}
"""What a retrain's gate decides on, and a model card puts first, unless the policy names
another."""
ALL_METRICS = tuple(dict.fromkeys(m for names in METRICS.values() for m in names))
HIGHER_IS_BETTER = {"rmse": False, "mae": False, "r2": True, "auc": True, "log_loss": False,
                    "accuracy": True, "precision": True, "recall": True, "f1": True,
                    "macro_f1": True}

_TOP = {"model", "train", "challenger", "champion", "metric", "bootstrap", "confidence", "seed",
        "latency", "gate"}
_SHA256 = re.compile(r"[0-9a-f]{64}")
BOOTSTRAP = (100, 100_000)
CONFIDENCE = (0.5, 0.999)
LATENCY_ROWS = (1, 10_000)


def check_params(params: dict[str, Any]) -> dict[str, Any]:
    params = an_object(params, "params")
    no_unknown_keys(params, _TOP)
    model = a_name(params.get("model"), "model")
    train = _train(params.get("train"))
    if train["model"] != model:
        raise InvalidParams("train.model", f"is {train['model']!r}, not the model compared "
                            f"({model!r})")
    task = train["task"]
    challenger = _model(params.get("challenger"), "challenger", challenger=True)
    _fits_training(challenger["signature"], train)
    champion = params.get("champion")
    if champion is not None:
        champion = _model(champion, "champion", challenger=False)
    metric = params.get("metric")
    if metric not in ALL_METRICS:
        raise InvalidParams("metric", f"must be one of {', '.join(ALL_METRICS)}, got {metric!r}")
    if metric not in METRICS[task]:
        raise InvalidParams("metric", f"{metric!r} does not fit a {task} model (one of "
                            f"{', '.join(METRICS[task])})")
    checked: dict[str, Any] = {
        "model": model,
        "train": train,
        "challenger": challenger,
        "champion": champion,
        "metric": metric,
        "bootstrap": _int(params.get("bootstrap", 1000), "bootstrap", *BOOTSTRAP),
        "confidence": _confidence(params.get("confidence", 0.95)),
        "seed": _int(params.get("seed", 42), "seed", 0, MAX_SEED),
    }
    if params.get("latency") is not None:  # absent from the pipeline's comparisons
        checked["latency"] = _latency(params["latency"])
    if params.get("gate") is not None:  # mlops check model's: the job itself does not read it
        checked["gate"] = _gate(params["gate"])
    return checked


def _gate(value: Any) -> dict[str, Any]:
    """What `mlops check model` was asked with, kept with the job so that a job run again
    after a restart is judged by it (not by the config then in force)."""
    value = an_object(value, "gate")
    no_unknown_keys(value, {"against", "max_latency_ms", "latency_bound_from", "minimum",
                            "maximum", "min_improvement"}, "gate.")
    return {"against": a_name(value.get("against"), "gate.against"),
            "max_latency_ms": _number(value.get("max_latency_ms"), "gate.max_latency_ms",
                                      positive=True),
            "latency_bound_from": a_name(value.get("latency_bound_from"),
                                         "gate.latency_bound_from"),
            "minimum": _number(value.get("minimum"), "gate.minimum", optional=True),
            "maximum": _number(value.get("maximum"), "gate.maximum", optional=True),
            "min_improvement": _number(value.get("min_improvement", 0.0),
                                       "gate.min_improvement")}


def _number(value: Any, field: str, *, positive: bool = False, optional: bool = False
            ) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
            value) or (positive and value <= 0):
        kind = "a positive number" if positive else "a number"
        raise InvalidParams(field, f"must be {kind}, got {value!r}")
    return float(value)


def _latency(value: Any) -> dict[str, int]:
    """How many single-row predictions of the challenger to time (mlops check model)."""
    value = an_object(value, "latency")
    no_unknown_keys(value, {"rows"}, "latency.")
    return {"rows": _int(value.get("rows", 200), "latency.rows", *LATENCY_ROWS)}


def _train(value: Any) -> dict[str, Any]:
    value = an_object(value, "train")
    try:
        return check_train_params(value)
    except InvalidParams as exc:
        # the train check names its own fields: put them under "train."
        message = str(exc).removeprefix(f"{exc.field}: ")
        raise InvalidParams(f"train.{exc.field}", message) from None


def _model(value: Any, field: str, *, challenger: bool) -> dict[str, Any]:
    value = an_object(value, field)
    keys = {"version", "model_sha", "signature"} | ({"holdout_predictions_sha"} if challenger
                                                    else set())
    no_unknown_keys(value, keys, f"{field}.")
    out = {"version": a_name(value.get("version"), f"{field}.version"),
           "model_sha": _sha(value.get("model_sha"), f"{field}.model_sha"),
           "signature": _signature(value.get("signature"), f"{field}.signature",
                                   strict=challenger)}
    if challenger:
        given = value.get("holdout_predictions_sha")
        out["holdout_predictions_sha"] = None if given is None else _sha(
            given, f"{field}.holdout_predictions_sha")
    return out


def _sha(value: Any, field: str) -> str:
    if not isinstance(value, str) or not _SHA256.fullmatch(value):
        raise InvalidParams(field, f"must be a sha256 hex digest, got {value!r}")
    return value


def _signature(value: Any, field: str, *, strict: bool) -> dict[str, Any]:
    """The shape to_matrix needs. The challenger's comes from the train job and must be whole;
    the champion's may come from the SDK (task, target name or classes unknown): what does
    not fit is found when it is scored and makes it unscorable, not the params invalid."""
    value = an_object(value, field)
    inputs = value.get("inputs")
    if not isinstance(inputs, list):
        raise InvalidParams(f"{field}.inputs", "must be a list of {name, dtype, categorical, "
                            "categories}")
    for i, item in enumerate(inputs):
        where = f"{field}.inputs[{i}]"
        item = an_object(item, where)
        a_name(item.get("name"), f"{where}.name")
        a_name(item.get("dtype"), f"{where}.dtype")
        if not isinstance(item.get("categorical"), bool):
            raise InvalidParams(f"{where}.categorical", "must be true or false")
        if not isinstance(item.get("categories"), list | None):
            raise InvalidParams(f"{where}.categories", "must be a list or null")
    task = value.get("task")
    if (task is not None or strict) and task not in TASKS:
        raise InvalidParams(f"{field}.task", f"must be one of {', '.join(TASKS)}, got {task!r}")
    target = value.get("target")
    if target is not None or strict:
        target = an_object(target, f"{field}.target")
        if strict:
            a_name(target.get("name"), f"{field}.target.name")
        classes = target.get("classes")
        if not isinstance(classes, list | None):
            raise InvalidParams(f"{field}.target.classes", "must be a list or null")
        if strict and (classes is None) != (task == "regression"):
            raise InvalidParams(f"{field}.target.classes",
                                "must be null for a regression and the classes otherwise")
    threshold = value.get("threshold")
    if threshold is not None and (isinstance(threshold, bool) or not isinstance(
            threshold, int | float) or not 0 < threshold < 1):
        raise InvalidParams(f"{field}.threshold", f"must be a number between 0 and 1 "
                            f"(exclusive), got {threshold!r}")
    return value


def _fits_training(signature: dict[str, Any], train: dict[str, Any]) -> None:
    """The challenger is the model these train params made: same task and target."""
    if signature["task"] != train["task"]:
        raise InvalidParams("challenger.signature.task", f"is {signature['task']!r} but train."
                            f"task is {train['task']!r}")
    if signature["target"]["name"] != train["target"]:
        raise InvalidParams("challenger.signature.target.name",
                            f"is {signature['target']['name']!r} but train.target is "
                            f"{train['target']!r}")


def _int(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParams(field, f"must be an integer, got {value!r}")
    if not low <= value <= high:
        raise InvalidParams(field, f"must be between {low} and {high}, got {value}")
    return value


def _confidence(value: Any) -> float:
    low, high = CONFIDENCE
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise InvalidParams("confidence", f"must be a number between {low} and {high}, got "
                            f"{value!r}")
    return float(value)
