"""Micro-batching on a real daemon: concurrent real HTTP clients, real LightGBM models.
Requests predicted together answer exactly as alone (bit for bit, rows in their order), a
refused request fails alone while the others in its batch answer, and every request is
still counted, logged and routed (canary arms, fallback) as its own."""

from __future__ import annotations

import threading
import zlib
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np
import pytest

from jobs.features import to_matrix
from tests import bikes
from tests.daemon_process import DaemonProcess, wait_until

# A generous wait makes batches form however loaded the machine is; `batched` below checks
# that they did.
CONFIG = """\
[serving]
batch_wait_ms = 5.0
batch_max_rows = 64
canary_min_requests = 100000

[serving.fallback]
solo = 0.0
"""
CLIENTS = 8
PER_CLIENT = 40


@pytest.fixture(scope="module")
def d(tmp_path_factory: pytest.TempPathFactory):
    daemon = DaemonProcess(tmp_path_factory.mktemp("batching") / "home", config=CONFIG).start()
    yield daemon
    assert daemon.stop() == 0


@pytest.fixture(scope="module")
def models(d: DaemonProcess) -> dict[str, bikes.Trained]:
    client = d.client
    assert client is not None
    pair = bikes.riders_pair(client)
    client.promote("solo", bikes.log(client, pair["1.0.0"], "solo"))
    return pair


