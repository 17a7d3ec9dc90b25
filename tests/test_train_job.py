"""The train job, called as a plain function: real LightGBM on real data, a real artifact store.

Metrics are recomputed here from the stored model (loaded back from its text) on holdout rows
chosen independently of the job's code, so a wrong split, a wrong encoding or a wrong metric
each shows up as a mismatch.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import polars as pl
import pytest
from sklearn import metrics as skm
from sklearn.model_selection import train_test_split

from jobs.context import InvalidParams, JobContext, JobError
from jobs.features import FeatureError, signature_from_frame, to_matrix
from jobs.train import check_params, evaluate, run
from jobs.train.progress import Progress
from jobs.train.split import by_time
from store.artifacts import ArtifactStore

BIKESHARE = Path(__file__).resolve().parents[1] / "examples/bikeshare/bikeshare-2011-hourly.csv"
SHA = "ab" * 32


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, type: str, **data: Any) -> None:
        self.events.append((type, data))


@pytest.fixture
def ctx(tmp_path: Path) -> JobContext:
    return JobContext(job_id=11, log=logging.getLogger("test.train"),
                      artifacts=ArtifactStore(tmp_path / "artifacts"), emit=Recorder(),
                      home=tmp_path)


def snapshot(ctx: JobContext, frame: pl.DataFrame) -> str:
    path = ctx.artifacts.tmp_path(".parquet")
    frame.write_parquet(path)
    return ctx.artifacts.adopt(path)


def train(ctx: JobContext, frames: pl.DataFrame | list[pl.DataFrame], **params: Any) -> dict:
    frames = frames if isinstance(frames, list) else [frames]
    data = [{"dataset": "bikeshare", "version": i + 1, "snapshot_sha": snapshot(ctx, f)}
            for i, f in enumerate(frames)]
    result = run({"model": "bikes", "data": data, "rounds": 150, **params}, ctx)
    # plain JSON, no NaN or infinity anywhere
    assert json.loads(json.dumps(result, allow_nan=False)) == result
    assert not list((ctx.artifacts.root / "tmp").glob("*")), "temp files left behind"
    return result


def stored_model(ctx: JobContext, result: dict) -> lgb.Booster:
    text = ctx.artifacts.read_bytes(result["model_sha"]).decode()
    assert "tree" in text and not text.startswith("\x80")  # LightGBM text, not a pickle
    return lgb.Booster(model_str=text)


def predict_sha(booster: lgb.Booster, rows: pl.DataFrame, signature: dict) -> tuple[np.ndarray,
                                                                                     str]:
    predictions = booster.predict(to_matrix(rows, signature))
    data = np.ascontiguousarray(predictions, dtype="<f8").tobytes()
    return predictions, hashlib.sha256(data).hexdigest()


def blobs(ctx: JobContext) -> set[str]:
    return {p.name for p in (ctx.artifacts.root / "sha256").glob("*/*")}


REGRESSION = {"task": "regression", "target": "bikers",
              "features": {"include": None, "exclude": ["casual", "registered", "busy", "ts"]}}
BINARY = {"task": "binary", "target": "busy",
          "features": {"include": None, "exclude": ["casual", "registered", "bikers", "ts"]}}
MULTICLASS = {"task": "multiclass", "target": "weathersit",
              "features": {"include": None, "exclude": ["busy", "ts"]}}


# -- params ------------------------------------------------------------------------------------


def test_check_params_fills_defaults_and_is_idempotent() -> None:
    given = {"model": "bikes", "task": "binary", "target": "busy",
             "data": [{"dataset": "bikeshare", "version": 3, "snapshot_sha": SHA}], "seed": 7}
    checked = check_params(given)
    assert checked == {
        "model": "bikes", "task": "binary", "target": "busy",
        "data": [{"dataset": "bikeshare", "version": 3, "snapshot_sha": SHA}],
        "window": None, "time_column": None, "features": {"include": None, "exclude": []},
        "categorical": [], "lgb_params": {}, "rounds": 500, "early_stopping": 50,
        "split": {"holdout": 0.2, "seed": 7}, "threshold": 0.5, "min_rows": 50, "seed": 7,
        "num_threads": 2, "slices": [],
    }
    assert check_params(checked) == checked
    assert check_params({**given, "features": {"include": ["busy", "hr"]}})["features"] == {
        "include": ["hr"], "exclude": []}  # the target is never a feature


@pytest.mark.parametrize(("change", "field"), [
    ({"task": "ranking"}, "task"),
    ({"target": ""}, "target"),
    ({"data": []}, "data"),
    ({"data": [{"dataset": "b", "version": 1, "snapshot_sha": "xyz"}]}, "data[0].snapshot_sha"),
    ({"data": [{"dataset": "b", "version": "1", "snapshot_sha": SHA}]}, "data[0].version"),
    ({"window": {"time_column": "ts", "start": "2011-13-01"}}, "window.start"),
    ({"window": {"time_column": "ts", "start": "2011-06-01", "end": "2011-01-01"}},
     "window.start"),
    ({"features": {"include": ["hr", "hr"]}}, "features.include"),
    ({"features": {"exclude": "casual"}}, "features.exclude"),
    ({"categorical": ["busy"]}, "categorical"),
    ({"lgb_params": {"n_estimators": 10}}, "lgb_params.n_estimators"),
    ({"lgb_params": {"random_state": 1}}, "lgb_params.random_state"),
    ({"lgb_params": {"objective": "regression"}}, "lgb_params.objective"),
    ({"lgb_params": {"learning_rate": None}}, "lgb_params.learning_rate"),
    ({"lgb_params": {"forcedsplits_filename": "/etc/passwd"}}, "lgb_params.forcedsplits_filename"),
    ({"lgb_params": {"init_score": "/tmp/x"}}, "lgb_params.init_score"),
    ({"lgb_params": {"output_result": "/tmp/x"}}, "lgb_params.output_result"),
    ({"lgb_params": {"some_new_file": "/tmp/x"}}, "lgb_params.some_new_file"),
    ({"rounds": 0}, "rounds"),
    ({"early_stopping": 1.5}, "early_stopping"),
    ({"split": {"holdout": 1.0}}, "split.holdout"),
    ({"split": {"ratio": 0.2}}, "split.ratio"),
    ({"threshold": True}, "threshold"),
    ({"seed": -1}, "seed"),
    ({"num_threads": 0}, "num_threads"),
    ({"epochs": 3}, "epochs"),
])
def test_check_params_names_the_bad_field(change: dict, field: str) -> None:
    given = {"model": "bikes", "task": "binary", "target": "busy",
             "data": [{"dataset": "bikeshare", "version": 3, "snapshot_sha": SHA}], **change}
    with pytest.raises(InvalidParams) as info:
        check_params(given)
    assert info.value.field == field, str(info.value)


def test_importing_the_job_loads_no_heavy_library() -> None:
    code = ("import sys, jobs.train, jobs.registry\n"
            "print(','.join(m for m in ('polars', 'lightgbm', 'sklearn', 'numpy') "
            "if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == ""


# -- the three tasks, checked against sklearn ------------------------------------------------


def test_regression_metrics_match_sklearn(ctx: JobContext, bike: pl.DataFrame) -> None:
    result = train(ctx, bike, **REGRESSION)
    signature = result["signature"]
    assert signature["task"] == "regression" and signature["threshold"] is None
    assert signature["target"] == {"name": "bikers", "dtype": "int64", "classes": None}
    inputs = {i["name"]: i for i in signature["inputs"]}
    assert list(inputs) == ["season", "mnth", "day", "hr", "holiday", "weekday", "workingday",
                            "weathersit", "temp", "atemp", "hum", "windspeed"]  # no ts, no target
    assert inputs["mnth"]["categorical"] and inputs["mnth"]["categories"] == sorted(
        bike["mnth"].unique().to_list())
    assert inputs["temp"] == {"name": "temp", "dtype": "float64", "categorical": False,
                              "categories": None}
    assert result["split_kind"] == "random"
    assert result["rows"] == {"train": 6916, "holdout": 1729, "total": 8645, "unlabelled": 0}

    _, holdout = train_test_split(np.arange(bike.height), test_size=0.2, random_state=42)
    rows = bike[np.sort(holdout)]
    predictions, sha = predict_sha(stored_model(ctx, result), rows, signature)
    assert sha == result["holdout_predictions_sha"]
    y = rows["bikers"].to_numpy().astype(float)
    m = result["metrics"]
    assert m["rmse"] == skm.root_mean_squared_error(y, predictions)
    assert m["mae"] == skm.mean_absolute_error(y, predictions)
    assert m["r2"] == skm.r2_score(y, predictions)
    assert m["r2"] > 0.9 and m["train_rmse"] < m["rmse"]
    assert set(result["importance"]["gain"]) == set(inputs) == set(result["importance"]["split"])
    assert result["importance"]["gain"]["hr"] == max(result["importance"]["gain"].values())
    effective = result["lgb_params_effective"]
    assert effective | {"seed": 42, "deterministic": True, "force_row_wise": True,
                        "num_threads": 2, "verbosity": -1, "objective": "regression",
                        "num_iterations": 150, "early_stopping_round": 50} == effective
    assert set(result["versions"]) == {"python", "lightgbm", "numpy", "polars", "scikit-learn"}
    assert set(result["timings"]) == {"load_s", "split_s", "train_s", "evaluate_s", "card_s",
                                      "store_s"}


def test_binary_metrics_match_sklearn(ctx: JobContext, bike: pl.DataFrame) -> None:
    result = train(ctx, bike, **BINARY, threshold=0.4)
    signature = result["signature"]
    assert signature["target"] == {"name": "busy", "dtype": "bool", "classes": [False, True]}
    assert signature["threshold"] == 0.4 and result["split_kind"] == "stratified"

    y_all = bike["busy"].cast(pl.Int32).to_numpy()
    _, holdout = train_test_split(np.arange(bike.height), test_size=0.2, random_state=42,
                                  stratify=y_all)
    rows = bike[np.sort(holdout)]
    p, sha = predict_sha(stored_model(ctx, result), rows, signature)
    assert sha == result["holdout_predictions_sha"]
    y = rows["busy"].cast(pl.Int32).to_numpy()
    decided = (p >= 0.4).astype(int)
    m = result["metrics"]
    assert m["auc"] == skm.roc_auc_score(y, p) and m["auc"] > 0.9
    assert m["log_loss"] == skm.log_loss(y, p)
    assert m["accuracy"] == skm.accuracy_score(y, decided)
    assert m["precision"] == skm.precision_score(y, decided)
    assert m["recall"] == skm.recall_score(y, decided)
    assert m["f1"] == skm.f1_score(y, decided)
    assert m["confusion_matrix"] == skm.confusion_matrix(y, decided).tolist()
    assert {"train_auc", "train_log_loss", "train_f1"} <= set(m)
    assert "train_confusion_matrix" not in m
    assert result["lgb_params_effective"]["objective"] == "binary"


def test_multiclass_metrics_match_sklearn(ctx: JobContext, bike: pl.DataFrame) -> None:
    data = bike.filter(pl.col("weathersit") != "heavy rain/snow")  # one row: cannot stratify
    result = train(ctx, data, **MULTICLASS)
    classes = ["clear", "cloudy/misty", "light rain/snow"]
    assert result["signature"]["target"] == {"name": "weathersit", "dtype": "string",
                                             "classes": classes}
    assert result["lgb_params_effective"]["num_class"] == 3
    assert result["num_trees"] == 3 * result["best_iteration"]

    y_all = data["weathersit"].replace_strict(classes, [0, 1, 2]).to_numpy()
    _, holdout = train_test_split(np.arange(data.height), test_size=0.2, random_state=42,
                                  stratify=y_all)
    rows = data[np.sort(holdout)]
    p, sha = predict_sha(stored_model(ctx, result), rows, result["signature"])
    assert p.shape == (len(holdout), 3) and sha == result["holdout_predictions_sha"]
    y = y_all[np.sort(holdout)]
    m = result["metrics"]
    assert m["accuracy"] == skm.accuracy_score(y, p.argmax(axis=1))
    assert m["macro_f1"] == skm.f1_score(y, p.argmax(axis=1), average="macro")
    assert m["log_loss"] == skm.log_loss(y, p)
    assert {"train_accuracy", "train_macro_f1", "train_log_loss"} <= set(m)


@pytest.mark.parametrize("stopped", [False, True], ids=["all-rounds", "early-stopped"])
@pytest.mark.parametrize("copies", [1, 3], ids=["train-curve-on-all-rows", "train-curve-sample"])
@pytest.mark.parametrize("task", [REGRESSION, BINARY, MULTICLASS], ids=lambda t: t["task"])
def test_kept_predictions_are_the_stored_models_bit_for_bit(
        ctx: JobContext, bike: pl.DataFrame, task: dict, copies: int, stopped: bool,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The job takes the holdout's and the train curve's predictions from LightGBM's
    training state (at the round the model keeps) instead of predicting again: they must be
    the numbers the stored model gives, bit for bit (with bagging, categoricals and NaNs in
    play, all rounds kept or early stopped)."""
    data = bike.filter(pl.col("weathersit") != "heavy rain/snow").with_columns(
        hum=pl.when(pl.col("hr") == 3).then(None).otherwise(pl.col("hum")))
    # each copy's count shifted: noise the features cannot explain, so that early stopping
    # still finds a round past which the holdout gets worse
    data = pl.concat([data.with_columns(bikers=pl.col("bikers") + 40 * i)
                      for i in range(copies)])
    params = {**task, "rounds": 40, "early_stopping": None, "lgb_params": {
        "bagging_fraction": 0.8, "bagging_freq": 1}}
    if stopped:
        params.update(rounds=400, early_stopping=3)
        params["lgb_params"] = {**params["lgb_params"], "learning_rate": 0.5}

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the job predicted instead of using LightGBM's kept scores")

    with monkeypatch.context() as patch:
        patch.setattr(lgb.Booster, "predict", refuse)
        result = train(ctx, data, **params)
    if stopped:
        assert result["best_iteration"] < result["iterations"]
    else:
        assert result["best_iteration"] == result["iterations"] == 40

    y_all = data[task["target"]]
    classes = result["signature"]["target"]["classes"]
    codes = (y_all.replace_strict(classes, list(range(len(classes)))).to_numpy()
             if classes is not None else None)
    train_rows, holdout = train_test_split(np.arange(data.height), test_size=0.2,
                                           random_state=42, stratify=codes)
    model = stored_model(ctx, result)
    _, sha = predict_sha(model, data[np.sort(holdout)], result["signature"])
    assert sha == result["holdout_predictions_sha"]
    train_rows = np.sort(train_rows)
    sample = train_rows[evaluate.train_sample(len(train_rows))]
    on_train = model.predict(to_matrix(data[sample], result["signature"]))
    y = codes[sample] if codes is not None else y_all.to_numpy()[sample].astype(float)
    expected = evaluate.metrics(task["task"], y, on_train, n_classes=len(classes or []) or None,
                                threshold=0.5)
    assert {f"train_{k}": v for k, v in expected.items() if k != "confusion_matrix"}.items() \
        <= result["metrics"].items()


