"""Serving over real HTTP from a real daemon: predictions equal Booster.predict exactly, in
every body format; errors name the field and row; blue-green switches and rollbacks under
concurrent load lose no request; every prediction is logged."""

from __future__ import annotations

import io
import threading
import time

import httpx
import numpy as np
import polars as pl
import pytest

from mlopsd.client import ApiError
from tests import bikes
from tests.daemon_process import DaemonProcess, wait_until

CONFIG = """\
[serving]
max_rows = 5000
max_body_mb = 1.0

[ingest]
settle_s = 0.2

[[dataset]]
name = "rides"
id_column = "ride_id"
target = "bikers"

[[dataset]]
name = "plain"

[[model]]
name = "riders"
data = "rides@latest"
target = "bikers"

[serving.unseen_categories]
busy = "reject"
"""


@pytest.fixture(scope="module")
def d(tmp_path_factory: pytest.TempPathFactory):
    daemon = DaemonProcess(tmp_path_factory.mktemp("serving") / "home", config=CONFIG).start()
    yield daemon
    assert daemon.stop() == 0


@pytest.fixture(scope="module")
def riders(d: DaemonProcess) -> bikes.Trained:
    assert d.client is not None
    trained = bikes.train("regression")
    version = bikes.log(d.client, trained, "riders")
    d.client.promote("riders", version, reason="first deploy")
    return trained


def _http(d: DaemonProcess) -> httpx.Client:
    assert d.client is not None
    return httpx.Client(base_url=d.client.base_url, timeout=30)


def test_predictions_equal_booster_predict_in_every_body_format(
        d: DaemonProcess, riders: bikes.Trained) -> None:
    client = d.client
    assert client is not None
    sample = riders.frame.slice(100, 300)
    rows = sample.select(bikes.FEATURES).to_dicts()
    expected = riders.expected(rows).tolist()

    reply = client.predict("riders", rows)
    assert reply.predictions == expected, "exactly Booster.predict on the same rows"
    assert (reply.model, reply.version) == ("riders", "1.0.0")
    columns = {name: sample[name].to_list() for name in bikes.FEATURES}
    assert client.predict("riders", columns=columns).predictions == expected
    single = client.predict("riders", rows[:1])
    assert single.predictions == expected[:1]

    with _http(d) as http:
        csv = io.BytesIO()
        sample.write_csv(csv)
        parquet = io.BytesIO()
        sample.write_parquet(parquet)
        arrow = io.BytesIO()
        sample.write_ipc_stream(arrow)
        for content_type, body in [("text/csv", csv.getvalue()),
                                   ("application/vnd.apache.parquet", parquet.getvalue()),
                                   ("application/vnd.apache.arrow.stream", arrow.getvalue())]:
            response = http.post("/v1/models/riders/predict", content=body,
                                 headers={"content-type": content_type})
            assert response.status_code == 200, response.text
            assert response.json()["predictions"] == expected, content_type
            ignored = response.headers["x-ignored-columns"].split(",")
            assert sorted(ignored) == ["bikers", "casual", "day", "registered"]


def test_versions_aliases_request_ids_and_description(d: DaemonProcess,
                                                      riders: bikes.Trained) -> None:
    client = d.client
    assert client is not None
    rows = riders.frame.slice(0, 5).select(bikes.FEATURES).to_dicts()
    by_version = client.predict("riders", rows, version="1.0.0", request_id="order-77")
    assert by_version.request_id == "order-77"
    assert by_version.predictions == riders.expected(rows).tolist()
    assert client.predict("riders", rows, alias="production").version == "1.0.0"
    described = client.served_model("riders")
    assert described.version == "1.0.0" and described.aliases["production"] == "1.0.0"
    assert [i["name"] for i in described.signature["inputs"]] == bikes.FEATURES
    example = described.example_request
    with _http(d) as http:
        answered = http.post(example.path, json=example.body)
    assert answered.status_code == 200 and len(answered.json()["predictions"]) == 1


