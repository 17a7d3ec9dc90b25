"""Every number and string the API takes has bounds; a value past them is a 422 naming the
field, never a 500; a wrong method is a 405 saying which methods are allowed; predict types
its inputs strictly."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests import bikes
from tests.daemon_process import DaemonProcess


@pytest.fixture(scope="module")
def d(shared_daemon: DaemonProcess) -> DaemonProcess:
    return shared_daemon


@pytest.fixture(scope="module")
def http(d: DaemonProcess) -> Iterator[httpx.Client]:
    assert d.client is not None
    with httpx.Client(base_url=d.client.base_url, timeout=30, headers={
            "Authorization": f"Bearer {d.home.read_token()}"}) as client:
        yield client


@pytest.fixture(scope="module")
def riders(d: DaemonProcess) -> bikes.Trained:
    assert d.client is not None
    trained = bikes.train()
    d.client.promote("riders", bikes.log(d.client, trained, "riders"))
    return trained


def _row(trained: bikes.Trained, **change: Any) -> dict[str, Any]:
    return {**trained.frame.select(trained.booster.feature_name()).row(0, named=True), **change}


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"temp": True}, "rows[1].temp", "expected a number, got True"),
    ({"temp": "0.3"}, "rows[1].temp", "expected a number"),
    ({"hr": 2.5}, "rows[1].hr", "expected an integer, got 2.5"),
    ({"hr": True}, "rows[1].hr", "expected an integer, got True"),
    ({"hr": 99999999999999999999}, "rows[1].hr", "does not fit a 64-bit integer"),
])
def test_predict_types_its_inputs_strictly(http: httpx.Client, riders: bikes.Trained,
                                           change: dict, field: str, words: str) -> None:
    good = _row(riders)
    body = b'{"rows": [%s, %s]}' % (httpx.Request("POST", "/", json=good).content,
                                   _json(_row(riders, **change)))
    reply = http.post("/v1/models/riders/predict", content=body,
                      headers={"Content-Type": "application/json"})
    assert reply.status_code == 422, reply.text
    error = reply.json()["error"]
    assert error["field"] == field and "row 1" in error["message"], error
    assert words in error["message"], error


def test_a_number_json_cannot_hold_is_a_clear_400(http: httpx.Client,
                                                  riders: bikes.Trained) -> None:
    reply = http.post("/v1/models/riders/predict", content=b'{"rows": [%s]}' % _json(
        _row(riders, temp=10**400)), headers={"Content-Type": "application/json"})
    assert reply.status_code == 400 and reply.json()["error"]["field"] == "body", reply.text
    assert "infinity" in reply.json()["error"]["message"]


def test_predict_takes_whole_floats_for_integers(http: httpx.Client,
                                                 riders: bikes.Trained) -> None:
    row = _row(riders)
    exact = http.post("/v1/models/riders/predict", json={"rows": [row]}).json()
    whole = http.post("/v1/models/riders/predict",
                      json={"rows": [{**row, "hr": float(row["hr"])}]}).json()
    assert whole["predictions"] == exact["predictions"]


def _json(row: dict[str, Any]) -> bytes:
    # Python ints past 64 bits and 10**400 are written as JSON integers by hand: encoders
    # refuse or round them, and a client may send them all the same.
    parts = []
    for key, value in row.items():
        text = str(value) if isinstance(value, int) and not isinstance(value, bool) else (
            httpx.Request("POST", "/", json=value).content.decode())
        parts.append(f'"{key}": {text}')
    return ("{" + ", ".join(parts) + "}").encode()


@pytest.mark.parametrize(("method", "path", "kwargs", "field"), [
    ("GET", "/api/v1/jobs", {"params": {"limit": 0}}, "query.limit"),
    ("GET", "/api/v1/alerts", {"params": {"limit": 10_001}}, "query.limit"),
    ("GET", "/api/v1/jobs/1/log", {"params": {"offset": "99999999999999999999"}},
     "query.offset"),
    ("GET", "/api/v1/jobs/99999999999999999999", {}, "path.job_id"),
    ("GET", "/api/v1/audit", {"params": {"after": "a" * 2001}}, "query.after"),
    ("GET", "/api/v1/audit", {"params": {"after": "bm90IGEgY3Vyc29y"}}, "after"),
    ("GET", "/api/v1/jobs", {"params": {"after": "WyJqb2JzIiwiOTkiXQ"}}, "after"),
    ("POST", "/api/v1/models/riders/drift", {"json": {"window_s": 1e225}}, "body.window_s"),
    ("POST", "/api/v1/models/riders/aliases/" + "a" * 5000, {"json": {"version": "1.0.0"}},
     "path.alias"),
    ("POST", "/api/v1/models/riders/aliases/bad%20alias", {"json": {"version": "1.0.0"}},
     "path.alias"),
    ("POST", "/api/v1/models/riders/rollback", {"json": {"alias": "a" * 300}}, "body.alias"),
    ("POST", "/api/v1/models/riders/deploy", {"json": {"version": "1.0.0", "percent": 1e300}},
     "body.percent"),
    ("POST", "/api/v1/alerts/1/ack", {"json": {"note": "n" * 10_001}}, "body.note"),
    ("POST", "/api/v1/selectors/resolve", {"json": {"selector": "bikes@1..99999999999999999999"}},
     "selector"),
])
def test_values_past_their_bounds_are_422s_naming_the_field(
        http: httpx.Client, riders: bikes.Trained, method: str, path: str, kwargs: dict,
        field: str) -> None:
    reply = http.request(method, path, **kwargs)
    assert reply.status_code == 422, (path, reply.status_code, reply.text[:300])
    assert reply.json()["error"]["field"] == field, reply.text[:300]


def test_a_wrong_method_is_a_405_naming_every_allowed_one(http: httpx.Client) -> None:
    for path, allowed in [("/api/v1/jobs", "GET, POST"), ("/api/v1/runs", "GET, POST"),
                          ("/api/v1/alerts/1/ack", "POST"),
                          ("/api/v1/models/riders/aliases/history", "GET"),
                          ("/v1/models/riders/predict", "POST"), ("/v1/models/riders", "GET")]:
        reply = http.request("DELETE", path)
        assert reply.status_code == 405, (path, reply.text)
        assert reply.headers["allow"] == allowed, (path, reply.headers.get("allow"))
        assert reply.json()["error"]["code"] == "method_not_allowed"
