"""check_params for train: every field checked and every default filled, naming the field.

The daemon runs it at submission (a bad field is a 422 naming it) and `run` again, so it is
idempotent: checking checked params changes nothing. No polars or LightGBM here.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from jobs.checks import a_name as _name
from jobs.checks import an_object as _dict
from jobs.checks import no_unknown_keys as _unknown
from jobs.context import InvalidParams

TASKS = ("regression", "binary", "multiclass")
OBJECTIVES = {
    "regression": {"regression", "regression_l2", "l2", "mean_squared_error", "mse", "l2_root",
                   "root_mean_squared_error", "rmse", "regression_l1", "l1",
                   "mean_absolute_error", "mae", "huber", "fair", "poisson", "quantile", "mape",
                   "mean_absolute_percentage_error", "gamma", "tweedie"},
    "binary": {"binary", "cross_entropy", "xentropy"},
    "multiclass": {"multiclass", "softmax", "multiclassova", "multiclass_ova", "ova", "ovr"},
}
DEFAULT_OBJECTIVE = {"regression": "regression", "binary": "binary", "multiclass": "multiclass"}

# LightGBM parameters (with their aliases) that the job sets itself: name → what to use instead
_OWN = {
    ("seed", "random_seed", "random_state"): "set 'seed'",
    ("num_threads", "n_jobs", "nthread", "nthreads", "num_thread"): "set 'num_threads'",
    ("num_iterations", "n_iter", "nrounds", "max_iter", "num_tree", "num_round", "num_trees",
     "num_rounds", "n_estimators", "num_iteration", "num_boost_round"): "set 'rounds'",
    ("early_stopping_round", "early_stopping", "n_iter_no_change",
     "early_stopping_rounds"): "set 'early_stopping'",
    ("categorical_feature", "cat_column", "cat_feature", "categorical_column",
     "categorical_features"): "set 'categorical'",
    ("num_class", "num_classes"): "it is the number of classes of the target",
    ("app", "loss", "application", "objective_type"): "set lgb_params.objective",
    ("deterministic", "force_row_wise", "force_col_wise"): "training is always deterministic "
                                                             "(deterministic, force_row_wise)",
    ("verbosity", "verbose"): "LightGBM's own output is off; the job logs",
    ("device_type", "device"): "training runs on the CPU (determinism)",
    ("task", "task_type", "data", "train", "train_data", "data_filename", "train_data_file",
     "valid", "test", "test_data", "valid_data", "test_data_file", "valid_data_file",
     "valid_filenames", "input_model", "model_in", "model_input", "output_model", "model_out",
     "model_output", "label_column", "label", "weight_column", "weight", "group_column", "group",
     "query", "group_id", "query_id", "query_column", "ignore_column", "blacklist",
     "ignore_feature", "header", "has_header", "save_binary", "is_save_binary",
     "is_save_binary_file", "two_round", "two_round_loading", "use_two_round_loading",
     "pre_partition", "is_pre_partition", "machines", "num_machines"): "the job supplies the data",
    # Params that make LightGBM read or write a file of its own: never from a config.
    ("forcedsplits_filename", "fs", "forced_splits_filename", "forced_splits_file",
     "forced_splits", "forcedbins_filename", "initscore_filename", "init_score_filename",
     "init_score_file", "init_score", "input_init_score", "valid_data_initscores",
     "valid_data_init_scores", "valid_init_score_file", "valid_init_score", "output_result",
     "predict_result", "prediction_result", "predict_name", "prediction_name", "pred_name",
     "name_prediction", "convert_model", "convert_model_file", "machine_list_filename",
     "machine_list_file", "machine_list", "mlist", "snapshot_freq", "save_period",
     "parser_config_file"): "LightGBM may not read or write files "
                                                        "of its own here",
}
RESERVED = {alias: hint for aliases, hint in _OWN.items() for alias in aliases}

_TOP = {"model", "task", "target", "data", "window", "time_column", "features", "categorical",
        "lgb_params", "rounds", "early_stopping", "split", "threshold", "min_rows", "seed",
        "num_threads", "slices"}
_SHA256 = re.compile(r"[0-9a-f]{64}")
MAX_SEED = 2**31 - 1
MAX_SLICES = 3
"""Columns a model card breaks the holdout's metrics down by ([model.card] slices)."""


def _names(value: Any, field: str) -> list[str]:
    if not isinstance(value, list):
        raise InvalidParams(field, f"must be a list of column names, got {value!r}")
    seen: set[str] = set()
    for item in value:
        _name(item, field)
        if item in seen:
            raise InvalidParams(field, f"names {item!r} twice")
        seen.add(item)
    return list(value)


