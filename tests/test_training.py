"""Training through a real daemon on data ingested through the inbox: runs, lineage, the
registry's semver rule, aliases, promote and rollback."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import lightgbm as lgb
import numpy as np
import polars as pl
import pytest
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from jobs.features import to_matrix
from mlopsd.client import ApiError, Client
from store.artifacts import ArtifactStore
from tests.daemon_process import DaemonProcess, run_mlops, wait_until
from tests.test_ingest_daemon import EXAMPLE

CONFIG = """\
[ingest]
settle_s = 0.2

[[dataset]]
name = "bikes"
target = "bikers"

[[model]]
name = "riders"
data = "bikes@all"
target = "bikers"
task = "regression"
exclude = ["casual", "registered"]
rounds = 60
early_stopping = 10

[model.params]
num_leaves = 15
learning_rate = 0.1
"""


@pytest.fixture(scope="module")
def halves(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("halves")
    frame = pl.read_csv(EXAMPLE)
    first, second = folder / "h1.csv", folder / "h2.csv"
    frame.filter(pl.col("day") <= 180).write_csv(first)
    frame.filter(pl.col("day") > 180).write_csv(second)
    return first, second


@pytest.fixture
def d(home: Path) -> Iterator[DaemonProcess]:
    daemon = DaemonProcess(home, config=CONFIG).start()
    yield daemon
    daemon.kill()


def client_of(d: DaemonProcess) -> Client:
    assert d.client is not None
    return d.client


def drop(d: DaemonProcess, path: Path, n: int) -> None:
    folder = d.home.inbox / "bikes"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, folder / path.name)
    wait_until(lambda: len(client_of(d).list_versions("bikes")) >= n, timeout=60,
               what=f"bikes@{n}")


def train(d: DaemonProcess, model: str = "riders"):
    client = client_of(d)
    job = client.wait_job(client.train(model, reason="test").id, timeout=300)
    assert job.state == "succeeded", job.error
    return job


def test_train_registers_a_version_with_lineage_and_true_metrics(d: DaemonProcess,
                                                                 halves) -> None:
    drop(d, halves[0], 1)
    job = train(d)
    client = client_of(d)
    result = job.result
    assert (result["model"], result["version"]) == ("riders", "1.0.0")
    version = client.model_version("riders", "1.0.0")
    run = client.get_run(version.run_id)
    assert run.state == "finished" and run.experiment == "riders" and run.job_id == job.id
    lineage = run.lineage
    data_version = client.list_versions("bikes")[0]
    assert lineage["data"] == [{"dataset": "bikes", "version": 1,
                                "snapshot_sha": data_version.snapshot_sha,
                                "content_hash": data_version.content_hash}]
    assert lineage["selector"] == {"written": "bikes@all", "resolved": "bikes@1"}
    for key in ("config_hash", "code", "host", "python", "seed", "versions", "model_sha"):
        assert lineage.get(key) is not None, key
    assert lineage["versions"]["lightgbm"] == lgb.__version__
    assert run.params["lgb.num_leaves"] == "15" and run.params["target"] == "bikers"
    assert run.tags["reason"] == "test"
    assert "valid_rmse" in {p for p in client.get_run(run.id).metrics}
    curve = client.metric_history(run.id, "valid_rmse")
    assert len(curve) >= 2 and [p.step for p in curve] == sorted(p.step for p in curve)

    # The registered model is the artifact, hash-checked, and its metrics are sklearn's.
    model_text = ArtifactStore(d.home.artifacts).read_bytes(version.artifact_sha).decode()
    booster = lgb.Booster(model_str=model_text)
    frame = pl.read_csv(halves[0])
    features = [i["name"] for i in version.signature["inputs"]]
    assert "casual" not in features and "bikers" not in features
    predictions = booster.predict(to_matrix(frame, version.signature))
    assert predictions.shape == (frame.height,)
    assert version.metrics["rmse"] > 0
    # On the whole (train + holdout) data the model is close to its holdout quality.
    assert np.sqrt(mean_squared_error(frame["bikers"], predictions)) < 2 * version.metrics["rmse"]
    assert r2_score(frame["bikers"], predictions) > 0.5
    assert mean_absolute_error(frame["bikers"], predictions) > 0


def test_semver_rules_promote_and_rollback(d: DaemonProcess, halves, home: Path) -> None:
    client = client_of(d)
    drop(d, halves[0], 1)
    assert train(d).result["version"] == "1.0.0"
    # The same data and config again: the same model text, so the same version.
    again = train(d).result
    assert again["version"] == "1.0.0"
    # New data: minor.
    drop(d, halves[1], 2)
    minor = train(d).result
    assert (minor["version"], minor["bump_reason"]) == ("1.1.0", "trained on new data")

    client.promote("riders", "1.0.0", reason="first")
    client.promote("riders", "1.1.0", to="production", reason="better")
    assert client.get_model("riders").aliases == {"production": "1.1.0"}
    back = client.rollback("riders", reason="bad numbers")
    assert (back.from_version, back.to_version, back.kind) == ("1.1.0", "1.0.0", "rollback")
    with pytest.raises(ApiError) as err:
        client.rollback("riders")
    assert err.value.status == 409
    history = client.alias_history("riders", "production")
    assert [(m.from_version, m.to_version) for m in history] == [
        ("1.1.0", "1.0.0"), ("1.0.0", "1.1.0"), (None, "1.0.0")]
    assert {e.action for e in client.audit()} >= {"model.promote", "model.rollback",
                                                  "model.train"}
    with pytest.raises(ApiError) as err:
        client.archive("riders", "1.0.0")
    assert err.value.status == 409 and "production" in err.value.message
    assert client.archive("riders", "1.1.0").archived
    listing = run_mlops(home, "models", "show", "riders")
    assert "1.1.0" in listing.stdout and "production" in listing.stdout


def test_new_params_are_a_patch_and_a_new_signature_a_major(home: Path, halves) -> None:
    d = DaemonProcess(home, config=CONFIG).start()
    try:
        drop(d, halves[0], 1)
        assert train(d).result["version"] == "1.0.0"
    finally:
        assert d.stop() == 0
    d = DaemonProcess(home, config=CONFIG.replace("num_leaves = 15", "num_leaves = 7")).start()
    try:
        patch = train(d).result
        assert (patch["version"], patch["bump_reason"]) == (
            "1.0.1", "the same data with new params or code")
    finally:
        assert d.stop() == 0
    fewer = CONFIG.replace('exclude = ["casual", "registered"]',
                           'exclude = ["casual", "registered", "windspeed"]')
    d = DaemonProcess(home, config=fewer).start()
    try:
        major = train(d).result
        assert (major["version"], major["bump_reason"]) == ("2.0.0",
                                                            "the input signature changed")
    finally:
        assert d.stop() == 0


def test_bad_training_input_fails_cleanly(home: Path, halves) -> None:
    bad = CONFIG + """