def test_classifiers_answer_probabilities_labels_and_contributions(d: DaemonProcess) -> None:
    client = d.client
    assert client is not None
    busy = bikes.train("binary")
    client.promote("busy", bikes.log(client, busy, "busy", classes=["quiet", "busy"]))
    rows = busy.frame.slice(500, 40).select(bikes.FEATURES).to_dicts()
    reply = client.predict("busy", rows, explain=True)
    probabilities = busy.expected(rows)
    assert reply.predictions == probabilities.tolist()
    assert reply.labels == ["busy" if p >= 0.5 else "quiet" for p in probabilities]
    assert reply.classes == ["quiet", "busy"] and reply.threshold == 0.5
    from jobs.features import to_matrix

    contributions = busy.booster.predict(to_matrix(rows, busy.signature), pred_contrib=True)
    assert reply.features == bikes.FEATURES
    assert np.array(reply.contributions).tolist() == contributions[:, :-1].tolist()
    assert reply.base_value == contributions[:, -1].tolist()

    seasons = bikes.train("multiclass", features=["mnth", "temp", "hum", "hr"])
    client.promote("seasons", bikes.log(client, seasons, "seasons",
                                        classes=["winter", "spring", "summer", "fall"]))
    unnamed = bikes.log(client, seasons, "season-codes")  # no classes: labels are indices
    client.promote("season-codes", unnamed)
    codes = client.predict("season-codes", seasons.frame.slice(0, 3).select(
        ["mnth", "temp", "hum", "hr"]).to_dicts())
    assert all(label in (0, 1, 2, 3) for label in codes.labels)
    rows = seasons.frame.slice(0, 30).select(["mnth", "temp", "hum", "hr"]).to_dicts()
    reply = client.predict("seasons", rows)
    expected = seasons.expected(rows)
    assert reply.predictions == expected.tolist()
    assert reply.labels == [["winter", "spring", "summer", "fall"][i]
                               for i in expected.argmax(axis=1)]


