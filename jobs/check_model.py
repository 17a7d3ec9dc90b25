"""check_model: load a model text uploaded from the SDK (`run.log_model`) and check it
against its signature, in a worker process.

LightGBM's text parser is not hardened against malformed input (a truncated upload can
crash the process that parses it), so the daemon never parses an upload itself: this job
does, and a crash here fails the job, not the daemon.
"""

from __future__ import annotations

from typing import Any

from jobs.context import InvalidParams, JobContext, JobError

DESCRIPTION = "Load an uploaded LightGBM model text and check it against its signature."
TASKS = ("binary", "multiclass", "regression")
_BINARY = ("binary", "cross_entropy", "xentropy")
_MULTICLASS = ("multiclass", "softmax", "multiclassova", "ova", "multiclass_ova")
_REGRESSION = ("huber", "fair", "poisson", "quantile", "mape", "gamma", "tweedie", "l1", "l2",
               "mae", "mse", "rmse")


def check_params(params: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(params.get("sha"), str):
        raise InvalidParams("sha", "must be the artifact hash of the model text")
    inputs = params.get("inputs")
    if not isinstance(inputs, list) or not all(isinstance(n, str) for n in inputs):
        raise InvalidParams("inputs", "must be the list of the signature's input names")
    if params.get("task") is not None and params["task"] not in TASKS:
        raise InvalidParams("task", f"must be one of {', '.join(TASKS)}")
    return params


def task_of(objective: str | None) -> str | None:
    """LightGBM's objective as one of our tasks (None when it is none of them)."""
    name = (objective or "").split(" ")[0]
    if name in _BINARY:
        return "binary"
    if name in _MULTICLASS:
        return "multiclass"
    if name.startswith("regression") or name in _REGRESSION:
        return "regression"
    return None


def run(params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    params = check_params(params)
    text = ctx.artifacts.read_bytes(params["sha"]).decode()
    return check(text, params["inputs"], params.get("task"), ctx, params["sha"])


def check(text: str, inputs: list[str], asked_task: str | None, ctx: JobContext,
          sha: str, *, field: str = "model_text") -> dict[str, Any]:
    """Load a model text and check it against a signature's input names; its task, from
    its objective unless asked for. `field` names the text in errors."""
    import lightgbm as lgb

    try:
        booster = lgb.Booster(model_str=text)
    except lgb.basic.LightGBMError as exc:
        raise JobError(f"{field}: does not load in LightGBM: {exc}") from None
    objective = next((line.split("=", 1)[1] for line in text.splitlines()
                      if line.startswith("objective=")), None)
    found = task_of(objective)
    task = asked_task or found
    if task is None:
        raise JobError(f"task: the model's objective {objective!r} is not binary, multiclass "
                       "or regression; say which with task=")
    if asked_task and found and asked_task != found:
        raise JobError(f"task: {asked_task!r} does not match the model's objective "
                       f"{objective!r}")
    names = booster.feature_name()
    if inputs != names:
        raise JobError(f"signature: its inputs {_short(inputs)} are not the model's "
                       f"features {_short(names)} (same names, same order)")
    ctx.log.info("model %s loads: %s, %s features, %s trees", sha[:12], task, len(names),
                 booster.num_trees())
    return {"task": task, "objective": objective, "features": len(names),
            "trees": booster.num_trees()}


def _short(names: list[str]) -> str:
    return str(names[:5])[:-1] + (", …]" if len(names) > 5 else "]")