def _int(value: Any, field: str, *, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParams(field, f"must be an integer, got {value!r}")
    if not low <= value <= high:
        raise InvalidParams(field, f"must be between {low} and {high}, got {value}")
    return value


def _share(value: Any, field: str) -> float:
    """A number strictly between 0 and 1."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise InvalidParams(field, f"must be a number between 0 and 1 (exclusive), got {value!r}")
    return value


def parse_time(text: str) -> datetime:
    """An ISO 8601 date or datetime as a naive UTC datetime (how snapshots store times)."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def _time(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidParams(field, f"must be an ISO 8601 date or datetime, got {value!r}")
    try:
        parse_time(value)
    except ValueError:
        raise InvalidParams(field, f"is not an ISO 8601 date or datetime: {value!r}") from None
    return value


def _data(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not value:
        raise InvalidParams("data", "must be a non-empty list of "
                            "{dataset, version, snapshot_sha}")
    out = []
    for i, item in enumerate(value):
        field = f"data[{i}]"
        item = _dict(item, field)
        _unknown(item, {"dataset", "version", "snapshot_sha"}, f"{field}.")
        sha = item.get("snapshot_sha")
        if not isinstance(sha, str) or not _SHA256.fullmatch(sha):
            raise InvalidParams(f"{field}.snapshot_sha",
                                f"must be a sha256 hex digest, got {sha!r}")
        out.append({"dataset": _name(item.get("dataset"), f"{field}.dataset"),
                    "version": _int(item.get("version"), f"{field}.version", low=0, high=2**62),
                    "snapshot_sha": sha})
    return out


def _window(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    value = _dict(value, "window")
    _unknown(value, {"time_column", "start", "end"}, "window.")
    out = {"time_column": _name(value.get("time_column"), "window.time_column"),
           "start": _time(value.get("start"), "window.start"),
           "end": _time(value.get("end"), "window.end")}
    if out["start"] and out["end"] and parse_time(out["start"]) >= parse_time(out["end"]):
        raise InvalidParams("window.start", f"must be before window.end ({out['start']} >= "
                            f"{out['end']})")
    return out


def _features(value: Any, target: str) -> dict[str, Any]:
    value = _dict({} if value is None else value, "features")
    _unknown(value, {"include", "exclude"}, "features.")
    include = value.get("include")
    include = None if include is None else _names(include, "features.include")
    if include is not None:
        include = [name for name in include if name != target]  # the target is never a feature
        if not include:
            raise InvalidParams("features.include", "names no column besides the target")
    return {"include": include, "exclude": _names(value.get("exclude") or [], "features.exclude")}


def _scalar(value: Any) -> bool:
    return value is not None and isinstance(value, str | int | float | bool) and not (
        isinstance(value, float) and value != value)


def _lgb_params(value: Any, task: str) -> dict[str, Any]:
    value = _dict({} if value is None else value, "lgb_params")
    for key, item in value.items():
        field = f"lgb_params.{key}"
        if key in RESERVED:
            raise InvalidParams(field, f"is set by the job: {RESERVED[key]}")
        if key.endswith(("_file", "_filename", "_path")):
            raise InvalidParams(field, "names a file: LightGBM may not read or write files of "
                                       "its own here")
        if not (_scalar(item) or (isinstance(item, list) and item and all(map(_scalar, item)))):
            raise InvalidParams(field, f"must be a number, text, true/false or a list of them, "
                                f"got {item!r}")
    if "objective" in value and value["objective"] not in OBJECTIVES[task]:
        raise InvalidParams("lgb_params.objective", f"{value['objective']!r} does not fit task "
                            f"{task} (one of {', '.join(sorted(OBJECTIVES[task]))})")
    return dict(value)


def check_params(params: dict[str, Any]) -> dict[str, Any]:
    params = _dict(params, "params")
    _unknown(params, _TOP, "")
    task = params.get("task")
    if task not in TASKS:
        raise InvalidParams("task", f"must be one of {', '.join(TASKS)}, got {task!r}")
    target = _name(params.get("target"), "target")
    seed = _int(params.get("seed", 42), "seed", low=0, high=MAX_SEED)
    split = _dict(params.get("split") or {}, "split")
    _unknown(split, {"holdout", "seed"}, "split.")
    categorical = _names(params.get("categorical") or [], "categorical")
    if target in categorical:
        raise InvalidParams("categorical", f"names the target {target!r}")
    rounds = _int(params.get("rounds", 500), "rounds", low=1, high=1_000_000)
    early = params.get("early_stopping", 50)
    checked = {
        "model": _name(params.get("model"), "model"),
        "task": task,
        "target": target,
        "data": _data(params.get("data")),
        "window": _window(params.get("window")),
        "time_column": _name(params.get("time_column"), "time_column", optional=True),
        "features": _features(params.get("features"), target),
        "categorical": categorical,
        "lgb_params": _lgb_params(params.get("lgb_params"), task),
        "rounds": rounds,
        "early_stopping": None if early is None else _int(early, "early_stopping", low=1,
                                                          high=1_000_000),
        # the split's seed follows the model's seed unless given
        "split": {"holdout": _share(split.get("holdout", 0.2), "split.holdout"),
                  "seed": _int(split.get("seed", seed), "split.seed", low=0, high=MAX_SEED)},
        "threshold": _share(params.get("threshold", 0.5), "threshold"),
        "min_rows": _int(params.get("min_rows", 50), "min_rows", low=2, high=2**62),
        "seed": seed,
        "num_threads": _int(params.get("num_threads", 2), "num_threads", low=1, high=1024),
        "slices": _names(params.get("slices") or [], "slices"),
    }
    if len(checked["slices"]) > MAX_SLICES:
        raise InvalidParams("slices", f"names {len(checked['slices'])} columns; at most "
                            f"{MAX_SLICES}")
    if checked["time_column"] == target:
        raise InvalidParams("time_column", f"is the target {target!r}")
    return checked
