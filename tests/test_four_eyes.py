"""Four eyes (issue 14, part 3): with `approval = "required"` and `separate_approver = true`,
the token that trained a version may not move it to production, and the token that started a
pipeline may not approve it; another approver's token may. On a real daemon, with real
training."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from mlopsd.client import Client
from mlopsd.client.errors import ApiError
from mlopsd.config import RetrainConfig
from mlopsd.services import four_eyes
from mlopsd.services.errors import ServiceError
from tests.daemon_process import DaemonProcess, run_mlops
from tests.retraining_home import BASE, ended, lenient
from tests.test_drift_daemon import _drop
from tests.test_ingest_daemon import EXAMPLE

POLICY = lenient(deploy="direct", watch="0s", approval="required").replace(
    'approval = "required"\n', 'approval = "required"\nseparate_approver = true\n')


def _approver(d: DaemonProcess, name: str) -> Client:
    made = run_mlops(d.home.root, "tokens", "create", name, "--role", "approver")
    assert made.returncode == 0, made.stderr
    assert d.client is not None
    return Client(d.client.base_url, token=made.stdout.splitlines()[1].strip(), actor="test")


def test_the_trainer_and_the_starter_may_not_approve_their_own(home: Path) -> None:
    frame = pl.read_csv(EXAMPLE)
    d = DaemonProcess(home, config=BASE + POLICY).start()
    alice, bob = _approver(d, "alice"), _approver(d, "bob")
    try:
        _drop(d, frame.sample(fraction=0.4, seed=1), "reference.csv", 1)
        job = alice.wait_job(alice.train("riders").id, timeout=300)
        assert job.state == "succeeded", job.error
        version = job.result["version"]
        with pytest.raises(ApiError) as refused:
            alice.promote("riders", version)
        assert refused.value.status == 403
        assert "four eyes: token 'alice' started the training of riders:" in \
            refused.value.message
        bob.promote("riders", version, reason="checked by a second person")
        assert bob.get_model("riders").aliases["production"] == version

        _drop(d, frame.sample(fraction=0.4, seed=2), "second.csv", 2)
        started = alice.retrain("riders", reason="new data").pipeline
        pending = ended(alice, started.id)
        assert pending.state == "awaiting_approval", pending.reason
        with pytest.raises(ApiError) as refused:
            alice.decide(started.id, True, note="mine is fine")
        assert refused.value.status == 403
        assert f"token 'alice' started pipeline {started.id}" in refused.value.message
        assert alice.pipeline(started.id).state == "awaiting_approval"
        with pytest.raises(ApiError) as refused:  # nor can she move its version herself
            alice.promote("riders", pending.challenger)
        assert refused.value.status == 403
        bob.decide(started.id, True, note="looks right")
        done = ended(bob, started.id)
        assert done.state == "deployed", done.reason
        assert bob.get_model("riders").aliases["production"] == done.challenger
    finally:
        alice.close()
        bob.close()
        d.kill()


@pytest.mark.parametrize(("approval", "separate", "starter", "approver", "refused"), [
    ("required", True, "cli:x@alice", "test@alice", True),
    ("required", True, "cli:x@alice", "test@bob", False),
    ("required", True, "alert:7", "test@alice", False),  # the daemon's own start
    ("required", False, "cli:x@alice", "test@alice", False),
    ("auto", True, "cli:x@alice", "test@alice", False),
])
def test_when_four_eyes_apply(approval: str, separate: bool, starter: str, approver: str,
                              refused: bool) -> None:
    policy = RetrainConfig(approval=approval, separate_approver=separate)
    if refused:
        with pytest.raises(ServiceError) as err:
            four_eyes.check(policy, starter=starter, approver=approver, what="pipeline 1")
        assert err.value.status == 403
    else:
        four_eyes.check(policy, starter=starter, approver=approver, what="pipeline 1")