# -- split, window, determinism, curves --------------------------------------------------------


def test_time_split_holds_out_the_most_recent_rows(ctx: JobContext, bike: pl.DataFrame) -> None:
    shuffled = bike.sample(fraction=1.0, shuffle=True, seed=3)  # file order is not time order
    result = train(ctx, shuffled, **{**REGRESSION, "features": {
        "include": None, "exclude": ["casual", "registered", "busy"]}}, time_column="ts")
    assert result["split_kind"] == "time"
    # the time column orders the rows; it is no feature unless included by name
    assert "ts" not in {i["name"] for i in result["signature"]["inputs"]}
    n_holdout = math.ceil(0.2 * bike.height)
    assert result["rows"]["holdout"] == n_holdout
    newest = shuffled.sort("ts").tail(n_holdout)
    _, sha = predict_sha(stored_model(ctx, result), newest, result["signature"])
    assert sha == result["holdout_predictions_sha"]


def test_time_ties_keep_row_order() -> None:
    frame = pl.DataFrame({"t": [3, 1, 2, 2, 2, 1]})
    parts = by_time(frame, "t", 3)
    assert parts.train.tolist() == [1, 5, 2] and parts.holdout.tolist() == [3, 4, 0]


def test_the_window_cuts_rows_and_versions_are_concatenated(
        ctx: JobContext, bike: pl.DataFrame) -> None:
    first, second = bike.head(4000), bike.slice(4000).drop("casual")  # a column went away
    result = train(ctx, [first, second], **REGRESSION, rounds=20,
                   window={"time_column": "ts", "start": "2011-03-01", "end": "2011-09-01T00:00"})
    expected = bike.filter((pl.col("ts") >= dt.datetime(2011, 3, 1))
                           & (pl.col("ts") < dt.datetime(2011, 9, 1))).height
    assert result["rows"]["total"] == expected


