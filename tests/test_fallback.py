"""When a served version fails on a request: the previous version answers, else the
configured default, else a clear 500 — counted, alerted, and the daemon keeps serving. And
the prediction log under more load than it can write: requests never wait or fail."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from tests import bikes
from tests.daemon_process import DaemonProcess, wait_until

CONFIG = """\
[serving]
log_queue = 3

[serving.fallback]
solo = 42.0
"""


@pytest.fixture(scope="module")
def d(tmp_path_factory: pytest.TempPathFactory):
    daemon = DaemonProcess(tmp_path_factory.mktemp("fallback") / "home", config=CONFIG).start()
    yield daemon
    assert daemon.stop() == 0


@pytest.fixture(scope="module")
def trained() -> bikes.Trained:
    return bikes.train("regression")


def _drill(d: DaemonProcess, model: str, requests: int) -> dict:
    assert d.client is not None
    return d.client._request("POST", f"/api/v1/models/{model}/drill",
                             json={"failure_rate": 1.0, "requests": requests,
                                   "reason": "test drill"})


def test_the_configured_default_answers_when_nothing_else_can(
        d: DaemonProcess, trained: bikes.Trained) -> None:
    client = d.client
    assert client is not None
    client.promote("solo", bikes.log(client, trained, "solo"))
    rows = trained.frame.slice(0, 3).select(bikes.FEATURES).to_dicts()
    assert _drill(d, "solo", 4)["fallback"] == "the configured default"
    with httpx.Client(base_url=client.base_url) as http:
        for _ in range(4):
            response = http.post("/v1/models/solo/predict", json={"rows": rows})
            assert response.status_code == 200
            assert response.headers["x-served-as"] == "fallback-default"
            assert response.json()["predictions"] == [42.0, 42.0, 42.0]
        after = http.post("/v1/models/solo/predict", json={"rows": rows})
    assert after.json()["predictions"] == trained.expected(rows).tolist(), "the drill is over"
    alert = wait_until(lambda: [a for a in client.alerts(state="open")
                                if a.rule == "prediction_failed" and a.subject == "model:solo"],
                       what="the alert")[0]
    assert "the configured default answered" in alert.message and alert.count >= 1
    assert client.serving().stats["solo:1.0.0"].errors == 4


def test_the_previous_version_answers_for_a_failing_live_one(
        d: DaemonProcess, trained: bikes.Trained) -> None:
    client = d.client
    assert client is not None
    # The live version reads other inputs than the previous one: the previous one gets the
    # rows encoded for its own signature, not the live version's matrix.
    second = bikes.train("regression", leaves=31,
                         features=[f for f in bikes.FEATURES if f != "holiday"])
    client.promote("duo", bikes.log(client, trained, "duo"))
    live = bikes.log(client, second, "duo", data="bikes@2")
    assert live == "2.0.0"
    client.promote("duo", live)
    rows = trained.frame.slice(10, 2).select(bikes.FEATURES).to_dicts()
    assert _drill(d, "duo", 3)["fallback"] == "version 1.0.0"
    with httpx.Client(base_url=client.base_url) as http:
        for _ in range(3):
            response = http.post("/v1/models/duo/predict", json={"rows": rows})
            assert (response.headers["x-served-as"], response.json()["version"]) == (
                "fallback", "1.0.0")
            assert response.json()["predictions"] == trained.expected(rows).tolist()
        after = http.post("/v1/models/duo/predict", json={"rows": rows}).json()
        assert after["version"] == "2.0.0"
        assert after["predictions"] == second.expected(rows).tolist()


def test_with_no_fallback_the_request_fails_clearly_and_serving_goes_on(
        d: DaemonProcess, trained: bikes.Trained) -> None:
    client = d.client
    assert client is not None
    client.promote("bare", bikes.log(client, trained, "bare"))
    rows = trained.frame.slice(0, 1).select(bikes.FEATURES).to_dicts()
    assert _drill(d, "bare", 1)["fallback"].startswith("none")
    with httpx.Client(base_url=client.base_url) as http:
        failed = http.post("/v1/models/bare/predict", json={"rows": rows})
        assert failed.status_code == 500
        assert "no fallback could answer" in failed.json()["error"]["message"]
        assert http.post("/v1/models/bare/predict", json={"rows": rows}).status_code == 200


def test_a_full_prediction_log_drops_and_counts_never_blocks(
        d: DaemonProcess, trained: bikes.Trained) -> None:
    client = d.client
    assert client is not None
    if "solo" not in client.serving().models:
        client.promote("solo", bikes.log(client, trained, "solo"))
    rows = trained.frame.slice(0, 50).select(bikes.FEATURES).to_dicts()
    wait_until(lambda: client.serving().prediction_log.queued == 0, what="a quiet log")
    time.sleep(0.6)  # the writer's batch in hand, if any, is written within its 0.2 s
    before = client.serving().prediction_log
    statuses: list[int] = []

    def hammer() -> None:
        with httpx.Client(base_url=client.base_url) as http:
            for _ in range(150):
                statuses.append(http.post("/v1/models/solo/predict",
                                          json={"rows": rows}).status_code)

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 600
    during = client.serving().prediction_log
    assert during.offered - before.offered == 600
    assert during.dropped > before.dropped, "a 3-entry queue cannot take 600 requests"
    assert during.sample_rate < 1.0 or during.unsampled > before.unsampled
    settled = wait_until(lambda: (s := client.serving().prediction_log).queued == 0
                         and s.sample_rate == 1.0 and s, timeout=30,
                         what="the log to catch up and sample everything again")
    logged = settled.logged_rows - before.logged_rows
    skipped = (settled.dropped - before.dropped) + (
        settled.unsampled - before.unsampled)
    assert logged == (600 - skipped) * 50, "every request is logged or counted as not"


WATCH = """\
[monitoring]
latency_p95_ms = 50
error_rate = 0.2
min_requests = 5
window_s = 2
resolve_after_s = 1
check_interval_s = 0.2
"""


def test_slow_and_failing_versions_raise_alerts_that_resolve_themselves(
        tmp_path, trained: bikes.Trained) -> None:
    daemon = DaemonProcess(tmp_path / "home", config=WATCH).start()
    try:
        client = daemon.client
        assert client is not None
        client.promote("watched", bikes.log(client, trained, "watched"))
        rows = trained.frame.slice(0, 1).select(bikes.FEATURES).to_dicts()
        client.drill("watched", failure_rate=0.0, delay_ms=120, requests=12,
                     reason="latency drill")
        with httpx.Client(base_url=client.base_url) as http:
            for _ in range(12):
                assert http.post("/v1/models/watched/predict",
                                 json={"rows": rows}).status_code == 200
        slow = wait_until(lambda: [a for a in client.alerts(state="open")
                                   if a.rule == "latency_p95"], timeout=10,
                          what="the latency alert")[0]
        assert "p95 latency" in slow.message and slow.subject == "model:watched"
        from tests.daemon_process import run_mlops

        acked = run_mlops(daemon.home.root, "alerts", "ack", str(slow.id), "--note", "on it")
        assert acked.returncode == 0 and "acknowledged" in acked.stdout, acked.stderr
        client.drill("watched", failure_rate=1.0, requests=10, reason="failure drill")
        with httpx.Client(base_url=client.base_url) as http:
            statuses = [http.post("/v1/models/watched/predict", json={"rows": rows}).status_code
                        for _ in range(10)]
        assert statuses == [500] * 10, "no previous version, no default: the drill fails"
        failing = wait_until(lambda: [a for a in client.alerts(state="open")
                                      if a.rule == "error_rate"], timeout=10,
                             what="the error-rate alert")[0]
        assert " failed " in failing.message and "(limit 20.0%)" in failing.message
        # Healthy again: both resolve themselves once clear for resolve_after_s.
        with httpx.Client(base_url=client.base_url) as http:
            for _ in range(20):
                http.post("/v1/models/watched/predict", json={"rows": rows})
        resolved = wait_until(lambda: {a.rule: a for a in client.alerts(state="resolved")
                                       if a.rule in ("latency_p95", "error_rate")}
                              if len([a for a in client.alerts(state="resolved")
                                      if a.rule in ("latency_p95", "error_rate")]) == 2
                              else None, timeout=20, what="both alerts to resolve")
        assert "resolved by itself" in resolved["error_rate"].note
        entries = [e.action for e in client.audit(limit=200)]
        assert entries.count("alert.resolved") >= 2
    finally:
        assert daemon.stop() == 0


def test_feedback_showing_a_performance_drop_raises_an_alert_that_clears(
        tmp_path, trained: bikes.Trained) -> None:
    config = """\