[[model]]
name = "no-target"
data = "bikes@all"
target = "nope"
"""
    d = DaemonProcess(home, config=bad).start()
    try:
        drop(d, halves[0], 1)
        client = client_of(d)
        job = client.wait_job(client.train("no-target").id, timeout=120)
        assert job.state == "failed" and "nope" in job.error
        runs = client.list_runs(model="no-target")
        assert [r.state for r in runs] == ["failed"]
        with pytest.raises(ApiError):
            client.get_model("no-target")
        assert client.alerts(rule="job_failed")
        with pytest.raises(ApiError) as err:
            client.train("unknown-model")
        assert err.value.status == 404
    finally:
        assert d.stop() == 0


def test_reproducible_model_text(d: DaemonProcess, halves) -> None:
    drop(d, halves[0], 1)
    first = train(d).result["model_sha"]
    second = train(d).result["model_sha"]
    assert first == second
    text = ArtifactStore(d.home.artifacts).read_bytes(first)
    assert hashlib.sha256(text).hexdigest() == first


def test_reproduce_a_version_bit_for_bit(d: DaemonProcess, halves) -> None:
    drop(d, halves[0], 1)
    train(d)
    result = run_mlops(d.home.root, "reproduce", "riders:1.0.0")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "reproduced bit for bit" in result.stdout
    assert "model.reproduce" in {e.action for e in client_of(d).audit()}


def test_training_curves_reach_the_event_stream(d: DaemonProcess, halves) -> None:
    drop(d, halves[0], 1)
    job = train(d)
    events = [e for e in client_of(d).events(types=["train"], after=0, timeout=1)
              if e.data.get("job_id") == job.id and e.type == "train.iteration"]
    assert events, "per-iteration metrics are published while training runs"
    iterations = [e.data["iteration"] for e in events]
    assert iterations == sorted(iterations) and iterations[-1] >= 2
    assert "rmse" in events[-1].data["valid"]


CLASSIFIERS = CONFIG + """
[[model]]
name = "workday"
data = "bikes@all"
target = "workingday"
task = "binary"
exclude = ["casual", "registered", "weekday", "holiday"]
rounds = 40

[[model]]
name = "season"
data = "bikes@all"
target = "season"
task = "multiclass"
include = ["temp", "atemp", "hum", "mnth"]
rounds = 40
"""


def test_classifiers_train_through_the_daemon_and_serve_their_labels(home: Path,
                                                                     halves) -> None:
    from sklearn.metrics import accuracy_score, roc_auc_score

    daemon = DaemonProcess(home, config=CLASSIFIERS).start()
    try:
        client = client_of(daemon)
        drop(daemon, halves[0], 1)
        drop(daemon, halves[1], 2)
        frame = pl.concat([pl.read_csv(halves[0]), pl.read_csv(halves[1])])
        for model in ("workday", "season"):
            version = client.model_version(model, train(daemon, model).result["version"])
            client.promote(model, version.version)
            signature = version.signature
            rows = frame.slice(0, 500).to_dicts()
            reply = client.predict(model, rows)
            booster = lgb.Booster(model_str=ArtifactStore(daemon.home.artifacts).read_bytes(
                version.artifact_sha).decode())
            expected = booster.predict(to_matrix(rows, signature))
            assert reply.predictions == expected.tolist()
            truth = frame.slice(0, 500)[signature["target"]["name"]].to_list()
            if model == "workday":
                assert signature["target"]["classes"] == [0, 1]
                assert set(version.metrics) >= {"auc", "log_loss", "accuracy", "f1",
                                                "confusion_matrix"}
                assert reply.labels == [int(p >= 0.5) for p in expected]
                assert roc_auc_score(truth, reply.predictions) > 0.5
            else:
                assert signature["target"]["classes"] == [1, 2, 3, 4]
                assert set(version.metrics) >= {"accuracy", "macro_f1", "log_loss"}
                assert reply.labels == [[1, 2, 3, 4][i] for i in expected.argmax(axis=1)]
                assert accuracy_score(truth, reply.labels) > 0.5
    finally:
        daemon.kill()