def test_same_params_give_the_same_model_and_the_seed_changes_it(
        ctx: JobContext, bike: pl.DataFrame) -> None:
    params = {**REGRESSION, "rounds": 60, "lgb_params": {
        "feature_fraction": 0.7, "bagging_fraction": 0.7, "bagging_freq": 1}}
    a = train(ctx, bike, **params)
    b = train(ctx, bike, **params)
    c = train(ctx, bike, **params, seed=43)
    assert a["model_sha"] == b["model_sha"]
    assert a["holdout_predictions_sha"] == b["holdout_predictions_sha"]
    assert a["metrics"] == b["metrics"] and a["curves"] == b["curves"]
    assert c["model_sha"] != a["model_sha"]
    assert c["holdout_predictions_sha"] != a["holdout_predictions_sha"]


def test_curves_cover_every_iteration_and_events_follow_them(
        ctx: JobContext, bike: pl.DataFrame) -> None:
    result = train(ctx, bike, **REGRESSION, rounds=400, early_stopping=5,
                   lgb_params={"learning_rate": 0.3})
    n = result["iterations"]
    assert result["best_iteration"] < n <= 400  # stopped early
    assert n == result["best_iteration"] + 5
    assert result["num_trees"] == result["best_iteration"]
    assert {k: len(v) for k, v in result["curves"]["train"].items()} == {"rmse": n}
    assert {k: len(v) for k, v in result["curves"]["valid"].items()} == {"rmse": n}
    valid = result["curves"]["valid"]["rmse"]
    assert min(valid) == valid[result["best_iteration"] - 1]
    events = [d for t, d in ctx.emit.events if t == "train.iteration"]
    assert events[0]["iteration"] == 1 and events[-1]["iteration"] == n
    for event in events:
        assert event["job_id"] == 11 and event["model"] == "bikes"
        assert event["valid"]["rmse"] == valid[event["iteration"] - 1]
        assert event["train"]["rmse"] == result["curves"]["train"]["rmse"][event["iteration"] - 1]


