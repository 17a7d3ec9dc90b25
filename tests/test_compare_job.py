"""The compare job, called as a plain function: real LightGBM models made by the train job on
the bikeshare example, a real artifact store, no mocks.

Point values are recomputed here with sklearn on holdout rows picked independently of the
job's code, and intervals with a naive loop (one `rng.integers(0, n, size=n)` and one sklearn
call per resample), so a wrong holdout, a wrong pairing or a wrong fast metric each shows up.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import polars as pl
import pytest
from sklearn import metrics as skm
from sklearn.model_selection import train_test_split

from jobs import compare
from jobs.compare import bootstrap
from jobs.context import InvalidParams, JobContext, JobError
from jobs.features import to_matrix
from jobs.registry import KINDS
from jobs.train import run as train_run
from store.artifacts import ArtifactStore
from tests.test_train_job import BINARY, MULTICLASS, REGRESSION, snapshot

SHA = "cd" * 32
NO_HR = ["hr"]


def _ignore(type: str, **data: Any) -> None:
    pass


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> JobContext:
    # one store for the module: the models are trained once and compared many times
    root = tmp_path_factory.mktemp("compare") / "artifacts"
    return JobContext(job_id=12, log=logging.getLogger("test.compare"),
                      artifacts=ArtifactStore(root), emit=_ignore,
                      home=root.parent)


class Trained:
    """A train job's params and result."""

    def __init__(self, ctx: JobContext, frame: pl.DataFrame, version: str, **params: Any) -> None:
        data = [{"dataset": "bikeshare", "version": 1, "snapshot_sha": snapshot(ctx, frame)}]
        self.params = {"model": "bikes", "data": data, "rounds": 150, **params}
        self.result = train_run(self.params, ctx)
        self.version = version

    def challenger(self) -> dict[str, Any]:
        return {"version": self.version, "model_sha": self.result["model_sha"],
                "signature": self.result["signature"],
                "holdout_predictions_sha": self.result["holdout_predictions_sha"]}

    def champion(self) -> dict[str, Any]:
        return {"version": self.version, "model_sha": self.result["model_sha"],
                "signature": self.result["signature"]}


def _excluding(task: dict, extra: list[str]) -> dict:
    features = task["features"]
    return {**task, "features": {**features, "exclude": features["exclude"] + extra}}


@pytest.fixture(scope="module")
def models(ctx: JobContext, bike: pl.DataFrame) -> dict[str, Trained]:
    return {
        "regression": Trained(ctx, bike, "1.1.0", **REGRESSION),
        "regression-weak": Trained(ctx, bike, "1.0.0", **REGRESSION, rounds=3),
        "binary": Trained(ctx, bike, "2.1.0", **BINARY, threshold=0.4),
        "binary-weak": Trained(ctx, bike, "2.0.0", **_excluding(BINARY, NO_HR)),
    }


def run(challenger: Trained, champion: Trained | dict | None, metric: str, ctx: JobContext,
        **extra: Any) -> dict[str, Any]:
    if isinstance(champion, Trained):
        champion = champion.champion()
    result = compare.run({"model": "bikes", "train": challenger.params,
                          "challenger": challenger.challenger(), "champion": champion,
                          "metric": metric, **extra}, ctx)
    assert json.loads(json.dumps(result, allow_nan=False)) == result  # plain JSON
    return result


def holdout(bike: pl.DataFrame, task: str) -> pl.DataFrame:
    """The rows a random (stratified) 20% split with seed 42 holds out, picked with sklearn."""
    stratify = bike["busy"].cast(pl.Int32).to_numpy() if task == "binary" else None
    _, rows = train_test_split(np.arange(bike.height), test_size=0.2, random_state=42,
                               stratify=stratify)
    return bike[np.sort(rows)]


def predict(ctx: JobContext, trained: Trained, rows: pl.DataFrame) -> np.ndarray:
    text = ctx.artifacts.read_bytes(trained.result["model_sha"]).decode()
    return lgb.Booster(model_str=text).predict(to_matrix(rows, trained.result["signature"]))


