"""What the crash suite checks after each restart, all through the API (and the files the
daemon moves): the daemon settles; every dropped file is in exactly one place; production
serves; what the kill cut off ran again; nothing committed went missing from the audit log,
the event history or the prediction log."""

from __future__ import annotations

import hashlib
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from mlopsd.client import Client
from mlopsd.client.pages import all_items
from tests.crash_drops import DATASET, MODEL, Drop

FINAL_PIPELINE_STATES = {"deployed", "not_promoted", "rolled_back"}
"""What a retrain of the suite may end as (a lenient gate, no approval, no cancel)."""


def pending_in_inbox(inbox: Path) -> list[str]:
    """Files the watcher has still to take (hidden folders and temp names are not drops)."""
    if not inbox.is_dir():
        return []
    return sorted(p.name for p in inbox.iterdir()
                  if p.is_file() and not p.name.startswith(".") and not p.name.endswith(".part"))


def settle(client: Client, inbox: Path, timeout: float) -> float:
    """Wait until no job is queued or running, no pipeline runs and the inbox is drained,
    twice in a row (the caller keeps traffic going meanwhile: a canary needs requests).
    Returns the seconds it took."""
    started = time.monotonic()
    quiet_polls = 0
    while True:
        jobs = client.status().jobs
        busy = jobs.get("queued", 0) + jobs.get("running", 0)
        running = client.pipelines(state="running")
        pending = pending_in_inbox(inbox)
        quiet_polls = quiet_polls + 1 if not (busy or running or pending) else 0
        if quiet_polls >= 2:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise AssertionError(
                f"the daemon did not settle in {timeout} s: jobs {jobs}, pipelines running "
                f"{[(p.id, p.reason, [s['step'] for s in p.steps]) for p in running]}, "
                f"inbox {pending}")
        time.sleep(0.25)


@dataclass
class Places:
    versions: int = 0
    inbox: int = 0
    quarantine: int = 0
    ingest_outcomes: Counter = field(default_factory=Counter)
    """The ingest records (accepted, duplicate, rejected…): a kill may add a record of a
    file's second look, never a second acceptance."""

    def total(self) -> int:
        return self.versions + self.inbox + self.quarantine


def account_for_files(client: Client, home: Path, drops: list[Drop]) -> Places:
    """Each dropped file is a data version exactly once (its original in `.done/`), or still
    in the inbox, or in quarantine beside a reason, and in only one of these; no version
    comes from anything but a dropped file."""
    inbox = home / "inbox" / DATASET
    versions = list(all_items(client.list_versions, DATASET))
    by_hash = Counter(v.content_hash for v in versions)
    twice = {h: n for h, n in by_hash.items() if n > 1}
    assert not twice, f"data stored twice: {twice}"
    known = {d.sha256 for d in drops}
    strangers = [(v.version, v.source_name) for v in versions if v.content_hash not in known]
    assert not strangers, f"versions of no dropped file: {strangers}"
    quarantined = list(all_items(client.quarantine, DATASET))
    ingests = list(all_items(client.list_ingests, dataset=DATASET))
    accepted = Counter(i.content_hash for i in ingests if i.outcome == "accepted")
    assert all(n == 1 for n in accepted.values()), (
        f"files accepted twice: {[h for h, n in accepted.items() if n > 1]}")
    # Nobody but the daemon moves the suite's files: "vanished" would be a second ingest of
    # a file the first one stored, telling the user it is gone and "nothing was stored".
    vanished = [(i.source_name, i.job_id) for i in ingests if i.outcome == "vanished"]
    assert not vanished, f"ingests of dropped files recorded as vanished: {vanished}"
    places = Places(ingest_outcomes=Counter(i.outcome for i in ingests))
    for drop in drops:
        stored = by_hash[drop.sha256]
        waiting = (inbox / drop.name).exists()
        rejected = [q for q in quarantined if q.content_hash == drop.sha256
                    or (q.content_hash is None and q.source_name == drop.name)]
        where = {"versions": stored, "inbox": int(waiting), "quarantine": len(rejected)}
        assert sum(where.values()) == 1, f"{drop} is in {where} (must be in exactly one)"
        if stored:
            places.versions += 1
            done = inbox / ".done" / drop.name
            assert done.is_file(), f"{drop.name} is a version but its original is not in .done"
            assert _sha256(done) == drop.sha256, f".done/{drop.name} is not what was dropped"
        elif waiting:
            places.inbox += 1
        else:
            places.quarantine += 1
            entry = rejected[0]
            assert entry.issues, f"{drop.name} quarantined without a reason"
            assert entry.quarantine_path and Path(entry.quarantine_path).is_file()
            assert Path(entry.quarantine_path + ".reason.json").is_file(), (
                f"{drop.name} quarantined without its .reason.json")
        assert stored or not drop.good or waiting, (
            f"a good file was quarantined: {drop.name}: {rejected[0].issues}")
    return places