def test_progress_is_throttled_and_ends_with_the_last_iteration(ctx: JobContext) -> None:
    now = [0.0]
    progress = Progress(ctx, "m", train_name="train", valid_name="valid", clock=lambda: now[0])

    class Env:
        def __init__(self, i: int) -> None:
            self.iteration = i
            self.evaluation_result_list = [("train", "l2", 1.0 / (i + 1), False),
                                           ("valid", "l2", float("nan"), False)]

    for i in range(100):  # 100 iterations in 1 s
        progress(Env(i))
        now[0] += 0.01
    progress.finish()
    sent = [d["iteration"] for _, d in ctx.emit.events]
    assert sent[0] == 1 and sent[-1] == 100 and 10 <= len(sent) <= 12
    assert ctx.emit.events[-1][1]["valid"] == {"l2": None}  # NaN is not JSON


def test_categorical_integer_column(ctx: JobContext, bike: pl.DataFrame) -> None:
    result = train(ctx, bike, **REGRESSION, rounds=20, categorical=["season", "hr"])
    inputs = {i["name"]: i for i in result["signature"]["inputs"]}
    assert inputs["season"] == {"name": "season", "dtype": "int64", "categorical": True,
                                "categories": [1, 2, 3, 4]}
    assert inputs["hr"]["categories"] == list(range(24))
    model_text = ctx.artifacts.read_bytes(result["model_sha"]).decode()
    assert "num_cat=" in model_text and "num_cat=0\n" not in model_text.split("end of trees")[0]