def sk_metric(metric: str, threshold: float | None = None, classes: int | None = None
              ) -> Callable[[np.ndarray, np.ndarray], float]:
    """The metric by sklearn, as the train job defines it."""
    labels = list(range(classes)) if classes else [0, 1]
    return {
        "rmse": skm.root_mean_squared_error,
        "mae": skm.mean_absolute_error,
        "r2": skm.r2_score,
        "auc": skm.roc_auc_score,
        "log_loss": lambda y, p: skm.log_loss(y, p, labels=labels),
        "accuracy": (lambda y, p: skm.accuracy_score(y, p.argmax(axis=1))) if classes else (
            lambda y, p: skm.accuracy_score(y, p >= threshold)),
        "precision": lambda y, p: skm.precision_score(y, p >= threshold, zero_division=0),
        "recall": lambda y, p: skm.recall_score(y, p >= threshold, zero_division=0),
        "f1": lambda y, p: skm.f1_score(y, p >= threshold, zero_division=0),
        "macro_f1": lambda y, p: skm.f1_score(y, p.argmax(axis=1), labels=labels,
                                              average="macro", zero_division=0),
    }[metric]


def naive_ci(y: np.ndarray, ours: np.ndarray, theirs: np.ndarray, ours_metric: Callable,
             theirs_metric: Callable, higher: bool, resamples: int, seed: int,
             confidence: float) -> list[float]:
    rng = np.random.default_rng(seed)
    n, sign = len(y), 1.0 if higher else -1.0
    differences = []
    for _ in range(resamples):
        idx = rng.integers(0, n, size=n)
        differences.append(sign * (ours_metric(y[idx], ours[idx])
                                   - theirs_metric(y[idx], theirs[idx])))
    tail = (1 - confidence) / 2
    return [float(v) for v in np.quantile(differences, [tail, 1 - tail])]


# -- params ------------------------------------------------------------------------------------


def _params(**change: Any) -> dict[str, Any]:
    signature = {"task": "regression", "target": {"name": "bikers", "dtype": "int64",
                                                  "classes": None},
                 "inputs": [{"name": "hr", "dtype": "int64", "categorical": False,
                             "categories": None}], "threshold": None}
    params = {
        "model": "bikes",
        "train": {"model": "bikes", "data": [{"dataset": "bikeshare", "version": 1,
                                              "snapshot_sha": SHA}], **REGRESSION},
        "challenger": {"version": "1.1.0", "model_sha": SHA, "signature": signature},
        "champion": {"version": "1.0.0", "model_sha": SHA, "signature": signature},
        "metric": "rmse",
    }
    params.update(change)
    return params


GATE = {"against": "production (1.0.0)", "max_latency_ms": 50, "latency_bound_from":
        "asked for (--max-latency-ms)", "minimum": None, "maximum": 1.5,
        "min_improvement": 0}
"""What mlops check model keeps with its job (mlopsd/retraining/model_gate.py)."""


def test_a_model_checks_gate_is_kept_checked() -> None:
    checked = compare.check_params(_params(gate=GATE))
    assert checked["gate"] == {**GATE, "max_latency_ms": 50.0, "min_improvement": 0.0}
    assert compare.check_params(checked) == checked
    assert "gate" not in compare.check_params(_params())  # the pipeline's comparisons


def test_check_params_fills_defaults_and_is_idempotent() -> None:
    checked = compare.check_params(_params())
    assert (checked["bootstrap"], checked["confidence"], checked["seed"]) == (1000, 0.95, 42)
    assert checked["challenger"]["holdout_predictions_sha"] is None
    assert checked["train"]["split"] == {"holdout": 0.2, "seed": 42}  # the train job's defaults
    assert compare.check_params(checked) == checked
    assert compare.check_params(_params(champion=None))["champion"] is None


