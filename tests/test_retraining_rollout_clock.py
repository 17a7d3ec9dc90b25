"""A pipeline's rollout decided on a clock the test moves: a canary promoted once its span
has passed (not before), one given up when it cannot gather its requests in four times its
span, the watch window ending clear, and a rollback judged on the watch's window so far.
The pipeline runs on a real store (a temp DuckDB file); serving and deploys are stand-ins
that record what the pipeline asks of them."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from mlopsd.retraining.pipeline import STEPS, PipelineRun
from store import alerts as alert_repo
from store import pipelines as pipeline_repo
from store.db import Store
from tests.test_retraining_clock import Retraining, make
from tests.test_retraining_clock import stores as stores

CHAMPION, CHALLENGER = "1.0.0", "1.1.0"


class Served:
    """What serves `riders`: production and, during a trial, a canary."""

    def __init__(self) -> None:
        self.live = SimpleNamespace(version=CHALLENGER, key=f"riders:{CHALLENGER}")
        self.canary: Any = None
        self.shadow: Any = None

    def slot(self, model: str) -> Any:
        return self


class Stats:
    """Requests and failures of the live version over the window the watch asks about."""

    def __init__(self) -> None:
        self.requests, self.failed = 0, 0
        self.windows: list[float] = []

    def version(self, key: str) -> Any:
        return self

    def window(self, seconds: float) -> tuple[int, int, None]:
        self.windows.append(seconds)
        return self.requests, self.failed, None


class Deploys:
    def __init__(self, served: Served) -> None:
        self.served, self.calls = served, []

    def canary_policy(self) -> Any:
        return SimpleNamespace(min_requests=20)

    def promote(self, model: str, *, actor: str, reason: str) -> Any:
        self.calls.append(("promote", reason))
        self.served.live.version, self.served.canary = CHALLENGER, None
        return SimpleNamespace(to_version=CHALLENGER)

    def abort(self, model: str, *, actor: str, reason: str, only: Any = None,
              state: str = "ended") -> None:
        self.calls.append(("abort", reason))
        self.served.canary = None

    def move_alias(self, model: str, alias: str, version: str, **kw: Any) -> Any:
        self.calls.append(("move_alias", version, kw.get("kind")))
        self.served.live.version = version
        return SimpleNamespace(from_version=CHALLENGER, to_version=version)


def _rollout(tmp_path: Path, stores: list[Store], policy: str
             ) -> tuple[Retraining, Served, Stats, Deploys]:
    served, stats = Served(), Stats()
    deploys = Deploys(served)
    r = make(tmp_path, policy, served=served, stats=stats, deploys=deploys)
    stores.append(r.store)
    return r, served, stats, deploys


def _run_at(r: Retraining, step: str, detail: dict[str, Any], *, state: str) -> PipelineRun:
    """A pipeline whose steps before `step` are done (its policy kept in the first, as a
    started pipeline keeps it) and `step` itself in `state`, as the store holds it."""
    row = r.env.records.start(model="riders", trigger="manual", detail={}, dry_run=False,
                              actor="test")
    now = r.clock.now().isoformat()
    steps = [{"step": name, "state": "done", "started_at": now, "ended_at": now,
              "detail": {}} for name in STEPS[:STEPS.index(step)]]
    steps[0]["detail"]["policy"] = dataclasses.asdict(r.config.models()["riders"].retrain)
    steps.append({"step": step, "state": state, "started_at": now,
                  "ended_at": now if state == "done" else None, "detail": detail})
    r.env.records.save(row.id, "riders", state="running", steps=steps, challenger=CHALLENGER,
                       champion=CHAMPION, reason=None)
    return PipelineRun(pipeline_repo.get(r.store, row.id), r.env)


def _canary(r: Retraining, served: Served, requests: int) -> PipelineRun:
    served.live.version = CHAMPION
    served.canary = SimpleNamespace(deployment_id=7, candidate=SimpleNamespace(
        requests=requests), verdict=lambda: None, summary=lambda: {"candidate": {}})
    return _run_at(r, "deploy", {
        "strategy": "canary", "policy": "canary 50% for 10m", "percent": 50.0,
        "for_requests": None, "for_s": 600.0, "deployment_id": 7,
        "started": r.clock.now().timestamp(), "from_version": CHAMPION}, state="running")


def _step(run: PipelineRun, name: str) -> dict[str, Any]:
    found = run.step(name)
    assert found is not None
    return found


@pytest.mark.parametrize("watch", ["0s", "10m"])
def test_a_canary_is_promoted_when_its_span_has_passed_not_before(
        tmp_path: Path, stores: list[Store], watch: str) -> None:
    r, served, _, deploys = _rollout(
        tmp_path, stores, f'deploy = "canary 50% for 10m"\nwatch = "{watch}"\n')
    run = _canary(r, served, requests=500)
    r.clock.advance(599)
    assert run.advance() is False and deploys.calls == [], "enough requests, not enough time"
    r.clock.advance(1)
    ended = run.advance()
    assert [c[0] for c in deploys.calls] == ["promote"]
    deploy = _step(run, "deploy")
    assert deploy["state"] == "done" and deploy["detail"]["seconds"] == 600.0
    assert deploy["detail"]["requests"] == 500
    if watch == "0s":
        assert ended and run.state == "deployed"
        assert _step(run, "watch")["state"] == "skipped"
    else:  # the watch starts where the deploy ended, on the same clock
        assert not ended and _step(run, "watch")["state"] == "running"
        assert _step(run, "deploy")["ended_at"] == r.clock.now().isoformat()


def test_a_canary_short_of_requests_is_given_up_after_four_times_its_span(
        tmp_path: Path, stores: list[Store]) -> None:
    r, served, _, deploys = _rollout(tmp_path, stores,
                                     'deploy = "canary 50% for 10m"\nwatch = "0s"\n')
    run = _canary(r, served, requests=5)
    r.clock.advance(600)
    assert run.advance() is False, "its span has passed, but 5 of 20 requests"
    r.clock.advance(1800)
    assert run.advance() is False and deploys.calls == [], "patience: 4 x 600 s"
    r.clock.advance(1)
    assert run.advance() is True
    assert [c[0] for c in deploys.calls] == ["abort"]
    row = pipeline_repo.get(r.store, run.id)
    assert row.state == "failed" and "saw 5 of the 20 requests it needs in 2401 s" in row.reason
    assert f"production stays {CHAMPION}" in row.reason
    assert served.live.version == CHAMPION


def test_the_watch_ends_clear_when_its_window_has_passed(tmp_path: Path,
                                                        stores: list[Store]) -> None:
    r, _, stats, deploys = _rollout(tmp_path, stores, 'watch = "10m"\n')
    run = _run_at(r, "deploy", {"strategy": "direct", "from_version": CHAMPION}, state="done")
    assert run.advance() is False
    watch = _step(run, "watch")
    assert watch["state"] == "running" and watch["detail"]["checks"] == 1
    assert run.advance() is False and watch["detail"]["checks"] == 1, \
        "looked again only once the clock has moved on"
    r.clock.advance(1)
    run.advance()
    assert watch["detail"]["checks"] == 2
    r.clock.advance(598)
    assert run.advance() is False
    r.clock.advance(1)
    assert run.advance() is True
    row = pipeline_repo.get(r.store, run.id)
    assert row.state == "deployed" and deploys.calls == []
    watched = {s["step"]: s for s in row.steps}["watch"]
    assert watched["state"] == "done"
    assert watched["detail"]["result"] == "clear for 600 s (4 checks)"
    assert stats.windows == [1.0, 1.0, 599.0, 600.0], "the window so far, up to the span"


def test_an_error_rate_rise_late_in_the_watch_rolls_back(tmp_path: Path,
                                                         stores: list[Store]) -> None:
    r, served, stats, deploys = _rollout(tmp_path, stores, 'watch = "30m"\n')
    run = _run_at(r, "deploy", {"strategy": "direct", "from_version": CHAMPION}, state="done")
    assert run.advance() is False
    r.clock.advance(20 * 60)
    stats.requests, stats.failed = 40, 10
    assert run.advance() is True
    assert stats.windows[-1] == 1200.0, "judged over the 20 minutes since the deploy"
    assert deploys.calls == [("move_alias", CHAMPION, "rollback")]
    assert served.live.version == CHAMPION
    row = pipeline_repo.get(r.store, run.id)
    assert row.state == "rolled_back" and "error rate 25.0% over 40 requests" in row.reason
    alerts = alert_repo.list_alerts(r.store, rule="auto_rollback")
    assert [a.subject for a in alerts] == ["model:riders"]


def test_the_watch_of_a_version_someone_replaced_ends_superseded(
        tmp_path: Path, stores: list[Store]) -> None:
    r, served, _, deploys = _rollout(tmp_path, stores, 'watch = "30m"\n')
    run = _run_at(r, "deploy", {"strategy": "direct", "from_version": CHAMPION}, state="done")
    assert run.advance() is False
    served.live.version = "1.2.0"  # a person promoted another version
    assert run.advance() is False, "the next look is a second away"
    r.clock.advance(1)
    assert run.advance() is True
    row = pipeline_repo.get(r.store, run.id)
    assert row.state == "superseded" and "production moved to 1.2.0" in row.reason
    assert deploys.calls == []
