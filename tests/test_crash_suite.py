"""The crash suite: kill -9 of a real daemon at random moments while it ingests dropped
files, trains, registers, promotes, rolls back, runs a retraining pipeline's canary and logs
predictions; after each restart, nothing is lost, nothing is stored twice, production
serves, what was cut off ran again and the history has no hole (see tests/crash_checks.py).

The moments are seeded and the seed is printed: `MLOPS_CRASH_SEED=N` replays a run (the
same plans, kill delays and files; the daemon's own timing still varies), and
`MLOPS_CRASH_CYCLES=N` changes the number of cycles. The default run has 5 cycles; the long
one (`scripts/test -m slow`) has 50."""

from __future__ import annotations

import os
import random
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mlopsd.client import Client
from store.db import open_store
from tests.crash_checks import (
    History,
    Places,
    account_for_files,
    history_kept,
    jobs_ran_again,
    pending_in_inbox,
    pipelines_ended,
    production_serves,
    settle,
)
from tests.crash_drops import CONFIG, MODEL, DropBox, example_frame, request_rows
from tests.crash_workload import KILL_WITHIN_S, PLANS, Cycle, Traffic, run_plan
from tests.daemon_process import DaemonProcess, pid_alive, wait_until

SETTLE_TIMEOUT_S = 180.0
DROP_WHILE_DOWN = 0.3
"""The share of cycles in which a file arrives while the daemon is down."""


@dataclass
class Tally:
    seed: int
    cycles: int = 0
    plans: Counter = field(default_factory=Counter)
    reached: int = 0
    """Cycles whose kill came after the plan's work was under way (not before it began)."""
    requeued_jobs: Counter = field(default_factory=Counter)
    resumed_pipelines: set[int] = field(default_factory=set)
    places: Places = field(default_factory=Places)
    dropped: int = 0
    pipeline_states: Counter = field(default_factory=Counter)
    history: tuple[int, int, int] = (0, 0, 0)
    seconds: float = 0.0

    def line(self) -> str:
        p = self.places
        audit, events, logged = self.history
        return (f"crash suite: {self.cycles} cycles ({dict(self.plans)}; {self.reached} "
                f"killed mid-work), files dropped {self.dropped} = accounted for "
                f"{p.total()} (versions {p.versions} / inbox {p.inbox} / quarantine "
                f"{p.quarantine}; ingest records {dict(p.ingest_outcomes)}), recoveries: "
                f"{self.requeued_jobs.total()} requeued jobs {dict(self.requeued_jobs)}, "
                f"{len(self.resumed_pipelines)} resumed pipelines (pipelines "
                f"{dict(self.pipeline_states)}), history: {audit} audit entries, {events} "
                f"events, {logged} logged predictions; failures 0; {self.seconds:.0f} s; "
                f"seed {self.seed} (MLOPS_CRASH_SEED={self.seed} replays it)")