def _concurrently(d: DaemonProcess, request: Callable[[httpx.Client, int, int], Any]
                  ) -> list[Any]:
    """CLIENTS threads, each with its own connection, PER_CLIENT requests each."""
    assert d.client is not None
    results: list[Any] = []
    failures: list[BaseException] = []
    start = threading.Barrier(CLIENTS)

    def client(worker: int) -> None:
        try:
            with httpx.Client(base_url=d.client.base_url, timeout=30) as http:
                start.wait()
                for i in range(PER_CLIENT):
                    results.append(request(http, worker, i))
        except BaseException as exc:  # reported by the test thread
            failures.append(exc)

    threads = [threading.Thread(target=client, args=(w,)) for w in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures[0]
    return results


def _rows(trained: bikes.Trained, worker: int, i: int) -> list[dict[str, Any]]:
    """1 to 4 rows, different for every request."""
    first = (worker * PER_CLIENT + i) * 7 % (trained.frame.height - 8)
    return trained.frame.slice(first, 1 + (worker + i) % 4).select(bikes.FEATURES).to_dicts()


def _batched(d: DaemonProcess) -> tuple[int, int]:
    assert d.client is not None
    batching = d.client.serving().batching
    assert batching is not None
    return batching.batches, batching.batched_requests


def test_batched_requests_answer_bit_for_bit_as_alone_and_each_is_counted_and_logged(
        d: DaemonProcess, models: dict[str, bikes.Trained]) -> None:
    client = d.client
    assert client is not None
    trained = models["1.0.0"]
    batches_before, _ = _batched(d)
    counted_before = client.serving().stats.get("riders:1.0.0")

    def predict(http: httpx.Client, worker: int, i: int) -> tuple[str, list, httpx.Response]:
        rows = _rows(trained, worker, i)
        request_id = f"batch-{worker}-{i}"
        return request_id, rows, http.post("/v1/models/riders/predict", json={"rows": rows},
                                           headers={"x-request-id": request_id})

    results = _concurrently(d, predict)
    for request_id, rows, response in results:
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["request_id"] == response.headers["x-request-id"] == request_id
        alone = trained.booster.predict(to_matrix(rows, trained.signature))
        assert np.array_equal(np.array(body["predictions"]), alone), "bit for bit, in order"
    batches, batched_requests = _batched(d)
    assert batches > batches_before, "no two requests were predicted together"
    assert batched_requests >= 2 * batches

    counted = client.serving().stats["riders:1.0.0"]
    sent_rows = sum(len(rows) for _, rows, _ in results)
    assert counted.requests - (counted_before.requests if counted_before else 0) == len(results)
    assert counted.rows - (counted_before.rows if counted_before else 0) == sent_rows
    for request_id, rows, response in results[:: len(results) // 10]:
        logged = wait_until(lambda rid=request_id: list(client.predictions(request_id=rid)),
                            what=f"the log of {request_id}")
        assert sorted(p.row_index for p in logged) == list(range(len(rows)))
        for entry in logged:
            assert entry.inputs == rows[entry.row_index]
            assert entry.output["prediction"] == response.json()["predictions"][
                entry.row_index]


def test_a_refused_request_fails_alone_and_its_batch_answers(
        d: DaemonProcess, models: dict[str, bikes.Trained]) -> None:
    trained = models["1.0.0"]
    batches_before, _ = _batched(d)

    def predict(http: httpx.Client, worker: int, i: int) -> tuple[int, list, httpx.Response]:
        rows = _rows(trained, worker, i)
        kind = (worker + i) % 5
        if kind == 1:
            rows[-1]["temp"] = True  # not a number
        elif kind == 2 and len(rows) > 1:
            rows[1]["hr"] = 2.5  # not an integer
        return kind, rows, http.post("/v1/models/riders/predict", json={"rows": rows})

    for kind, rows, response in _concurrently(d, predict):
        if kind == 1:
            assert response.status_code == 422
            error = response.json()["error"]
            assert error["field"] == f"rows[{len(rows) - 1}].temp"
            assert error["row"] == len(rows) - 1 and "expected a number" in error["message"]
        elif kind == 2 and len(rows) > 1:
            assert response.status_code == 422
            assert response.json()["error"]["field"] == "rows[1].hr"
            assert "expected an integer, got 2.5" in response.json()["error"]["message"]
        else:
            assert response.status_code == 200, response.text
            assert response.json()["predictions"] == trained.expected(rows).tolist()
    assert _batched(d)[0] > batches_before


def test_canary_arms_and_the_fallback_hold_under_batching(
        d: DaemonProcess, models: dict[str, bikes.Trained]) -> None:
    client = d.client
    assert client is not None
    client.deploy("riders", "1.1.0", percent=50, reason="batching test",
                  latency_margin=100)
    try:
        def predict(http: httpx.Client, worker: int, i: int) -> tuple[str, list, httpx.Response]:
            key = f"client-{worker}-{i % 3}"
            rows = _rows(models["1.0.0"], worker, i)
            return key, rows, http.post("/v1/models/riders/predict", json={"rows": rows},
                                        headers={"x-client-key": key})

        results = _concurrently(d, predict)
        for key, rows, response in results:
            assert response.status_code == 200, response.text
            canary = zlib.crc32(key.encode()) % 10_000 < 50 * 100
            assert response.headers["x-served-as"] == ("canary" if canary else "production")
            version = "1.1.0" if canary else "1.0.0"
            assert response.json()["version"] == version
            assert response.json()["predictions"] == models[version].expected(rows).tolist()
        canary = client.deploy_status("riders").canary
        assert canary is not None
        to_candidate = sum(r.headers["x-served-as"] == "canary" for _, _, r in results)
        assert canary.candidate.requests == to_candidate
        assert canary.champion.requests == len(results) - to_candidate
    finally:
        client.deploy_abort("riders", reason="end of the batching test")

    # A drilled request fails alone (it is never batched): the default answers it, the
    # others around it answer from the model.
    client.drill("solo", failure_rate=1.0, requests=CLIENTS)
    trained = models["1.0.0"]

    def solo(http: httpx.Client, worker: int, i: int) -> tuple[list, httpx.Response]:
        rows = _rows(trained, worker, i)
        return rows, http.post("/v1/models/solo/predict", json={"rows": rows})

    results = _concurrently(d, solo)
    defaults = [r for _, r in results if r.headers["x-served-as"] == "fallback-default"]
    assert len(defaults) == CLIENTS
    for rows, response in results:
        assert response.status_code == 200, response.text
        if response.headers["x-served-as"] == "fallback-default":
            assert response.json()["predictions"] == [0.0] * len(rows)
        else:
            assert response.json()["predictions"] == trained.expected(rows).tolist()
    counted = client.serving().stats["solo:1.0.0"]
    assert (counted.requests, counted.errors) == (len(results), CLIENTS)