@pytest.mark.parametrize(("change", "field"), [
    ({"metric": "mape"}, "metric"),
    ({"metric": "auc"}, "metric"),  # a binary metric for a regression
    ({"bootstrap": 5}, "bootstrap"),
    ({"bootstrap": 1000.0}, "bootstrap"),
    ({"confidence": 1.0}, "confidence"),
    ({"seed": -1}, "seed"),
    ({"samples": 10}, "samples"),
    ({"model": ""}, "model"),
    ({"train": {"task": "ranking"}}, "train.task"),
    ({"train": None}, "train"),
    ({"challenger": {"version": "1", "model_sha": "xyz", "signature": {}}},
     "challenger.model_sha"),
    ({"challenger": {"version": "1", "model_sha": SHA, "signature": {"inputs": []},
                     "holdout_predictions_sha": SHA}}, "challenger.signature.task"),
    ({"champion": {"version": "1", "model_sha": SHA, "signature": {"inputs": []},
                   "holdout_predictions_sha": SHA}}, "champion.holdout_predictions_sha"),
    ({"champion": {"version": "1", "model_sha": SHA, "signature": {"inputs": "hr"}}},
     "champion.signature.inputs"),
    ({"gate": {**GATE, "max_latency_ms": 0}}, "gate.max_latency_ms"),
    ({"gate": {**GATE, "against": ""}}, "gate.against"),
    ({"gate": {**GATE, "maximum": "1"}}, "gate.maximum"),
    ({"gate": {**GATE, "tolerance": 1}}, "gate.tolerance"),
])
def test_bad_params_name_the_field(change: dict, field: str) -> None:
    with pytest.raises(InvalidParams) as info:
        compare.check_params(_params(**change))
    assert info.value.field == field, str(info.value)


def test_train_params_must_be_the_challengers() -> None:
    params = _params()
    params["train"] = {**params["train"], "model": "other"}
    with pytest.raises(InvalidParams, match=r"train\.model"):
        compare.check_params(params)
    params = _params()
    params["train"] = {**params["train"], "target": "casual"}
    with pytest.raises(InvalidParams) as info:
        compare.check_params(params)
    assert info.value.field == "challenger.signature.target.name"


def test_the_kind_is_registered_and_loads_no_heavy_library() -> None:
    kind = KINDS["compare"]
    assert kind.idempotent and kind.target == "jobs.compare:run"
    assert kind.check_params is compare.check_params and "bootstrap" in kind.description
    code = ("import sys, jobs.registry, jobs.compare\n"
            "jobs.registry.KINDS['compare']\n"
            "print(','.join(m for m in ('polars', 'lightgbm', 'sklearn', 'numpy') "
            "if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == ""
    assert kind.load() is compare.run


# -- the bootstrap scheme --------------------------------------------------------------------


@pytest.mark.parametrize("n", [7, 1729, 20_001])
def test_chunked_draws_are_the_stream_of_one_draw_per_resample(
        n: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # chunks of 3 resamples, and a last chunk shorter than the others
    monkeypatch.setattr(bootstrap, "CHUNK", 3 * n + 1)
    chunks = list(bootstrap.draws(n, 11, seed=5))
    assert [len(c) for c in chunks] == [3, 3, 3, 2]
    rng = np.random.default_rng(5)
    expected = np.stack([rng.integers(0, n, size=n) for _ in range(11)])
    assert np.array_equal(np.concatenate(chunks), expected)


def test_degenerate_resamples_are_skipped_not_fatal() -> None:
    # one positive in six rows: many resamples draw no positive, where AUC is undefined
    y = np.array([0, 0, 0, 0, 0, 1])
    ours = bootstrap.Scored(np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.9]))
    theirs = bootstrap.Scored(np.array([0.9, 0.2, 0.3, 0.4, 0.5, 0.6]))
    found = bootstrap.paired("auc", y, ours, theirs, n_classes=None, resamples=200,
                             confidence=0.9, seed=1)
    kept = ~np.isnan(found.differences)
    assert 0 < found.skipped == 200 - kept.sum() < 200 and found.ci is not None
    # r2 of a resample that drew one target value only
    y = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 2.0])
    found = bootstrap.paired("r2", y, bootstrap.Scored(y + 0.1), bootstrap.Scored(y - 0.3),
                             n_classes=None, resamples=200, confidence=0.9, seed=1)
    assert 0 < found.skipped < 200
    # no positive at all: every resample skipped, no interval
    none = bootstrap.Scored(np.array([0.1, 0.2, 0.3, 0.4]))
    found = bootstrap.paired("auc", np.zeros(4, dtype=int), none, none, n_classes=None,
                             resamples=100, confidence=0.9, seed=1)
    assert found.ci is None and found.skipped == 100


# -- the job on real models ------------------------------------------------------------------


@pytest.mark.parametrize(("name", "metric"), [("regression", "rmse"), ("binary", "auc"),
                                              ("binary", "f1")])