class CrashRun:
    """One home, one daemon killed and restarted `cycles` times, checked after each start."""

    def __init__(self, home: Path, seed: int, say: Callable[[str], None]) -> None:
        self.seed, self.say = seed, say
        self.checks = 0
        self.rng = random.Random(seed)
        self.frame = example_frame()
        self.rows = request_rows(self.frame)
        self.daemon = DaemonProcess(home, config=CONFIG)
        self.drops = DropBox(home, self.frame)
        self.history = History()
        self.tally = Tally(seed)

    @property
    def client(self) -> Client:
        assert self.daemon.client is not None
        return self.daemon.client

    def set_up(self) -> None:
        """A first version, a model trained on it and promoted: what every cycle starts from
        (never killed)."""
        self.daemon.start()
        self.drops.drop(self.rng, 0)
        wait_until(lambda: self.client.list_versions("bikes"), timeout=60, what="bikes@1")
        job = self.client.wait_job(self.client.train(MODEL).id, timeout=120)
        assert job.state == "succeeded", job.error
        self.client.promote(MODEL, job.result["version"], reason="crash suite set-up")
        self.check(resumed=set())

    def cycle(self, number: int, plan: str) -> None:
        self.tally.plans[plan] += 1
        delay = self.rng.uniform(0.0, KILL_WITHIN_S[plan])
        work = Cycle(self.client, self.drops, random.Random(f"{self.seed}:{number}"), number)
        traffic = self._traffic(f"c{number}")
        thread = run_plan(work, plan)
        work.reached.wait(timeout=180)
        time.sleep(delay)
        where = f"cycle {number} ({plan}): killed {delay:.2f} s after '{work.note}'"
        self._kill()
        traffic.stop()
        thread.join(timeout=60)
        self.tally.reached += work.under_way
        if self.rng.random() < DROP_WHILE_DOWN:
            self.drops.drop(self.rng, number, good=self.rng.random() < 0.75, while_down=True)
        self.say(where)
        try:
            self.daemon.start()
            resumed = {p.id for p in self.client.pipelines(model=MODEL, state="running")}
            self.check(resumed)
        except Exception as exc:
            raise AssertionError(
                f"seed {self.seed}, {where}: {exc}\n--- daemon output (tail) ---\n"
                f"{self.daemon.output()[-6000:]}") from exc
        self.tally.cycles += 1

    def check(self, resumed: set[int]) -> None:
        self.checks += 1
        traffic = self._traffic(f"settle{self.checks}")
        try:
            settle(self.client, self.drops.inbox, SETTLE_TIMEOUT_S)
        finally:
            traffic.stop()
        self.tally.resumed_pipelines |= resumed
        self.tally.places = account_for_files(self.client, self.daemon.home.root,
                                              self.drops.drops)
        self.tally.dropped = len(self.drops.drops)
        request_id = f"check{self.checks}"
        self.history.request_ids.add(request_id)
        production_serves(self.client, self.rows, request_id)
        self.tally.requeued_jobs = jobs_ran_again(self.client)
        self.tally.pipeline_states = pipelines_ended(self.client, resumed)
        self.tally.history = history_kept(self.client, self.history)

    def finish(self) -> None:
        """A clean stop, then the store opens in this process (no daemon holds it)."""
        assert self.daemon.stop() == 0, self.daemon.output()[-3000:]
        store = open_store(self.daemon.home.db)
        try:
            with store.reading() as cur:
                versions = cur.execute("SELECT count(*) FROM data_versions").fetchone()[0]
        finally:
            store.close()
        assert versions == self.tally.places.versions
        assert not pending_in_inbox(self.drops.inbox)

    def _traffic(self, prefix: str) -> Traffic:
        traffic = Traffic(self.client, self.rows[:1], prefix)
        # The ids are known before they are sent: a kill may land after the daemon logged
        # a request and before its reply came back.
        traffic.sent = _Recording(self.history.request_ids)
        return traffic.start()

    def _kill(self) -> None:
        proc = self.daemon.proc
        assert proc is not None
        workers = [j.worker_pid for j in self._running_jobs()]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        # The workers die with the daemon: nothing runs on unrecorded into the next start.
        for pid in workers:
            wait_until(lambda p=pid: not pid_alive(p), timeout=30, what=f"worker {pid} to die")

    def _running_jobs(self) -> list:
        try:
            return [j for j in self.client.list_jobs(state="running") if j.worker_pid]
        except Exception:  # asked just before the kill; the answer may not come
            return []


class _Recording(list):
    """The traffic's list of ids sent, copied into the history as each is appended."""

    def __init__(self, into: set[str]) -> None:
        super().__init__()
        self.into = into

    def append(self, item: str) -> None:
        self.into.add(item)
        super().append(item)


def crash_cycles(tmp_path: Path, cycles: int, capsys: pytest.CaptureFixture[str]) -> Tally:
    seed = int(os.environ.get("MLOPS_CRASH_SEED") or random.SystemRandom().randrange(1_000_000))
    cycles = int(os.environ.get("MLOPS_CRASH_CYCLES") or cycles)
    started = time.monotonic()

    def say(line: str) -> None:
        with capsys.disabled():
            print(f"[crash seed {seed}, {time.monotonic() - started:5.1f} s] {line}", flush=True)

    say(f"{cycles} cycles; replay with MLOPS_CRASH_SEED={seed}")
    run = CrashRun(tmp_path / "home", seed, say)
    plans = list(PLANS)
    run.rng.shuffle(plans)
    try:
        run.set_up()
        for number in range(1, cycles + 1):
            run.cycle(number, plans[(number - 1) % len(plans)])
        run.finish()
    finally:
        run.daemon.kill()
    run.tally.seconds = time.monotonic() - started
    say(run.tally.line())
    return run.tally


def test_kill_9_at_random_moments_loses_nothing(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    tally = crash_cycles(tmp_path, 5, capsys)
    assert tally.places.total() == tally.dropped


@pytest.mark.slow
def test_kill_9_fifty_times_loses_nothing(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    tally = crash_cycles(tmp_path, 50, capsys)
    assert tally.places.total() == tally.dropped
    assert tally.cycles >= 50
    assert tally.requeued_jobs, "no kill cut a job off: the suite proved nothing"
    assert tally.resumed_pipelines, "no kill cut a pipeline off: the suite proved nothing"


