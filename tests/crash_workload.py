"""What the daemon is doing when the crash suite kills it: one plan per cycle (ingest,
train, promote and roll back, a retraining pipeline's training, its canary), each with
prediction traffic beside it. A plan sets `reached` when the work it is about is under way;
the suite then kills the daemon a random moment later."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from mlopsd.client import Client
from tests.crash_drops import DATASET, MODEL, DropBox

POLL_S = 0.05
PACE_S = 0.03
"""Between two predictions: about 25 a second, so a canary of 40 requests at 50% lasts a
few seconds (long enough to be killed in) and the prediction log stays small to read."""


@dataclass
class Traffic:
    """Predictions with request ids of their own, from a thread, until stopped (or the
    daemon is gone: then each call fails and the loop goes on until told to stop)."""

    client: Client
    rows: list[dict]
    prefix: str
    sent: list[str] = field(default_factory=list)
    """Every request id sent, answered or not: the prediction log may hold only these."""
    answered: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Traffic:
        self._thread = threading.Thread(target=self._run, name="crash-traffic", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            request_id = f"{self.prefix}-{len(self.sent)}"
            self.sent.append(request_id)
            try:
                self.client.predict(MODEL, self.rows, request_id=request_id)
                self.answered += 1
            except Exception:  # refused or the daemon killed: both expected
                time.sleep(POLL_S)
            time.sleep(PACE_S)


@dataclass
class Cycle:
    """One cycle's work, run in a thread of its own against the daemon about to be killed."""

    client: Client
    drops: DropBox
    rng: random.Random
    """This cycle's own: the workload thread draws from it alone, so a seed replays it."""
    number: int
    reached: threading.Event = field(default_factory=threading.Event)
    note: str = ""
    """What the plan got to (for the failure message and the log)."""
    under_way: bool = False
    """The plan's moment came (a job running, a canary on…) before `reached` was set."""

    def wait_for(self, predicate: Callable[[], object], timeout: float) -> object:
        """The predicate's first true value, or None (timed out, or the daemon is gone)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if found := predicate():
                    return found
            except Exception:  # the daemon may be gone already
                return None
            time.sleep(POLL_S)
        return None

    def drop_some(self, good_share: float = 0.75) -> None:
        for _ in range(self.rng.randint(1, 3)):
            self.drops.drop(self.rng, self.number, good=self.rng.random() < good_share)
            time.sleep(self.rng.uniform(0.0, 0.2))


def plan_ingest(cycle: Cycle) -> None:
    cycle.drops.drop(cycle.rng, cycle.number, good=True)
    cycle.under_way = True
    cycle.reached.set()
    cycle.note = "ingesting"
    cycle.drop_some()


def plan_train(cycle: Cycle) -> None:
    job = cycle.client.train(MODEL, reason="crash suite")
    cycle.note = f"train job {job.id} queued"
    # (a quick one may be done before it is seen running: then the kill comes after it)
    state = cycle.wait_for(lambda: (s := cycle.client.get_job(job.id).state) != "queued" and s,
                           60)
    if state == "running":
        cycle.note, cycle.under_way = f"train job {job.id} running", True
    elif state:
        cycle.note = f"train job {job.id} {state}"
    cycle.reached.set()


def plan_promote_and_roll_back(cycle: Cycle) -> None:
    """Alias moves back and forth: each is one transaction that a kill finds done or not."""
    versions = [v.version for v in cycle.client.model_versions(MODEL, limit=1000)
                if not v.archived]
    cycle.under_way = True
    cycle.reached.set()
    moves = 0
    while True:
        try:
            if cycle.rng.random() < 0.5:
                cycle.client.promote(MODEL, cycle.rng.choice(versions), reason="crash suite")
            else:
                cycle.client.rollback(MODEL, reason="crash suite")
            moves += 1
        except Exception:  # refused (nothing to roll back to) or killed
            if not _alive(cycle.client):
                break
        cycle.note = f"{moves} alias moves"
        time.sleep(cycle.rng.uniform(0.0, 0.1))


def plan_pipeline_training(cycle: Cycle) -> None:
    pipeline = _retrain(cycle)
    if pipeline is None:
        return
    actor = f"pipeline:{pipeline}"

    def training_or_ended() -> str | None:
        if [j for j in cycle.client.list_jobs(kind="train", state="running")
                if j.actor == actor]:
            return "training"
        return _ended(cycle.client, pipeline)

    if cycle.wait_for(training_or_ended, 60) == "training":
        cycle.note, cycle.under_way = f"pipeline {pipeline} training", True
    cycle.reached.set()


def plan_canary(cycle: Cycle) -> None:
    pipeline = _retrain(cycle)
    if pipeline is None:
        return

    def canary_or_ended() -> str | None:
        steps = {s["step"]: s for s in cycle.client.pipeline(pipeline).steps}
        if "deployment_id" in ((steps.get("deploy") or {}).get("detail") or {}):
            return "canary"
        return _ended(cycle.client, pipeline)

    if cycle.wait_for(canary_or_ended, 90) == "canary":
        cycle.note, cycle.under_way = f"pipeline {pipeline} in its canary", True
    cycle.reached.set()


def _retrain(cycle: Cycle) -> int | None:
    """A retrain on a new version: on the same data it would train the very model in
    production again (training is deterministic) and end at once, with no canary."""
    known = len(cycle.client.list_versions(DATASET, limit=10_000))
    cycle.drops.drop(cycle.rng, cycle.number, good=True)
    cycle.wait_for(lambda: len(cycle.client.list_versions(DATASET, limit=10_000)) > known, 60)
    reply = cycle.client.retrain(MODEL, reason="crash suite")
    if reply.pipeline is None:
        cycle.note = f"retrain skipped: {reply.skipped}"
        cycle.reached.set()
        return None
    cycle.note = f"pipeline {reply.pipeline.id} started"
    return reply.pipeline.id


def _ended(client: Client, pipeline: int) -> str | None:
    state = client.pipeline(pipeline).state
    return None if state == "running" else f"ended {state}"


def _alive(client: Client) -> bool:
    try:
        client.health()
    except Exception:
        return False
    return True


PLANS: dict[str, Callable[[Cycle], None]] = {
    "ingest": plan_ingest,
    "train": plan_train,
    "promote-rollback": plan_promote_and_roll_back,
    "pipeline-training": plan_pipeline_training,
    "canary": plan_canary,
}
KILL_WITHIN_S = {"ingest": 1.0, "train": 0.8, "promote-rollback": 1.0,
                 "pipeline-training": 0.6, "canary": 1.5}
"""How long after the plan's moment the kill may come (uniform from 0)."""


def run_plan(cycle: Cycle, plan: str) -> threading.Thread:
    def work() -> None:
        try:
            PLANS[plan](cycle)
        except Exception as exc:  # the kill cuts calls off: expected
            cycle.note += f" (then {type(exc).__name__})"
        finally:
            cycle.reached.set()

    thread = threading.Thread(target=work, name=f"crash-{plan}", daemon=True)
    thread.start()
    return thread