@pytest.mark.parametrize(("body", "status", "field", "says"), [
    ({"rows": [{"temp": 0.3}]}, 422, "rows[0].season", "input 'season' is missing"),
    ("not json", 400, "body", "not valid JSON"),
    ({"rows": []}, 422, "rows", "no rows"),
    ({"data": []}, 422, "body", 'needs "rows"'),
    ({"columns": {"temp": [0.1, 0.2]}}, 422, "columns.season", "'season' is missing"),
])
def test_bad_requests_name_the_field(d: DaemonProcess, riders: bikes.Trained, body: object,
                                     status: int, field: str, says: str) -> None:
    with _http(d) as http:
        if isinstance(body, str):
            response = http.post("/v1/models/riders/predict", content=body.encode(),
                                 headers={"content-type": "application/json"})
        else:
            response = http.post("/v1/models/riders/predict", json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["field"] == field and says in error["message"]


def test_bad_values_rows_sizes_and_names(d: DaemonProcess, riders: bikes.Trained) -> None:
    rows = riders.frame.slice(0, 4).select(bikes.FEATURES).to_dicts()
    rows[2]["temp"] = "warm"
    rows[3]["weathersit"] = 3
    with _http(d) as http:
        bad = http.post("/v1/models/riders/predict", json={"rows": rows}).json()["error"]
        assert (bad["field"], bad["row"]) == ("rows[2].temp", 2)
        assert "expected a number, got 'warm'" in bad["message"]
        too_many = http.post("/v1/models/riders/predict", json={"rows": [rows[0]] * 5001})
        assert too_many.status_code == 413 and "5,001 rows" in too_many.json()["error"]["message"]
        # A small compressed body with many rows is refused without decoding them all.
        packed = io.BytesIO()
        riders.frame.head(1).select(bikes.FEATURES).select(
            pl.all().repeat_by(200_000).explode()).write_parquet(packed, compression="zstd")
        assert len(packed.getvalue()) < 100_000
        many = http.post("/v1/models/riders/predict", content=packed.getvalue(),
                         headers={"content-type": "application/vnd.apache.parquet"})
        assert many.status_code == 413 and "more than 5,000 rows" in many.text
        too_big = http.post("/v1/models/riders/predict", content=b"x" * 1_100_000,
                            headers={"content-type": "application/json"})
        assert too_big.status_code == 413
        media = http.post("/v1/models/riders/predict", content=b"a",
                          headers={"content-type": "application/xml"})
        assert media.status_code == 415
        unknown = http.post("/v1/models/nobody/predict", json={"rows": rows[:1]})
        assert unknown.status_code == 404 and "no model named 'nobody'" in unknown.text
        no_version = http.post("/v1/models/riders/versions/9.9.9/predict",
                               json={"rows": rows[:1]})
        assert no_version.status_code == 404 and "no version '9.9.9'" in no_version.text
        csv = http.post("/v1/models/riders/predict", content=b"season,temp\nx,0.1\n",
                        headers={"content-type": "text/csv"})
        assert csv.status_code == 422 and csv.json()["error"]["field"] == "body"


def test_every_prediction_is_logged(d: DaemonProcess, riders: bikes.Trained) -> None:
    client = d.client
    assert client is not None
    rows = riders.frame.slice(10, 3).select(bikes.FEATURES).to_dicts()
    reply = client.predict("riders", rows, request_id="logged-1")
    logged = wait_until(lambda: len(found := client.predictions(request_id="logged-1")) == 3
                        and found, what="the prediction log")
    by_row = sorted(logged, key=lambda p: p.row_index)
    assert [p.output["prediction"] for p in by_row] == reply.predictions
    assert by_row[1].inputs == rows[1] and by_row[0].version == "1.0.0"
    assert all(p.served_as == "production" and p.latency_ms > 0 for p in by_row)


def test_blue_green_switch_and_rollback_under_load_lose_no_request(
        d: DaemonProcess, riders: bikes.Trained) -> None:
    client = d.client
    assert client is not None
    second = bikes.train("regression", leaves=31, rounds=30)
    version = bikes.log(client, second, "riders", data="bikes@2")
    assert version == "1.1.0"
    rows = riders.frame.slice(0, 2).select(bikes.FEATURES).to_dicts()
    answers = {"1.0.0": riders.expected(rows).tolist(), "1.1.0": second.expected(rows).tolist()}
    stop = threading.Event()
    failures: list[str] = []
    seen: list[str] = []

    def hammer() -> None:
        with _http(d) as http:
            while not stop.is_set():
                try:
                    response = http.post("/v1/models/riders/predict", json={"rows": rows})
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))
                    continue
                if response.status_code != 200:
                    failures.append(response.text)
                    continue
                reply = response.json()
                if reply["predictions"] != answers[reply["version"]]:
                    failures.append(f"{reply['version']} answered another version's numbers")
                seen.append(reply["version"])

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)
        client.promote("riders", "1.1.0", reason="better on new data")
        wait_until(lambda: seen and seen[-1] == "1.1.0", what="the switch")
        time.sleep(0.5)
        started = time.perf_counter()
        move = client.rollback("riders", reason="drill")
        rollback_s = time.perf_counter() - started
        assert move.to_version == "1.0.0"
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not failures, failures[:3]
    assert seen[-1] == "1.0.0" and "1.1.0" in seen and len(seen) > 100
    assert rollback_s < 1.0, "the previous version stays loaded"
    steps = client.deployments("riders")
    assert [(s.strategy, s.from_version, s.to_version) for s in steps[:2]] == [
        ("rollback", "1.1.0", "1.0.0"), ("blue-green", "1.0.0", "1.1.0")]
    assert steps[1].reason == "better on new data" and "warm-up prediction" in str(
        steps[1].detail)
    serving = client.serving()
    assert serving.models["riders"].model_dump() == {
        "live": "1.0.0", "previous": "1.1.0", "stands_in_for": None}
    assert serving.stats["riders:1.1.0"].requests > 0


def test_a_version_that_cannot_serve_leaves_production_alone(
        d: DaemonProcess, riders: bikes.Trained) -> None:
    client = d.client
    assert client is not None
    # A registered version whose artifact went missing on disk: the standby check fails.
    broken = bikes.train("regression", leaves=7)
    version = bikes.log(client, broken, "riders", data="bikes@3")
    sha = client.model_version("riders", version).artifact_sha
    (d.home.artifacts / "sha256" / sha[:2] / sha).unlink()
    with pytest.raises(ApiError) as err:
        client.promote("riders", version)
    assert err.value.status == 409 and "production is unchanged" in err.value.message
    assert client.get_model("riders").aliases["production"] == "1.0.0"
    rows = riders.frame.slice(0, 1).select(bikes.FEATURES).to_dicts()
    assert client.predict("riders", rows).version == "1.0.0"