def production_serves(client: Client, rows: list[dict], request_id: str) -> str:
    """A real prediction over HTTP from the version the production alias names."""
    production = client.get_model(MODEL).aliases.get("production")
    assert production, "no production alias"
    reply = client.predict(MODEL, rows, request_id=request_id)
    assert reply.version == production, (
        f"production is {production} but {reply.version} answered")
    assert len(reply.predictions) == len(rows)
    assert all(isinstance(p, float) and math.isfinite(p) for p in reply.predictions), (
        reply.predictions)
    return production


def jobs_ran_again(client: Client) -> Counter:
    """No job queued or running, none failed; every job a kill interrupted was queued again,
    and its chain of retries ends in success. Returns the jobs queued again, per kind."""
    jobs = list(all_items(client.list_jobs))
    stuck = [(j.id, j.kind, j.state) for j in jobs if j.state in ("queued", "running")]
    assert not stuck, f"jobs left unfinished after settling: {stuck}"
    retry_of = {j.retry_of: j for j in jobs if j.retry_of is not None}
    twice = Counter(j.retry_of for j in jobs if j.retry_of is not None)
    assert all(n == 1 for n in twice.values()), f"a job queued again twice: {twice}"
    for job in jobs:
        if job.state != "interrupted":
            continue
        if job.id not in retry_of:
            assert not job.idempotent, f"interrupted job {job.id} ({job.kind}) never ran again"
            continue
        last = retry_of[job.id]
        while last.id in retry_of:
            last = retry_of[last.id]
        assert last.state == "succeeded", (
            f"job {job.id} ({job.kind}) ran again as job {last.id}, which {last.state}: "
            f"{last.error}")
    failed = [(j.id, j.kind, j.actor, j.error) for j in jobs if j.state == "failed"]
    assert not failed, f"jobs failed: {failed}"
    return Counter(j.kind for j in retry_of.values())


def pipelines_ended(client: Client, resumed: set[int]) -> Counter:
    """Every pipeline has ended as a retrain of this policy may end, those taken up after a
    restart included. Returns the count per final state."""
    pipelines = list(all_items(client.pipelines, model=MODEL))
    states = Counter(p.state for p in pipelines)
    odd = [(p.id, p.state, p.reason) for p in pipelines if p.state not in FINAL_PIPELINE_STATES]
    assert not odd, f"pipelines that did not end as they should: {odd}"
    assert resumed <= {p.id for p in pipelines}
    return states


@dataclass
class History:
    """What was read before, to find it again after the next kill: audit entries and events
    by id (what they say, when), and every prediction request id sent."""

    audit: dict[int, tuple[str, str]] = field(default_factory=dict)
    events: dict[int, tuple[str, str | None]] = field(default_factory=dict)
    request_ids: set[str] = field(default_factory=set)


def history_kept(client: Client, history: History) -> tuple[int, int, int]:
    """Audit ids and event ids run 1..newest without a hole, everything read before a kill
    is still there unchanged, each event's audit entry exists; the prediction log holds no
    row twice and only requests that were sent. Returns (audit entries, events, logged
    prediction rows). Telemetry leaves the outbox after an hour (holes a reader is not told
    of): a run of the suite is shorter, so every id is still there."""
    entries = list(all_items(client.audit))
    ids = [e.id for e in entries]
    assert ids == sorted(ids, reverse=True), "the audit log is not newest first"
    assert ids == list(range(len(ids), 0, -1)), (
        f"audit ids have holes: missing {sorted(set(range(1, max(ids) + 1)) - set(ids))}")
    now = {e.id: (e.action, e.at.isoformat()) for e in entries}
    changed = {i: (was, now.get(i)) for i, was in history.audit.items() if now.get(i) != was}
    assert not changed, f"audit entries lost or changed across the kill: {changed}"
    history.audit = now

    newest = client.status().last_event_id
    events: dict[int, tuple[str, str | None]] = {}
    audit_ids: dict[int, int] = {}
    stream = client.events(after=0, timeout=10.0)
    try:
        for event in stream:
            assert event.id is not None, f"the event history lost events: {event.data}"
            events[event.id] = (event.type, event.at)
            if event.audit_id is not None:
                audit_ids[event.id] = event.audit_id
            if event.id >= newest:
                break
    finally:
        stream.close()
    assert list(events) == list(range(1, newest + 1)), (
        f"event ids have holes: missing {sorted(set(range(1, newest + 1)) - set(events))}")
    changed_events = {i: (was, events.get(i)) for i, was in history.events.items()
                      if events.get(i) != was}
    assert not changed_events, f"events lost or changed across the kill: {changed_events}"
    orphans = {e: a for e, a in audit_ids.items() if a not in now}
    assert not orphans, f"events naming audit entries that are not there: {orphans}"
    history.events = events

    logged = list(all_items(client.predictions, model=MODEL, page_size=10_000))
    rows = Counter((p.request_id, p.row_index) for p in logged)
    twice = [key for key, n in rows.items() if n > 1]
    assert not twice, f"predictions logged twice: {twice[:5]}"
    unknown = {p.request_id for p in logged} - history.request_ids
    assert not unknown, f"predictions logged that were never asked for: {sorted(unknown)[:5]}"
    return len(entries), len(events), len(logged)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