# -- to_matrix: the one encoding ----------------------------------------------------------------


def test_one_row_encodes_and_predicts_like_the_batch(ctx: JobContext, bike: pl.DataFrame) -> None:
    result = train(ctx, bike, **REGRESSION, rounds=50)
    signature, booster = result["signature"], stored_model(ctx, result)
    batch = to_matrix(bike, signature)
    assert batch.dtype == np.float64 and batch.flags.c_contiguous
    assert batch.shape == (bike.height, len(signature["inputs"]))
    full = booster.predict(batch)
    for i in (0, 17, 4321, bike.height - 1):
        row = bike.row(i, named=True)
        for single in (to_matrix(row, signature), to_matrix([row], signature),
                       to_matrix(bike.slice(i, 1), signature)):
            assert single.dtype == np.float64 and single.flags.c_contiguous
            assert np.array_equal(single[0], batch[i])
            assert booster.predict(single)[0] == full[i]


def test_unseen_categories_and_nulls_are_missing() -> None:
    frame = pl.DataFrame({
        "n": [1, 2, None], "f": [0.5, float("nan"), None], "b": [True, False, None],
        "s": ["a", "b", "a"], "c": [3, 1, 2], "d": [dt.date(1970, 1, 2), None, None],
        "t": [dt.datetime(1970, 1, 1, 0, 0, 1, 500000), None, None],
    })
    signature = signature_from_frame(frame, list(frame.columns), ["c"])
    by_name = {i["name"]: i for i in signature["inputs"]}
    assert by_name["s"]["categories"] == ["a", "b"] and by_name["c"]["categories"] == [1, 2, 3]
    assert [by_name[n]["dtype"] for n in frame.columns] == [
        "int64", "float64", "bool", "string", "int64", "date", "datetime"]
    expected = np.array([[1, 0.5, 1, 0, 2, 86400, 1.5],
                         [2, np.nan, 0, 1, 0, np.nan, np.nan],
                         [np.nan, np.nan, np.nan, 0, 1, np.nan, np.nan]])
    assert np.array_equal(to_matrix(frame, signature), expected, equal_nan=True)
    new = {"n": None, "f": 2, "b": True, "s": "zzz", "c": 7, "d": "1970-01-03",
           "t": "1970-01-01T01:00:00+01:00"}
    assert np.array_equal(to_matrix(new, signature),
                          [[np.nan, 2, 1, np.nan, np.nan, 172800, 0]], equal_nan=True)
    # a big frame (the polars path) encodes like rows (the Python path)
    big = pl.concat([frame] * 40)
    rows = to_matrix(big.to_dicts(), signature)
    assert np.array_equal(to_matrix(big, signature), rows, equal_nan=True)
    # text dates in a big frame are read by the same parser as in rows
    unseen = pl.DataFrame({k: [v] for k, v in new.items()}).with_columns(
        pl.col("n").cast(pl.Int64))
    assert np.array_equal(to_matrix(pl.concat([unseen] * 100), signature)[0],
                          [np.nan, 2, 1, np.nan, np.nan, 172800, 0], equal_nan=True)