[monitoring]
min_labels = 20
performance_window_s = 3
performance_check_s = 0.3
resolve_after_s = 1
"""
    daemon = DaemonProcess(tmp_path / "home", config=config).start()
    try:
        client = daemon.client
        assert client is not None
        # The baseline: holdout metrics given at registration, as a trained model has.
        with client.start_run(experiment="watched") as run:
            version = run.log_model(trained.booster, model="watched",
                                    input_example=trained.frame, metrics={"rmse": 40.0})
        client.promote("watched", version.version)
        sample = trained.frame.slice(100, 60)
        rows = sample.select(bikes.FEATURES).to_dicts()
        client.predict("watched", rows, request_id="fb-drop")
        truth = sample["bikers"].to_list()
        client.feedback("watched", [{"request_id": "fb-drop", "row": i, "label": y * 3}
                                    for i, y in enumerate(truth)])
        alert = wait_until(lambda: [a for a in client.alerts(state="open")
                                    if a.rule == "performance_drop"], timeout=20,
                           what="the performance alert")[0]
        assert "rmse" in alert.message and "concept drift" in alert.message
        # The window moves on past those predictions: the condition clears, then resolves.
        wait_until(lambda: [a for a in client.alerts(state="resolved")
                            if a.rule == "performance_drop"], timeout=30,
                   what="the alert to resolve itself")
    finally:
        assert daemon.stop() == 0


def test_a_stderr_nobody_reads_does_not_freeze_the_daemon(tmp_path,
                                                          trained: bikes.Trained) -> None:
    """The daemon's stderr to a pipe that is never read (64 KB fill it): logging goes
    through a bounded queue, so request handling never waits on that pipe."""
    import subprocess

    from mlopsd.client import Client
    from mlopsd.home import Home, init_home
    from tests.daemon_process import mlopsd_cmd

    home = Home(tmp_path / "home")
    init_home(home)
    proc = subprocess.Popen(mlopsd_cmd(home.root, "--port", "0"), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        client = wait_until(lambda: home.daemon_json.exists() and Client.from_home(home),
                            what="the daemon")
        wait_until(lambda: client.health(), what="health")
        client.promote("noisy", bikes.log(client, trained, "noisy"))
        client.promote("noisy", bikes.log(client, bikes.train("regression", leaves=7),
                                          "noisy", data="bikes@2"))
        rows = trained.frame.slice(0, 1).select(bikes.FEATURES).to_dicts()
        # Each failed request logs a warning (~250 bytes): 600 of them overfill the pipe.
        client.drill("noisy", failure_rate=1.0, requests=600)
        with httpx.Client(base_url=client.base_url, timeout=10) as http:
            served = {http.post("/v1/models/noisy/predict", json={"rows": rows}).headers[
                "x-served-as"] for _ in range(600)}
            assert served == {"fallback"}
            assert http.post("/v1/models/noisy/predict", json={"rows": rows}).headers[
                "x-served-as"] == "production"
        assert client.deploy_status("noisy").live == "1.1.0"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