def test_a_restarted_daemon_serves_production_again(tmp_path) -> None:
    daemon = DaemonProcess(tmp_path / "home").start()
    try:
        assert daemon.client is not None
        trained = bikes.train("regression")
        daemon.client.promote("riders", bikes.log(daemon.client, trained, "riders"))
    finally:
        assert daemon.stop() == 0
    daemon.start()
    try:
        assert daemon.client is not None
        rows = trained.frame.slice(0, 3).select(bikes.FEATURES).to_dicts()
        assert daemon.client.predict("riders", rows).predictions == trained.expected(
            rows).tolist()
    finally:
        assert daemon.stop() == 0


def test_the_ndjson_stream_answers_each_row_before_the_last_is_sent(
        d: DaemonProcess, riders: bikes.Trained) -> None:
    import json
    import socket

    assert d.client is not None
    host, port = d.client.base_url.split("//")[1].rsplit(":", 1)
    rows = riders.frame.slice(20, 3).select(bikes.FEATURES).to_dicts()
    expected = riders.expected(rows).tolist()

    def chunk(data: bytes) -> bytes:
        return f"{len(data):x}\r\n".encode() + data + b"\r\n"

    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"POST /v1/models/riders/predict/stream HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n"
                     b"X-Request-Id: stream-1\r\n\r\n")
        sock.sendall(chunk(json.dumps(rows[0]).encode() + b"\n"))
        received = b""
        while b'"line":0' not in received:
            received += sock.recv(65536)
        assert b"200 OK" in received.split(b"\r\n", 1)[0]
        # The first answer is in before the rest is sent; a bad line gets an error line.
        sock.sendall(chunk(b'{"temp": "hot"}\n' + json.dumps(rows[1]).encode() + b"\n"))
        sock.sendall(chunk(json.dumps(rows[2]).encode()))  # the last line needs no newline
        sock.sendall(b"0\r\n\r\n")
        while not received.endswith(b"0\r\n\r\n"):
            received += sock.recv(65536)
    lines = [json.loads(line) for part in received.split(b"\r\n") if part.startswith(b"{")
             for line in part.splitlines()]
    assert [line["line"] for line in lines] == [0, 1, 2, 3]
    assert [lines[i]["prediction"] for i in (0, 2, 3)] == expected
    assert "missing" in lines[1]["error"]["message"]
    logged = wait_until(lambda: len(found := d.client.predictions(request_id="stream-1")) == 3
                        and found, what="the stream's rows in the log")
    assert sorted(p.row_index for p in logged) == [0, 2, 3]


def test_feedback_gives_live_performance_per_version(d: DaemonProcess,
                                                     riders: bikes.Trained) -> None:
    from sklearn.metrics import mean_absolute_error, root_mean_squared_error

    client = d.client
    assert client is not None
    sample = riders.frame.slice(1000, 200)
    rows = sample.select(bikes.FEATURES).to_dicts()
    reply = client.predict("riders", rows, request_id="fb-1")
    truth = sample["bikers"].to_list()
    labels = [{"request_id": "fb-1", "row": i, "label": y} for i, y in enumerate(truth)]
    received = client.feedback("riders", labels[:150])
    assert received.received == 150
    client.feedback("riders", labels[150:])
    with _http(d) as http:
        unauthorised = http.post("/v1/models/riders/feedback", json=labels[:1])
        assert unauthorised.status_code == 401
    found = wait_until(lambda: (p := client.performance("riders")).labelled_rows >= 200
                       and p, what="labels joined to the logged predictions")
    live = next(v for v in found.versions if v.served_as == "production")
    assert live.version == reply.version and live.rows == 200
    assert live.metrics["rmse"] == pytest.approx(
        root_mean_squared_error(truth, reply.predictions), rel=1e-12)
    assert live.metrics["mae"] == pytest.approx(
        mean_absolute_error(truth, reply.predictions), rel=1e-12)
    with pytest.raises(ApiError) as err:
        client.feedback("riders", [{"request_id": "fb-1"}])
    assert err.value.status == 422 and err.value.field == "[0].label"


