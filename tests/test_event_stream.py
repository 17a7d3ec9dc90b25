"""The client's event stream follows a real daemon across a kill -9 and a restart on another
port, and never passes over lost events in silence."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from mlopsd.client import Client, DaemonNotRunning, EventStream
from mlopsd.client.wire import EventOut
from tests.daemon_process import DaemonProcess, wait_until


def _until(stream: EventStream, seen: list[EventOut], wanted: str, job_id: int) -> None:
    for event in stream:
        seen.append(event)
        if event.id is not None:  # typed by the catalogue, with the change's audit entry
            payload = event.payload()
            assert payload.name == event.type
            if event.type == "job.queued":
                assert event.audit_id is not None, event
        if event.type == wanted and event.data.get("job_id") == job_id:
            return
    raise AssertionError(f"the stream ended before {wanted} of job {job_id}")


def test_the_stream_goes_on_across_a_kill_and_a_restart(home: Path) -> None:
    first = DaemonProcess(home).start()
    assert first.client is not None
    client = Client.from_home(home, actor="watcher")
    stream = client.events(types=["job"], timeout=120)
    seen: list[EventOut] = []
    before = first.client.submit_job("selfcheck")
    _until(stream, seen, "job.succeeded", before.id)
    last_before = stream.last_id
    assert last_before is not None and stream.reconnects == 0

    first.kill()  # SIGKILL: the connection is cut, nothing is said
    second = DaemonProcess(home).start()
    assert second.client is not None
    after: dict[str, int] = {}

    def submit_once_reconnected() -> None:
        wait_until(lambda: stream.connected and stream.reconnects >= 1, timeout=60,
                   what="the stream to reconnect")
        assert second.client is not None
        after["job"] = second.client.submit_job("selfcheck").id

    helper = threading.Thread(target=submit_once_reconnected)
    helper.start()
    try:
        mark = len(seen)
        for event in stream:  # reconnects by itself, then waits for the new job's events
            seen.append(event)
            if "job" in after and event.type == "job.succeeded" and \
                    event.data.get("job_id") == after["job"]:
                break
    finally:
        helper.join(timeout=90)
    resumed = seen[mark:]
    assert stream.reconnects >= 1 and client.base_url == second.client.base_url
    assert [e.type for e in resumed if e.data.get("job_id") == after["job"]][-1] == \
        "job.succeeded"
    numbered = [e.id for e in resumed if e.id is not None]
    lost = [e for e in resumed if e.type == "stream.lost"]
    # Either the daemon numbers on from where it was (nothing to say), or its numbering
    # started again, and the caller is told events may be missing: never silence.
    assert min(numbered) > last_before or (lost and lost[0] is resumed[0]
                                           and lost[0].data["lost"] is None
                                           and "anew" in lost[0].data["reason"])
    stream.close()
    client.close()
    second.kill()
    # A stream that never connected does not wait for a daemon that is not there.
    with Client.from_home(home) as gone, pytest.raises(DaemonNotRunning):
        next(gone.events(timeout=30))


def test_a_place_the_daemon_cannot_resume_from_is_told_not_skipped(
        shared_daemon: DaemonProcess) -> None:
    """Resuming from an event id the daemon never gave out (a place saved before the
    daemon started numbering anew): the first thing the caller gets is `stream.lost`."""
    client = shared_daemon.client
    assert client is not None
    stream = client.events(types=["job"], after=10**12, timeout=60)
    submitted: dict[str, int] = {}

    def submit_once_connected() -> None:
        wait_until(lambda: stream.connected, what="the stream to connect")
        assert client is not None
        submitted["job"] = client.submit_job("selfcheck").id

    helper = threading.Thread(target=submit_once_connected)
    helper.start()
    try:
        seen: list[EventOut] = []
        for event in stream:
            seen.append(event)
            if event.type == "job.succeeded" and event.data.get("job_id") == submitted["job"]:
                break
    finally:
        helper.join(timeout=60)
    stream.close()
    assert seen[0].type == "stream.lost" and seen[0].id is None
    assert [e.data["job_id"] for e in seen[1:] if e.id is not None][-1] == submitted["job"]
