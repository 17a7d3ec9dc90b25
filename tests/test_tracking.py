"""The tracking SDK against a real daemon: buffered metrics, params set once, failures and
runs whose process died."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlopsd.client import ApiError
from tests.daemon_process import DaemonProcess, wait_until

CONFIG = """\
[tracking]
run_timeout_s = 2.0
"""


@pytest.fixture(scope="module")
def d(tmp_path_factory: pytest.TempPathFactory):
    daemon = DaemonProcess(tmp_path_factory.mktemp("tracking") / "home", config=CONFIG).start()
    yield daemon
    assert daemon.stop() == 0


def test_ten_thousand_points_one_call_at_a_time(d: DaemonProcess) -> None:
    client = d.client
    assert client is not None
    started = time.perf_counter()
    with client.start_run(experiment="sdk", tags={"purpose": "Q4 churn model"}) as run:
        run.log_params({"num_leaves": 31, "learning_rate": 0.05})
        for step in range(10_000):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
    took = time.perf_counter() - started
    done = client.get_run(run.id)
    assert done.state == "finished"
    assert done.params == {"num_leaves": "31", "learning_rate": "0.05"}
    assert done.tags == {"purpose": "Q4 churn model"}
    assert done.metrics["loss"] == pytest.approx(1.0 / 10_000)
    history = client.metric_history(run.id, "loss")
    assert [p.step for p in history] == list(range(10_000))
    print(f"10,000 points logged and queryable in {took:.3f} s")


def test_params_are_set_once_and_a_refused_param_holds_nothing_back(
        d: DaemonProcess) -> None:
    client = d.client
    assert client is not None
    run = client.start_run(experiment="sdk")
    run.log_params({"a": 1})
    run.flush()
    run.log_params({"a": 2})
    run.log_metric("loss", 0.5)
    with pytest.warns(UserWarning, match="params refused.*set once"):
        assert run.flush() == 1, "the metric point goes without the refused param"
    run.log_metric("loss", float("nan"), step=1)  # a diverging loss is kept, as NaN
    run.end()
    done = client.get_run(run.id)
    assert done.params == {"a": "1"} and done.state == "finished"
    assert [p.value for p in client.metric_history(run.id, "loss")] == [0.5, None]


def test_an_exception_fails_the_run(d: DaemonProcess) -> None:
    client = d.client
    assert client is not None
    with pytest.raises(ZeroDivisionError), client.start_run(experiment="sdk") as run:
        run.log_metric("x", 1.0)
        _ = 1 / 0
    failed = client.get_run(run.id)
    assert failed.state == "failed" and "ZeroDivisionError" in failed.error
    assert failed.metrics == {"x": 1.0}


def test_a_run_whose_process_dies_is_marked_failed(d: DaemonProcess, tmp_path: Path) -> None:
    client = d.client
    assert client is not None
    script = tmp_path / "train.py"
    out = tmp_path / "run_id"
    script.write_text(
        "import sys, time\n"
        "from mlopsd.client import Client\n"
        f"c = Client.from_home({str(d.home.root)!r})\n"
        "run = c.start_run(experiment='dies', flush_interval_s=0.2)\n"
        f"open({str(out)!r}, 'w').write(run.id)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, str(script)])
    try:
        run_id = wait_until(lambda: out.exists() and out.read_text(), what="the run to start")
        time.sleep(1.0)
        assert client.get_run(run_id).state == "running", "its heartbeat keeps it alive"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    failed = wait_until(lambda: (r := client.get_run(run_id)).state == "failed" and r,
                        timeout=30, what="the dead run to be failed")
    assert "stopped reporting" in failed.error


def test_search_and_compare(d: DaemonProcess) -> None:
    from tests.daemon_process import run_mlops

    client = d.client
    assert client is not None
    ids = []
    for leaves, auc in [(15, 0.71), (31, 0.83), (63, 0.86), (31, 0.79)]:
        with client.start_run(experiment="search", tags={"team": "growth"}) as run:
            run.log_params({"num_leaves": leaves})
            run.log_metric("auc", auc - 0.1, step=0)
            run.log_metric("auc", auc, step=1)
        ids.append(run.id)
    found = client.list_runs(filter="metrics.auc > 0.8 and params.num_leaves = 31",
                             experiment="search")
    assert [r.id for r in found] == [ids[1]]
    best = client.list_runs(experiment="search", order_by="metrics.auc desc")
    assert [r.metrics["auc"] for r in best] == [0.86, 0.83, 0.79, 0.71]
    assert len(client.list_runs(filter="params.num_leaves >= 31 and tags.team = growth")) == 3
    assert client.list_runs(filter="tags.team = 'nobody'") == []
    with pytest.raises(ApiError) as err:
        client.list_runs(filter="metrics.auc >> 1")
    assert err.value.status == 422 and err.value.field == "filter"
    compared = run_mlops(d.home.root, "runs", "compare", ids[0][:10], ids[2][:10])
    assert compared.returncode == 0, compared.stderr
    lines = compared.stdout.splitlines()
    assert any(line.startswith("* params.num_leaves") for line in lines)
    assert any(line.startswith("  tags.team") for line in lines)


def test_a_short_run_is_sent_whole_and_keeps_its_start_time(d: DaemonProcess) -> None:
    client = d.client
    assert client is not None
    with client.start_run(experiment="short", flush_interval_s=60) as run:
        run.log_params({"alpha": 0.1})
        run.log_metric("rmse", 3.0, step=0)
        run.log_metric("rmse", 2.5, step=1)
        time.sleep(0.3)
        with pytest.raises(ApiError) as err:
            client.get_run(run.id)
        assert err.value.status == 404, "the daemon learns of the run with its first batch"
    done = client.get_run(run.id)
    assert done.state == "finished" and done.params == {"alpha": "0.1"}
    assert done.metrics == {"rmse": 2.5}
    assert done.ended_at is not None
    assert (done.ended_at - done.started_at).total_seconds() >= 0.3


def test_metric_points_as_rows_or_columns_over_http(d: DaemonProcess) -> None:
    client = d.client
    assert client is not None
    run = client._request("POST", "/api/v1/runs", json={"experiment": "raw"})
    client._request("POST", f"/api/v1/runs/{run['id']}/log", json={"metrics": [
        {"key": "loss", "value": 0.9, "step": 0}, {"key": "loss", "value": 0.7, "step": 1}]})
    client._request("POST", f"/api/v1/runs/{run['id']}/log", json={"metrics": {
        "key": ["loss", "loss"], "value": [0.5, 0.4], "step": [2, 3],
        "at": [time.time(), time.time()]}})
    with pytest.raises(ApiError) as err:
        client._request("POST", f"/api/v1/runs/{run['id']}/log", json={"metrics": {
            "key": ["loss"], "value": [0.5, 0.4], "step": [4], "at": [time.time()]}})
    assert err.value.status == 422 and "one entry per point" in err.value.message
    ended = client._request("POST", f"/api/v1/runs/{run['id']}/end", json={
        "metrics": [{"key": "loss", "value": 0.3, "step": 4}]})
    assert ended["state"] == "finished" and ended["metrics"] == {"loss": 0.3}
    assert [p.value for p in client.metric_history(run["id"], "loss")] == [
        0.9, 0.7, 0.5, 0.4, 0.3]
    with pytest.raises(ApiError) as err:
        client._request("POST", "/api/v1/runs", json={"experiment": "raw", "id": run["id"]})
    assert err.value.status == 409 and "exists already" in err.value.message


BIKES = Path(__file__).resolve().parents[1] / "examples" / "bikeshare" / "bikeshare-2011-hourly.csv"


def _bikes_booster(features: list[str], *, leaves: int = 15, categorical: tuple = ()):
    import lightgbm as lgb
    import polars as pl

    frame = pl.read_csv(BIKES).head(3000).with_columns(pl.col("hr").cast(pl.Int64))
    codes = frame.select(
        [pl.col(c).cast(pl.String).cast(pl.Categorical).to_physical() if c in categorical
         else pl.col(c) for c in features]).to_numpy().astype(float)
    booster = lgb.train({"objective": "regression", "num_leaves": leaves, "verbose": -1,
                         "seed": 1, "deterministic": True, "num_threads": 1},
                        lgb.Dataset(codes, frame["bikers"].to_numpy(), feature_name=features,
                                    categorical_feature=list(categorical) or "auto"),
                        num_boost_round=10)
    return booster, frame


def test_log_model_registers_versions_by_the_semver_rule(d: DaemonProcess,
                                                         tmp_path: Path) -> None:
    client = d.client
    assert client is not None
    numeric = ["temp", "hum", "windspeed", "hr"]
    first, frame = _bikes_booster(numeric)
    with client.start_run(experiment="sdk-models") as run:
        run.log_metric("rmse", 95.0)
        v1 = run.log_model(first, model="bikers-sdk", input_example=frame, data=["bikes@1"])
    assert (v1.version, v1.bump_reason, v1.run_id) == ("1.0.0", "first version", run.id)
    assert v1.signature["task"] == "regression", "read from the model's objective"
    assert [i["name"] for i in v1.signature["inputs"]] == numeric
    assert v1.metrics == {"rmse": 95.0}, "the run's metrics when none are given"
    stored = tmp_path / "model.txt"
    client.download_artifact(v1.artifact_sha, stored)
    assert stored.read_text() == first.model_to_string()
    assert client.get_run(run.id).tags["model_version"] == "bikers-sdk:1.0.0"

    with client.start_run(experiment="sdk-models") as run:
        again = run.log_model(first, model="bikers-sdk", input_example=frame, data=["bikes@1"])
        params = run.log_model(_bikes_booster(numeric, leaves=7)[0], model="bikers-sdk",
                               input_example=frame, data=["bikes@1"], metrics={"rmse": 99.0})
        data = run.log_model(_bikes_booster(numeric, leaves=9)[0], model="bikers-sdk",
                             input_example=frame, data=["bikes@2"])
        wider = run.log_model(_bikes_booster([*numeric, "atemp"])[0], model="bikers-sdk",
                              input_example=frame, data=["bikes@2"])
        bare = run.log_model(first, model="bikers-bare")
    assert again.version == "1.0.0", "the same model text is the same version"
    assert (params.version, params.metrics) == ("1.0.1", {"rmse": 99.0})
    assert (data.version, data.bump_reason) == ("1.1.0", "trained on new data")
    assert (wider.version, wider.bump_reason) == ("2.0.0", "the input signature changed")
    assert [(i["name"], i["dtype"]) for i in bare.signature["inputs"]] == [
        (name, "float64") for name in numeric], "without an example, every feature a float"


def test_log_model_records_categories_and_refuses_bad_models(d: DaemonProcess) -> None:
    client = d.client
    assert client is not None
    features = ["temp", "weathersit"]
    booster, frame = _bikes_booster(features, categorical=("weathersit",))
    with client.start_run(experiment="sdk-models") as run:
        with pytest.raises(ValueError, match="'weathersit' is categorical"):
            run.log_model(booster, model="bikers-cat")
        version = run.log_model(booster, model="bikers-cat", input_example=frame)
        weather = version.signature["inputs"][1]
        assert weather["categorical"] and weather["categories"] == sorted(
            frame["weathersit"].unique().to_list())
        text = booster.model_to_string()

        def upload(**changes: object) -> str:
            body = {"model": "bikers-cat", "signature": version.signature,
                    "model_text": text, **changes}
            job = client._request("POST", f"/api/v1/runs/{run.id}/models", json=body)
            done = client.wait_job(job["id"])
            assert done.state == "failed"
            return done.error or ""

        # Parsed in a worker: a malformed text fails the job, never the daemon.
        assert "model_text: LightGBM's parser crashed" in upload(model_text=text[:len(text) // 2])
        assert upload(model_text="tree\nversion=v4\n").startswith("model_text: does not load")
        assert upload(signature={"inputs": [{"name": "hum"}, {"name": "temp"}]}).startswith(
            "signature: its inputs ['hum', 'temp'] are not the model's features")
        assert "does not match the model's objective" in upload(task="binary")
        with pytest.raises(ApiError) as err:
            client._request("POST", f"/api/v1/runs/{run.id}/models",
                            json={"model": "bikers-cat", "signature": {}, "model_text": text})
        assert err.value.status == 422 and err.value.field == "signature"
    assert client.health().status == "ok"
    assert [v.version for v in client.model_versions("bikers-cat")] == ["1.0.0"]