def test_zoned_datetimes_are_taken_in_utc() -> None:
    naive = pl.DataFrame({"t": [dt.datetime(2011, 3, 27, 0, 30) + dt.timedelta(hours=h)
                                for h in range(100)]})
    signature = signature_from_frame(naive, ["t"])
    zoned = naive.with_columns(pl.col("t").dt.replace_time_zone("UTC")
                               .dt.convert_time_zone("Europe/Berlin"))
    expected = to_matrix(naive, signature)
    assert np.array_equal(to_matrix(zoned, signature), expected)  # polars path
    assert np.array_equal(to_matrix(zoned.head(3), signature), expected[:3])  # row path
    assert np.array_equal(to_matrix(zoned.to_dicts(), signature), expected)


def test_numbers_are_typed_strictly() -> None:
    frame = pl.DataFrame({"f": [0.5], "n": [1], "b": [True]})
    signature = signature_from_frame(frame, ["f", "n", "b"])
    assert to_matrix({"f": 2, "n": 3.0, "b": False}, signature).tolist() == [[2.0, 3.0, 0.0]]
    for row, message in [({"f": True}, "input 'f': expected a number, got True"),
                         ({"f": 10**400}, "input 'f': .* is too large for a number"),
                         ({"n": 2**63}, "does not fit a 64-bit integer"),
                         ({"b": 1}, "input 'b': expected true or false, got 1")]:
        with pytest.raises(FeatureError, match=message):
            to_matrix({"f": 0.5, "n": 1, "b": True, **row}, signature)


