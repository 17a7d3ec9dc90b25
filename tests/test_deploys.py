"""Canary, shadow and automatic rollback on a real daemon over real HTTP."""

from __future__ import annotations

import collections
import time

import httpx
import pytest

from mlopsd.client import ApiError
from tests import bikes
from tests.daemon_process import DaemonProcess, wait_until

CONFIG = """\
[serving]
canary_min_requests = 30
"""


@pytest.fixture(scope="module")
def d(tmp_path_factory: pytest.TempPathFactory):
    daemon = DaemonProcess(tmp_path_factory.mktemp("deploys") / "home", config=CONFIG).start()
    yield daemon
    assert daemon.stop() == 0


@pytest.fixture(scope="module")
def models(d: DaemonProcess) -> dict[str, bikes.Trained]:
    client = d.client
    assert client is not None
    return bikes.riders_pair(client)


def _post(http: httpx.Client, rows: list[dict], key: str | None = None) -> httpx.Response:
    headers = {"x-client-key": key} if key else {}
    response = http.post("/v1/models/riders/predict", json={"rows": rows}, headers=headers)
    assert response.status_code == 200, response.text
    return response


def test_canary_shares_traffic_sticks_to_client_keys_and_promotes(
        d: DaemonProcess, models: dict[str, bikes.Trained]) -> None:
    client = d.client
    assert client is not None
    rows = models["1.0.0"].frame.slice(0, 1).select(bikes.FEATURES).to_dicts()
    started = client._request("POST", "/api/v1/models/riders/deploy",
                              json={"version": "1.1.0", "strategy": "canary", "percent": 25,
                                    "reason": "try the new data",
                                    # this test is about routing: no latency verdicts
                                    "latency_margin": 100})
    assert started["percent"] == 25 and started["version"] == "1.1.0"
    with pytest.raises(ApiError) as err:
        client._request("POST", "/api/v1/models/riders/deploy",
                        json={"version": "1.1.0", "strategy": "canary"})
    assert err.value.status == 409 and "already has a canary" in err.value.message
    served = collections.Counter()
    with httpx.Client(base_url=client.base_url) as http:
        for _ in range(2000):
            response = _post(http, rows)
            served[response.headers["x-served-as"]] += 1
            expected = models[response.headers["x-model-version"]].expected(rows).tolist()
            assert response.json()["predictions"] == expected
        share = served["canary"] / 2000 * 100
        assert 22 <= share <= 28, served
        for key in ("user-1", "user-2", "user-3", "user-4"):
            arms = {_post(http, rows, key).headers["x-served-as"] for _ in range(30)}
            assert len(arms) == 1, f"{key} moved between arms: {arms}"
    status = client._request("GET", "/api/v1/models/riders/deploy")
    assert status["canary"]["candidate"]["requests"] >= 400
    assert status["canary"]["champion"]["requests"] >= 1200
    move = client._request("POST", "/api/v1/models/riders/deploy/promote",
                           json={"reason": "canary looked good"})
    assert (move["from_version"], move["to_version"]) == ("1.0.0", "1.1.0")
    assert client._request("GET", "/api/v1/models/riders/deploy")["canary"] is None
    history = client.deployments("riders")
    canary = next(h for h in history if h.strategy == "canary")
    assert canary.state == "promoted" and canary.ended_at is not None
    assert canary.detail["candidate"]["requests"] >= 400
    assert history[0].strategy == "blue-green" and history[0].to_version == "1.1.0"
    client.rollback("riders", reason="back for the next test")


