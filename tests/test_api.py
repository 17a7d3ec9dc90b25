"""The HTTP API of a real daemon over loopback: health, status, auth, errors, jobs, events."""

from __future__ import annotations

import threading

import httpx
import pytest

from mlopsd.client import ApiError, Client
from tests.daemon_process import DaemonProcess, wait_until


@pytest.fixture(scope="module")
def d(shared_daemon: DaemonProcess) -> DaemonProcess:
    return shared_daemon


@pytest.fixture
def client(d: DaemonProcess) -> Client:
    assert d.client is not None
    return d.client


def raw(d: DaemonProcess) -> httpx.Client:
    assert d.client is not None
    return httpx.Client(base_url=d.client.base_url, timeout=10)


def test_health_and_status(d: DaemonProcess, client: Client) -> None:
    assert client.health().status == "ok"
    status = client.status()
    assert status.pid == d.pid
    assert status.home == str(d.home.root)
    assert status.port == int(client.base_url.rsplit(":", 1)[1])
    assert status.scheduler.running is True
    assert status.workers.size == 2
    assert status.schema_version >= 2
    assert status.auth == "mutating"
    assert status.uptime_s >= 0


def test_mutating_calls_need_the_token(d: DaemonProcess) -> None:
    with raw(d) as http:
        assert http.get("/api/v1/status").status_code == 200
        refused = http.post("/api/v1/jobs", json={"kind": "selfcheck"})
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "unauthorized"
        assert "token" in refused.json()["error"]["message"]
        wrong = http.post("/api/v1/jobs", json={"kind": "selfcheck"},
                          headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        right = http.post("/api/v1/jobs", json={"kind": "selfcheck"},
                          headers={"Authorization": f"Bearer {d.home.read_token()}"})
        assert right.status_code == 202


def test_errors_are_json_with_field(d: DaemonProcess, client: Client) -> None:
    with raw(d) as http:
        missing = http.get("/api/v1/nope")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "not_found"
        bad_id = http.get("/api/v1/jobs/abc")
        assert bad_id.status_code == 422
        assert bad_id.json()["error"]["field"] == "path.job_id"
        no_job = http.get("/api/v1/jobs/987654")
        assert no_job.status_code == 404
        assert no_job.json() == {"error": {"code": "not_found", "message": "no job with id 987654"}}
        bad_state = http.get("/api/v1/jobs", params={"state": "sleeping"})
        assert bad_state.json()["error"]["field"] == "state"
        body = http.post("/api/v1/jobs", content=b"{not json",
                         headers={"Authorization": f"Bearer {d.home.read_token()}",
                                  "Content-Type": "application/json"})
        assert body.status_code == 422 and "error" in body.json()
        assert "Traceback" not in body.text
    with pytest.raises(ApiError) as err:
        client.submit_job("fly-to-the-moon")
    assert err.value.status == 422 and err.value.field == "kind"
    assert "known: " in err.value.message and "selfcheck" in err.value.message
    with pytest.raises(ApiError) as err:
        client.submit_job("selfcheck", {"seconds": "soon"})
    assert err.value.field == "params.seconds"
    with pytest.raises(ApiError) as err:
        client.submit_job("selfcheck", {"secs": 1})
    assert err.value.field == "params.secs" and "unknown parameter" in err.value.message


def test_selfcheck_job_runs_in_a_worker_process(d: DaemonProcess, client: Client) -> None:
    job = client.submit_job("selfcheck")
    assert job.state == "queued" and job.actor == "test@owner"
    done = client.wait_job(job.id, timeout=60)
    assert done.state == "succeeded", done.error
    assert done.result["pid"] != d.pid
    assert done.result["deterministic"] is True
    artifact = d.home.artifacts / "sha256" / done.result["artifact"][:2] / done.result["artifact"]
    assert artifact.is_file()
    log = client.job_log(job.id)
    assert log.complete and "trained, reproducible" in log.text
    assert client.job_log(job.id, log.next_offset).text == ""


def test_failing_job_records_the_reason(client: Client) -> None:
    job = client.submit_job("selfcheck", {"fail": "the disk is full"})
    done = client.wait_job(job.id, timeout=60)
    assert done.state == "failed"
    assert done.error == "the disk is full"
    assert "the disk is full" in client.job_log(job.id).text


def test_cancel_queued_running_and_finished(client: Client) -> None:
    long = [client.submit_job("selfcheck", {"seconds": 60}) for _ in range(3)]
    running = wait_until(lambda: [j for j in long if client.get_job(j.id).state == "running"],
                         what="a running job")
    queued = [j for j in long if client.get_job(j.id).state == "queued"]
    assert queued, "two workers, three jobs: one waits"
    assert client.cancel_job(queued[0].id, "not needed").state == "cancelled"
    client.cancel_job(running[0].id, "taking too long")
    done = client.wait_job(running[0].id, timeout=30)
    assert done.state == "cancelled"
    assert done.error == "cancelled by test@owner: taking too long"
    for job in long:
        if client.get_job(job.id).state in ("queued", "running"):
            client.cancel_job(job.id)
    for job in long:
        client.wait_job(job.id, timeout=30)
    with pytest.raises(ApiError) as err:
        client.cancel_job(done.id)
    assert err.value.status == 409
    actions = [(e.action, e.reason) for e in client.audit(action="job.cancel")]
    assert ("job.cancel", "taking too long") in actions


def test_event_stream_shows_a_job_from_queue_to_end(client: Client) -> None:
    follower = Client(client.base_url, actor="test")
    job = client.submit_job("selfcheck", {"seconds": 1})
    seen: list[tuple[str, int]] = []

    def follow() -> None:
        # after=0 replays the recent history first, so events sent before the stream
        # connected are not missed; the rest arrive live.
        for event in follower.events(types=["job"], after=0, timeout=60):
            if event.data.get("job_id") == job.id:
                seen.append((event.type, event.id))
                if event.type in ("job.succeeded", "job.failed"):
                    return

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    thread.join(timeout=60)
    follower.close()
    types = [t for t, _ in seen]
    assert types[0] == "job.queued"
    assert types[1] == "job.started"
    assert "job.progress" in types
    assert types[-1] == "job.succeeded"
    ids = [i for _, i in seen]
    assert ids == sorted(ids)


def test_openapi_documents_every_route(client: Client) -> None:
    with httpx.Client(base_url=client.base_url) as http:
        spec = http.get("/openapi.json").json()
    paths = set(spec["paths"])
    for path in ["/api/v1/health", "/api/v1/status", "/api/v1/events", "/api/v1/jobs",
                 "/api/v1/jobs/{job_id}", "/api/v1/jobs/{job_id}/cancel",
                 "/api/v1/jobs/{job_id}/log", "/api/v1/audit", "/api/v1/job-kinds"]:
        assert path in paths, path
    assert "post" in spec["paths"]["/api/v1/jobs"]


def test_audit_records_who_queued_what(client: Client) -> None:
    job = client.submit_job("selfcheck")
    entries = client.audit(subject=f"job:{job.id}")
    assert entries[0].action == "job.submit"
    assert entries[0].actor == "test@owner"
    assert entries[0].details["kind"] == "selfcheck"