@pytest.mark.parametrize(("row", "message"), [
    ({"n": "3"}, "input 'n': expected an integer"),
    ({"n": True}, "input 'n': expected an integer, got True"),
    ({"n": 2.5}, "input 'n': expected an integer, got 2.5"),
    ({"n": 1e30}, "input 'n': 1e\\+30 does not fit a 64-bit integer"),
    ({"s": 3}, "input 's': expected text"),
    ({"c": 2.0}, "input 'c': expected an integer"),
    ({"c": True}, "input 'c': expected an integer"),
    ({"t": "yesterday"}, "input 't': 'yesterday' is not an ISO 8601 date"),
])
def test_values_of_the_wrong_kind_are_named(row: dict, message: str) -> None:
    frame = pl.DataFrame({"n": [1], "s": ["a"], "c": [3], "t": [dt.datetime(2011, 1, 1)]})
    signature = signature_from_frame(frame, ["n", "s", "c", "t"], ["c"])
    good = frame.row(0, named=True)
    with pytest.raises(FeatureError, match=message):
        to_matrix({**good, **row}, signature)
    with pytest.raises(FeatureError, match=message.split(":")[0]):
        to_matrix(pl.concat([pl.DataFrame([{**good, **row}])] * 100), signature)
    with pytest.raises(FeatureError, match="'s' is missing"):
        to_matrix({"n": 1, "c": 3, "t": None}, signature)


# -- bad input: a JobError naming what and where, no model written ---------------------------


@pytest.mark.parametrize(("make", "params", "message"), [
    (lambda b: [b.head(3000), b.slice(3000).drop("bikers")], REGRESSION,
     r"data bikeshare@2 has no target column 'bikers'"),
    (lambda b: b.with_columns(bikers=pl.lit(5)), REGRESSION,
     r"target 'bikers' is constant \(every row is 5\)"),
    (lambda b: b.with_columns(weathersit=pl.lit("clear")), MULTICLASS,
     r"target 'weathersit' has one class \('clear'\)"),
    (lambda b: b, {**REGRESSION, "window": {"time_column": "ts", "start": "2011-12-31T14:00",
                                            "end": None}},
     r"only 10 rows with a 'bikers' value .* min_rows is 50"),
    (lambda b: b, {**REGRESSION, "min_rows": 10_000}, r"only 8645 rows"),
    (lambda b: b, {"task": "multiclass", "target": "season", "time_column": "ts"},
     r"classes 2, 3 of 'season' are missing from the holdout \(time split"),
    (lambda b: b, MULTICLASS, r"class 'heavy rain/snow' has only 1 row"),
    (lambda b: b.with_columns(broken=pl.lit(float("nan"))), REGRESSION,
     r"feature 'broken' is all null/NaN"),
    (lambda b: b.with_columns(empty=pl.lit(None, dtype=pl.String)), REGRESSION,
     r"feature 'empty' is all null/NaN"),
    (lambda b: b, {**REGRESSION, "features": {"include": ["hr", "temperature"]}},
     r"features.include: no column 'temperature'"),
    (lambda b: b, {**REGRESSION, "categorical": ["seasons"]}, r"categorical: no column 'seasons'"),
    (lambda b: b, {**REGRESSION, "categorical": ["temp"]},
     r"column 'temp' is float64: only string, integer and boolean columns can be categorical"),
    (lambda b: b, {"task": "binary", "target": "weathersit"},
     r"a binary task needs exactly 2 classes in 'weathersit', found 4"),
    (lambda b: b, {"task": "regression", "target": "mnth"},
     r"target 'mnth' is string: a regression needs a numeric target"),
])
def test_bad_input_is_a_job_error(ctx: JobContext, bike: pl.DataFrame, make: Any,
                                  params: dict, message: str) -> None:
    made = make(bike)
    frames = made if isinstance(made, list) else [made]
    data = [{"dataset": "bikeshare", "version": i + 1, "snapshot_sha": snapshot(ctx, f)}
            for i, f in enumerate(frames)]
    before = blobs(ctx)
    with pytest.raises(JobError, match=message):
        run({"model": "bikes", "data": data, "rounds": 20, **params}, ctx)
    assert blobs(ctx) == before, "a model was written"
    assert not [t for t, _ in ctx.emit.events if t == "train.iteration"]


def test_a_snapshot_that_changed_is_a_job_error(ctx: JobContext, bike: pl.DataFrame) -> None:
    sha = snapshot(ctx, bike)
    path = ctx.artifacts.path(sha)
    path.chmod(0o644)
    path.write_bytes(path.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(JobError, match=rf"data bikeshare@4: .*{sha} is corrupt"):
        run({"model": "bikes", **REGRESSION,
             "data": [{"dataset": "bikeshare", "version": 4, "snapshot_sha": sha}]}, ctx)
    assert blobs(ctx) == {sha}