def test_the_same_model_twice_is_no_improvement(
        ctx: JobContext, models: dict[str, Trained], name: str, metric: str) -> None:
    model = models[name]
    result = run(model, model, metric, ctx, bootstrap=200)
    assert result["improvement"] == 0.0 and result["ci"] == [0.0, 0.0]
    assert result["holdout_matches_training"] is True
    assert result["challenger"]["value"] == result["champion"]["value"] \
        == model.result["metrics"][metric]  # the train job's own holdout metric
    assert result["rows"] == model.result["rows"]["holdout"] and result["skipped"] == 0
    assert result["champion_unscorable"] is None
    assert {"load_s", "predict_s", "metric_s", "bootstrap_s"} <= set(result["timings"])


@pytest.mark.parametrize(("good", "weak", "metric"), [
    ("regression", "regression-weak", "rmse"), ("binary", "binary-weak", "auc")])
def test_a_better_and_a_worse_challenger(ctx: JobContext, models: dict[str, Trained],
                                         good: str, weak: str, metric: str) -> None:
    better = run(models[good], models[weak], metric, ctx)
    assert better["improvement"] > 0 and better["ci"][0] > 0
    assert better["ci"][0] <= better["improvement"] <= better["ci"][1]
    assert better["higher_is_better"] is (metric == "auc")
    worse = run(models[weak], models[good], metric, ctx)
    assert worse["improvement"] < 0 and worse["ci"][1] < 0
    assert worse["holdout_matches_training"] is True  # the weak one's own holdout: same rows
    assert worse["improvement"] == -better["improvement"]


@pytest.mark.parametrize(("task", "metrics"), [
    ("regression", ["rmse", "mae", "r2"]),
    ("binary", ["auc", "log_loss", "accuracy", "precision", "recall", "f1"]),
])
def test_values_and_intervals_match_sklearn_and_a_naive_loop(
        ctx: JobContext, bike: pl.DataFrame, models: dict[str, Trained], task: str,
        metrics: list[str]) -> None:
    challenger, champion = models[task], models[f"{task}-weak"]
    rows = holdout(bike, task)
    y = rows[challenger.params["target"]].cast(pl.Float64 if task == "regression"
                                               else pl.Int32).to_numpy()
    ours, theirs = predict(ctx, challenger, rows), predict(ctx, champion, rows)
    for metric in metrics:
        result = run(challenger, champion, metric, ctx, bootstrap=150, seed=7, confidence=0.9)
        ours_metric = sk_metric(metric, challenger.result["signature"]["threshold"])
        theirs_metric = sk_metric(metric, champion.result["signature"]["threshold"])
        assert result["challenger"]["value"] == ours_metric(y, ours), metric
        assert result["champion"]["value"] == theirs_metric(y, theirs), metric
        expected = naive_ci(y, ours, theirs, ours_metric, theirs_metric,
                            result["higher_is_better"], 150, 7, 0.9)
        assert result["ci"] == pytest.approx(expected, abs=1e-12, rel=0), metric


def test_multiclass_values_and_intervals(ctx: JobContext, bike: pl.DataFrame) -> None:
    data = bike.filter(pl.col("weathersit") != "heavy rain/snow")  # one row: cannot stratify
    challenger = Trained(ctx, data, "3.1.0", **MULTICLASS, rounds=20)
    champion = Trained(ctx, data, "3.0.0", **_excluding(MULTICLASS, ["hum", "windspeed"]),
                       rounds=3)
    classes = challenger.result["signature"]["target"]["classes"]
    y_all = data["weathersit"].replace_strict(classes, [0, 1, 2]).to_numpy()
    _, picked = train_test_split(np.arange(data.height), test_size=0.2, random_state=42,
                                 stratify=y_all)
    rows, y = data[np.sort(picked)], y_all[np.sort(picked)]
    ours, theirs = predict(ctx, challenger, rows), predict(ctx, champion, rows)
    for metric in ("accuracy", "macro_f1", "log_loss"):
        result = run(challenger, champion, metric, ctx, bootstrap=100, seed=3)
        m = sk_metric(metric, classes=3)
        assert result["challenger"]["value"] == m(y, ours), metric
        assert result["champion"]["value"] == m(y, theirs), metric
        expected = naive_ci(y, ours, theirs, m, m, result["higher_is_better"], 100, 3, 0.95)
        assert result["ci"] == pytest.approx(expected, abs=1e-12, rel=0), metric