def test_a_failing_canary_is_rolled_back_by_itself_and_no_request_fails(
        d: DaemonProcess, models: dict[str, bikes.Trained]) -> None:
    client = d.client
    assert client is not None
    assert client.get_model("riders").aliases["production"] == "1.0.0"
    rows = models["1.0.0"].frame.slice(5, 2).select(bikes.FEATURES).to_dicts()
    client._request("POST", "/api/v1/models/riders/deploy",
                    json={"version": "1.1.0", "percent": 50, "drill_failure_rate": 1.0,
                          "reason": "failure drill"})
    served = collections.Counter()
    with httpx.Client(base_url=client.base_url) as http:
        deadline = time.monotonic() + 30
        while client._request("GET", "/api/v1/models/riders/deploy")["canary"] is not None:
            assert time.monotonic() < deadline, "the canary was not rolled back"
            for _ in range(20):
                response = _post(http, rows)
                served[response.headers["x-served-as"]] += 1
                assert response.headers["x-model-version"] == "1.0.0"
                assert response.json()["predictions"] == models["1.0.0"].expected(
                    rows).tolist()
    assert served["fallback"] >= 30 and served["canary"] == 0, served
    rolled = next(h for h in client.deployments("riders") if h.strategy == "canary")
    assert rolled.state == "rolled-back"
    alerts = {a.rule: a for a in client.alerts(state="open")}
    assert "error rate 100.0%" in alerts["canary_rolled_back"].message
    assert "failure drill" in alerts["prediction_failed"].message
    assert client.get_model("riders").aliases["production"] == "1.0.0"


def test_a_shadow_scores_everything_and_answers_nothing(
        d: DaemonProcess, models: dict[str, bikes.Trained]) -> None:
    client = d.client
    assert client is not None
    rows = models["1.0.0"].frame.slice(50, 4).select(bikes.FEATURES).to_dicts()
    client._request("POST", "/api/v1/models/riders/deploy",
                    json={"version": "1.1.0", "strategy": "shadow"})
    with httpx.Client(base_url=client.base_url) as http:
        for i in range(25):
            response = http.post("/v1/models/riders/predict", json={"rows": rows},
                                 headers={"x-request-id": f"shadowed-{i}"})
            assert response.headers["x-model-version"] == "1.0.0"
    shadow = wait_until(lambda: (s := client._request(
        "GET", "/api/v1/models/riders/deploy")["shadow"])["compared_rows"] == 100 and s,
        what="the shadow's comparisons")
    live, theirs = models["1.0.0"].expected(rows), models["1.1.0"].expected(rows)
    assert shadow["mean_abs_diff"] == pytest.approx(abs(live - theirs).mean())
    logged = wait_until(lambda: len(found := client.predictions(request_id="shadowed-3")) == 8
                        and found, what="both answers in the log")
    assert sorted({(p.served_as, p.version) for p in logged}) == [
        ("production", "1.0.0"), ("shadow", "1.1.0")]
    ended = client._request("POST", "/api/v1/models/riders/deploy/abort",
                            json={"reason": "seen enough"})
    assert ended["state"] == "aborted" and ended["ended"][0]["compared_rows"] == 100


def test_the_cli_deploys_predicts_and_shows(d: DaemonProcess, models: dict[str, bikes.Trained],
                                            tmp_path) -> None:
    import json

    from tests.daemon_process import run_mlops

    home = d.home.root
    rows = models["1.0.0"].frame.slice(0, 3).select(bikes.FEATURES).to_dicts()
    (tmp_path / "rows.json").write_text(json.dumps(rows))
    out = run_mlops(home, "predict", "riders", str(tmp_path / "rows.json"))
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("riders:1.0.0") and len(out.stdout.splitlines()) == 5
    started = run_mlops(home, "deploy", "riders", "1.1.0", "--canary", "10",
                        "--reason", "cli canary")
    assert started.returncode == 0 and "takes 10.0% of requests" in started.stdout
    status = run_mlops(home, "deploy", "riders")
    assert "canary 1.1.0 at 10.0%" in status.stdout and "champion" in status.stdout
    aborted = run_mlops(home, "deploy", "riders", "--abort", "--reason", "cli abort")
    assert aborted.returncode == 0 and "canary of 1.1.0 ended" in aborted.stdout
    history = run_mlops(home, "deployments", "riders")
    assert "cli canary" in history.stdout and "aborted" in history.stdout
    serving = run_mlops(home, "serving")
    assert "riders:1.0.0" in serving.stdout and "prediction log:" in serving.stdout
    missing = run_mlops(home, "deploy", "riders", "--promote")
    assert missing.returncode != 0 and "no canary or shadow" in missing.stderr
