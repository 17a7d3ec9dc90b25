"""selfcheck: proves a worker process can do real work in this installation.

It trains a small deterministic LightGBM model on synthetic data, checks the result is
reproducible, stores the model text in the artifact store and reads it back hash-checked.
`seconds` keeps it busy afterwards (with progress events), so the runner's cancel,
interrupt and crash handling can be exercised on a live job.
"""

from __future__ import annotations

import os
import platform
import resource
import time
from typing import Any

from jobs.context import InvalidParams, JobContext, JobError, reject_unknown, take_number

DESCRIPTION = (
    "Train a tiny LightGBM model in a worker, store it as an artifact and read it back; "
    "params: seconds (stay busy that long), fail (fail with this message)."
)


def check_params(params: dict[str, Any]) -> dict[str, Any]:
    reject_unknown(params, {"seconds", "fail"})
    checked: dict[str, Any] = {"seconds": take_number(params, "seconds", 0, low=0, high=86400)}
    if params.get("fail") is not None:
        if not isinstance(params["fail"], str) or not params["fail"].strip():
            raise InvalidParams("fail", "must be a non-empty message")
        checked["fail"] = params["fail"]
    return checked


def _train_once() -> tuple[str, float]:
    import lightgbm as lgb
    import numpy as np

    rng = np.random.default_rng(7)
    x = rng.normal(size=(2000, 5))
    y = (x[:, 0] + 0.5 * x[:, 1] - x[:, 2] + rng.normal(scale=0.5, size=2000) > 0).astype(int)
    params = {
        "objective": "binary",
        "num_leaves": 15,
        "learning_rate": 0.1,
        "seed": 7,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": 1,
        "verbosity": -1,
    }
    booster = lgb.train(params, lgb.Dataset(x, label=y), num_boost_round=20)
    accuracy = float(((booster.predict(x) > 0.5) == y).mean())
    return booster.model_to_string(), accuracy


def run(params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    params = check_params(params)
    started = time.perf_counter()
    ctx.log.info("selfcheck in pid %s on %s", os.getpid(), platform.node())
    model_a, accuracy = _train_once()
    model_b, _ = _train_once()
    if model_a != model_b:
        raise JobError("LightGBM is not deterministic here: two identical trainings differed")
    sha = ctx.artifacts.put_bytes(model_a.encode())
    if ctx.artifacts.read_bytes(sha).decode() != model_a:
        raise JobError("artifact round trip changed the model text")
    ctx.log.info("trained, reproducible, stored as %s (train accuracy %.3f)", sha, accuracy)
    ctx.emit("job.progress", job_id=ctx.job_id, step="trained", artifact=sha)

    deadline = time.monotonic() + params["seconds"]
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(0.5, left))
        done = params["seconds"] - max(0.0, deadline - time.monotonic())
        ctx.log.info("busy %.1f / %.1f s", done, params["seconds"])
        ctx.emit("job.progress", job_id=ctx.job_id, step="busy", done_s=round(done, 2))
    if "fail" in params:
        raise JobError(params["fail"])

    import lightgbm
    import numpy

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "pid": os.getpid(),
        "python": platform.python_version(),
        "lightgbm": lightgbm.__version__,
        "numpy": numpy.__version__,
        "artifact": sha,
        "train_accuracy": round(accuracy, 4),
        "deterministic": True,
        "wall_s": round(time.perf_counter() - started, 3),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
        "max_rss_mb": round(usage.ru_maxrss / 1024, 1),
    }