def test_the_same_params_give_the_same_result(ctx: JobContext, models: dict[str, Trained]
                                              ) -> None:
    a = run(models["binary"], models["binary-weak"], "auc", ctx, seed=11)
    b = run(models["binary"], models["binary-weak"], "auc", ctx, seed=11)
    c = run(models["binary"], models["binary-weak"], "auc", ctx, seed=12)
    a.pop("timings"), b.pop("timings"), c.pop("timings")
    assert a == b
    assert c["ci"] != a["ci"] and c["improvement"] == a["improvement"]


def test_a_time_split_is_re_cut_the_same_way(ctx: JobContext, bike: pl.DataFrame) -> None:
    shuffled = bike.sample(fraction=1.0, shuffle=True, seed=3)  # file order is not time order
    params = {**REGRESSION, "features": {"include": None,
                                         "exclude": ["casual", "registered", "busy"]},
              "time_column": "ts", "rounds": 20}
    challenger = Trained(ctx, shuffled, "1.2.0", **params)
    result = run(challenger, None, "mae", ctx)
    assert result["holdout_matches_training"] is True and result["champion"] is None
    assert result["improvement"] is None and result["ci"] is None
    assert result["challenger"]["value"] == challenger.result["metrics"]["mae"]


def test_a_champion_that_cannot_be_scored(ctx: JobContext, bike: pl.DataFrame,
                                          models: dict[str, Trained]) -> None:
    # trained on data with a column the challenger's data lacks
    richer = bike.with_columns(feels=pl.col("atemp") * 2)
    champion = Trained(ctx, richer, "0.9.0", **REGRESSION, rounds=5)
    assert "feels" in {i["name"] for i in champion.result["signature"]["inputs"]}
    result = run(models["regression"], champion, "rmse", ctx)
    assert result["champion"] is None and result["improvement"] is None and result["ci"] is None
    assert result["champion_unscorable"] == "input 'feels': no column 'feels' in the data"
    assert result["challenger"]["value"] == models["regression"].result["metrics"]["rmse"]
    assert result["holdout_matches_training"] is True

    def unscorable(name: str, metric: str, change: Callable[[dict], None]) -> str:
        champion = models[name].champion()
        champion["signature"] = json.loads(json.dumps(champion["signature"]))
        change(champion["signature"])
        result = run(models[name], champion, metric, ctx)
        assert result["champion"] is None and result["challenger"]["value"] is not None
        return result["champion_unscorable"]

    def text_temp(signature: dict) -> None:
        temp = next(i for i in signature["inputs"] if i["name"] == "temp")
        temp.update(dtype="string", categorical=True, categories=["cold", "warm"])

    assert "input 'temp': expected text" in unscorable("regression", "rmse", text_temp)
    classes = unscorable("binary", "auc", lambda s: s["target"].update(classes=["no", "yes"]))
    assert classes == "its classes ['no', 'yes'] are not the challenger's [False, True]"
    task = unscorable("binary", "auc", lambda s: s.update(task="regression"))
    assert task == "it is a regression model, the challenger a binary one"
    fewer = unscorable("regression", "rmse", lambda s: s["inputs"].pop())
    assert fewer.startswith("the model does not predict on its signature's inputs")


def test_an_sdk_champion_without_task_or_classes_is_scored(
        ctx: JobContext, models: dict[str, Trained]) -> None:
    champion = models["binary-weak"].champion()
    signature = dict(champion["signature"])
    del signature["task"]
    signature["target"] = {"name": None, "dtype": None, "classes": None}
    result = run(models["binary"], {**champion, "signature": signature}, "auc", ctx)
    assert result["champion"]["value"] == models["binary-weak"].result["metrics"]["auc"]


def test_a_holdout_that_is_not_the_trainings_is_a_job_error(
        ctx: JobContext, models: dict[str, Trained]) -> None:
    challenger = models["regression"]
    params = {"model": "bikes", "train": challenger.params, "champion": None, "metric": "rmse",
              "challenger": {**challenger.challenger(), "holdout_predictions_sha": SHA}}
    with pytest.raises(JobError, match="not the holdout it was trained against"):
        compare.run(params, ctx)
    # another split seed cuts other rows: the recorded hash proves it
    params = {**params, "challenger": challenger.challenger(),
              "train": {**challenger.params, "split": {"holdout": 0.2, "seed": 1}}}
    with pytest.raises(JobError, match=r"hash to [0-9a-f]{64}, not to"):
        compare.run(params, ctx)
