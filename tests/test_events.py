"""The event stream as clients meet it: every event the code can publish is catalogued, the
daemon serves the catalogue as a JSON schema, a client resuming with `Last-Event-ID` after a
kill -9 and a restart gets exactly the events it missed, and one asking for ids no longer
kept is told how many it missed (`stream.lost`)."""

from __future__ import annotations

import ast
from pathlib import Path

import httpx
import jsonschema_rs
import pytest

from mlopsd.client.events import CATALOGUE, Event, json_schema
from tests.daemon_process import DaemonProcess, wait_until
from tests.sse import Frame, read_events, saw

ROOT = Path(__file__).resolve().parents[1]


def _calls(folder: str, method: str) -> list[tuple[str, ast.Call]]:
    found = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr == method:
                found.append((f"{path.relative_to(ROOT)}:{node.lineno}", node))
    return found


def test_every_publish_in_the_daemon_names_a_catalogued_payload() -> None:
    classes = {cls.__name__: name for name, cls in CATALOGUE.items()}
    calls = [(where, call) for where, call in _calls("mlopsd", "publish")
             if not where.startswith("mlopsd/client/")]
    assert len(calls) > 40, "the walk finds the call sites"
    wrong = []
    for where, call in calls:
        arg = call.args[0] if call.args else None
        if isinstance(arg, ast.Call) and isinstance(arg.func, ast.Name) \
                and arg.func.id in classes:
            continue
        # Built from a table of catalogued classes (`ENDED[state](...)`) or relayed from a
        # worker after `payload_of` checked it against the catalogue.
        if isinstance(arg, ast.Call) and isinstance(arg.func, ast.Subscript):
            continue
        if isinstance(arg, ast.Name) and arg.id in ("payload", "event"):
            continue
        wrong.append(f"{where}: {ast.unparse(call)[:80]}")
    assert not wrong, "publish() takes a catalogued payload:\n" + "\n".join(wrong)


def test_every_event_a_worker_sends_is_catalogued_with_its_fields() -> None:
    calls = _calls("jobs", "emit")
    assert calls, "the walk finds the workers' events"
    for where, call in calls:
        name = call.args[0].value  # type: ignore[attr-defined]
        assert name in CATALOGUE, f"{where}: {name!r} is not catalogued"
        fields = set(CATALOGUE[name].model_fields)
        sent = {k.arg for k in call.keywords if k.arg is not None}
        assert sent <= fields, f"{where}: {sorted(sent - fields)} not in {name}'s payload"


def test_the_daemon_serves_the_catalogue_as_a_json_schema(daemon: DaemonProcess) -> None:
    assert daemon.client is not None
    base = daemon.client.base_url
    served = httpx.get(f"{base}/api/v1/events/schema").json()
    assert served == json_schema()
    assert set(served["x-events"]) == set(CATALOGUE)
    for name in ("alert.opened", "model.alias_moved", "train.iteration", "serving.stats",
                 "pipeline.step", "stream.lost"):
        assert name in served["x-events"]
    openapi = httpx.get(f"{base}/openapi.json").json()
    assert "/api/v1/events/schema" in openapi["paths"]
    frames = read_events(base, after=0, until=saw("daemon.started"))
    validator = jsonschema_rs.validator_for(served)
    assert all(validator.is_valid(f.data) for f in frames)
    assert not validator.is_valid({**frames[0].data, "type": "daemon.exploded"})


def _selfcheck(d: DaemonProcess, seconds: float = 0.0) -> int:
    assert d.client is not None
    return d.client.submit_job("selfcheck", {"seconds": seconds}).id


def test_a_client_resuming_after_a_kill_gets_exactly_what_it_missed(
        daemon: DaemonProcess) -> None:
    assert daemon.client is not None
    first = _selfcheck(daemon)
    seen = read_events(daemon.client.base_url, after=0,
                       until=saw("job.succeeded", job_id=first))
    last = seen[-1].id
    assert last is not None
    # Missed by the client: a job that runs, one queued behind it, then a kill -9.
    running, queued = _selfcheck(daemon, 60), _selfcheck(daemon, 60)
    # A job is `running` once claimed; its worker (and job.started, with its pid) a moment
    # later: kill after that, so the started event is part of what the client missed.
    wait_until(lambda: daemon.client.get_job(running).worker_pid, what="the worker started")
    old_pid = daemon.pid
    daemon.kill()
    daemon.start()
    resumed = read_events(daemon.client.base_url, last_event_id=last,
                          until=saw("daemon.started", pid=daemon.pid), timeout=60)
    # What the daemon keeps, read whole: the client must have got exactly its tail.
    kept = read_events(daemon.client.base_url, after=0, until=lambda f: f[-1].id == resumed[-1].id)
    assert [f.id for f in kept] == list(range(1, len(kept) + 1)), "ids never restart"
    tail = [f for f in kept if f.id is not None and f.id > last]
    assert resumed == tail, "every event after its id, once, in order"
    events = [Event.model_validate(f.data) for f in resumed]
    assert all(f.id == e.id and f.event == e.type for f, e in zip(resumed, events, strict=True))
    by = [(e.type, e.data.get("job_id"), e.data.get("pid")) for e in events]
    assert ("job.queued", running, None) in by and ("job.queued", queued, None) in by
    assert any(t == "job.started" and job == running for t, job, _ in by)
    assert ("job.interrupted", running, None) in by, "written at the restart"
    assert ("daemon.started", None, daemon.pid) in by and old_pid != daemon.pid
    retry = next(e for e in events if e.type == "job.queued" and e.data["retry_of"] == running)
    assert retry.data["actor"] == "mlopsd:recovery"


@pytest.fixture
def small(home: Path):
    d = DaemonProcess(home, config="[daemon]\nevents_keep = 3\n").start()
    yield d
    d.kill()


def test_a_client_asking_for_ids_no_longer_kept_is_told_how_many_it_missed(
        small: DaemonProcess) -> None:
    assert small.client is not None
    for _ in range(2):
        small.client.wait_job(_selfcheck(small), timeout=60)
    small.stop()
    small.start()  # the outbox is pruned at start (and every minute)
    frames = read_events(small.client.base_url, last_event_id=1,
                         until=saw("daemon.started", pid=small.pid), timeout=60)
    lost: Frame = frames[0]
    assert lost.event == "stream.lost" and lost.id is None and "id" not in lost.data
    rest = frames[1:]
    oldest = rest[0].id
    assert oldest is not None and oldest > 2
    assert lost.data["data"] == {"missed": oldest - 2, "reason": "expired",
                                 "oldest_kept_id": oldest, "resume_after": oldest - 1}
    # The newest three of the last run were kept, then this start's own.
    assert [f.id for f in rest] == list(range(oldest, oldest + 4))
    assert [f.event for f in rest[2:]] == ["daemon.stopped", "daemon.started"]