def test_label_files_join_on_the_id_column(d: DaemonProcess, riders: bikes.Trained) -> None:
    import os

    client = d.client
    assert client is not None
    from datetime import UTC, datetime

    since = datetime.now(UTC).isoformat()
    sample = riders.frame.slice(2000, 100).with_row_index("ride_id", offset=90_000)
    rows = sample.select(["ride_id", *bikes.FEATURES]).to_dicts()
    reply = client.predict("riders", rows, request_id="by-id-1")
    inbox = d.home.inbox / "rides"
    inbox.mkdir(parents=True, exist_ok=True)
    staged = d.home.root / "march.labels.csv"
    sample.select("ride_id", "bikers").write_csv(staged)
    os.rename(staged, inbox / "march.labels.csv")
    wait_until(lambda: (inbox / ".done" / "march.labels.csv").exists(), timeout=30,
               what="the label file to be read")
    truth = sample["bikers"].to_numpy()
    predicted = np.array(reply.predictions)
    found = wait_until(lambda: (p := client.performance(
        "riders", since=since)).labelled_rows == 100 and p, what="labels joined by id")
    (by_id,) = found.versions
    assert by_id.rows == 100
    assert by_id.metrics["rmse"] == pytest.approx(
        float(np.sqrt(np.mean((truth - predicted) ** 2))), rel=1e-9)
    # a label file for a dataset with no id column is kept with its reason
    plain = d.home.inbox / "plain"
    plain.mkdir(parents=True, exist_ok=True)
    staged = d.home.root / "x.labels.csv"
    sample.select("ride_id", "bikers").write_csv(staged)
    os.rename(staged, plain / "x.labels.csv")
    kept = wait_until(lambda: [q for q in client.quarantine("plain")
                               if q.source_name == "x.labels.csv"], timeout=30,
                      what="the label file in quarantine")
    assert "declares no id_column" in str(kept[0].issues)


def test_unseen_categories_follow_the_model_policy(d: DaemonProcess,
                                                   riders: bikes.Trained) -> None:
    client = d.client
    assert client is not None
    if "busy" not in client.serving().models:
        client.promote("busy", bikes.log(client, bikes.train("binary"), "busy"))
    rows = riders.frame.slice(0, 3).select(bikes.FEATURES).to_dicts()
    rows[1]["weathersit"] = "snowstorm"
    missing = client.predict("riders", rows)  # riders: unseen is treated as missing
    assert missing.predictions == riders.expected(rows).tolist()
    with _http(d) as http:
        rejected = http.post("/v1/models/busy/predict", json={"rows": rows})
    assert rejected.status_code == 422
    error = rejected.json()["error"]
    assert (error["field"], error["row"]) == ("rows[1].weathersit", 1)
    assert "'snowstorm' is a category the model never saw" in error["message"]


def test_a_stream_rejects_an_unseen_category_line_and_goes_on(
        d: DaemonProcess, riders: bikes.Trained) -> None:
    import json

    client = d.client
    assert client is not None
    if "busy" not in client.serving().models:
        client.promote("busy", bikes.log(client, bikes.train("binary"), "busy"))
    rows = riders.frame.slice(0, 2).select(bikes.FEATURES).to_dicts()
    odd = {**rows[0], "weathersit": "snowstorm"}
    body = "\n".join(json.dumps(r) for r in (rows[0], odd, rows[1])).encode()
    with _http(d) as http:
        response = http.post("/v1/models/busy/predict/stream", content=body,
                             headers={"content-type": "application/x-ndjson"})
    assert response.status_code == 200
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert [("error" in line) for line in lines] == [False, True, False]
    assert "never saw" in lines[1]["error"]["message"]


def test_metrics_scrape_in_the_prometheus_format(d: DaemonProcess,
                                                 riders: bikes.Trained) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    client = d.client
    assert client is not None
    rows = riders.frame.slice(0, 3).select(bikes.FEATURES).to_dicts()
    for _ in range(5):
        client.predict("riders", rows)
    with _http(d) as http:
        response = http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    live = client.serving().models["riders"].live
    stats = client.serving().stats[f"riders:{live}"]

    def sample(family: str, **labels: str) -> float:
        found = families.get(family) or families[f"{family}_total"]
        return next(s.value for s in found.samples
                    if all(s.labels.get(k) == v for k, v in labels.items()))

    assert sample("mlops_predict_requests", model="riders", version=live) >= 5
    assert sample("mlops_predict_requests", model="riders", version=live) <= stats.requests
    assert sample("mlops_predict_rows", model="riders", version=live) >= 15
    p99 = sample("mlops_predict_latency_seconds", model="riders", version=live, quantile="0.99")
    assert 0 < p99 < 1
    assert sample("mlops_process_resident_memory_bytes") > 10_000_000
    assert sample("mlops_jobs", state="queued") >= 0
    assert families["mlops_models_served"].samples[0].value >= 1
