"""Retraining's rollouts on a real daemon: a shadow promoted after its requests, a watch
window that rolls back on an error-rate rise, a canary rolled back by its labels, and a
canary cut by a kill started again after the restart. The pipelines up to the gate:
test_retraining.py."""

from __future__ import annotations

import time
from pathlib import Path

import polars as pl
import pytest

from tests.daemon_process import wait_until
from tests.retraining_home import (
    ended,
    example_frame,
    lenient_daemon,
    request_rows,
    serve_until_ended,
    steps_of,
    wait_for_canary,
)


@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    return example_frame()


def test_a_shadow_deploy_is_promoted_after_its_requests(home: Path,
                                                        frame: pl.DataFrame) -> None:
    lenient = lenient_daemon(home, frame, deploy="shadow for 30 requests", watch="0s")
    with lenient as (_, client, champion):
        pipeline = client.retrain("riders").pipeline
        rows = request_rows(frame.head(3))
        deadline = time.monotonic() + 120
        while client.pipeline(pipeline.id).state == "running" and time.monotonic() < deadline:
            reply = client.predict("riders", rows)
            assert reply.version in (champion, client.pipeline(pipeline.id).challenger)
        done = ended(client, pipeline.id)
        assert done.state == "deployed", done.reason
        deploy = steps_of(done)["deploy"]["detail"]
        assert deploy["strategy"] == "shadow" and deploy["requests"] >= 30
        assert deploy["trial"]["compared"] >= 30 and deploy["trial"]["errors"] == 0
        assert deploy["trial"]["compared_rows"] == 3 * deploy["trial"]["compared"]
        assert client.get_model("riders").aliases["production"] == done.challenger


def test_an_error_rate_rise_in_the_watch_rolls_back(home: Path, frame: pl.DataFrame) -> None:
    lenient = lenient_daemon(home, frame, deploy="direct", watch="90s")
    with lenient as (_, client, champion):
        pipeline = client.retrain("riders").pipeline
        wait_until(lambda: steps_of(client.pipeline(pipeline.id)).get("watch"), timeout=180,
                   what="the watch window")
        # The new version starts failing (a drill): the previous one answers meanwhile.
        client.drill("riders", failure_rate=1.0, requests=30, reason="test")
        rows = request_rows(frame.head(1))
        answered = {client.predict("riders", rows).version for _ in range(30)}
        assert answered == {champion}, "the fallback answered every failed request"
        done = ended(client, pipeline.id, timeout=60)
        assert done.state == "rolled_back", done.reason
        assert "error rate 100.0%" in done.reason
        assert client.get_model("riders").aliases["production"] == champion


def test_a_canary_whose_labels_show_a_drop_is_rolled_back(home: Path,
                                                          frame: pl.DataFrame) -> None:
    lenient = lenient_daemon(home, frame, deploy="canary 50% for 1000 requests", watch="0s")
    with lenient as (_, client, champion):
        pipeline = client.retrain("riders").pipeline
        wait_for_canary(client, pipeline.id)
        challenger = client.pipeline(pipeline.id).challenger
        sample = frame.sample(n=120, seed=5)
        on_canary = []
        for i, row in enumerate(request_rows(sample)):
            reply = client.predict("riders", [row], request_id=f"c-{i}")
            if reply.version == challenger:
                on_canary.append((f"c-{i}", sample["bikers"][i]))
        assert len(on_canary) >= 30
        # The truth is three times what the canary said: labels condemn it.
        client.feedback("riders", [{"request_id": rid, "label": y * 3}
                                   for rid, y in on_canary])
        done = ended(client, pipeline.id, timeout=60)
        assert done.state == "rolled_back", done.reason
        assert "canary" in done.reason and "labelled rows" in done.reason
        assert client.get_model("riders").aliases["production"] == champion
        deployment = client.deployments("riders")[0]
        assert deployment.strategy == "canary" and deployment.state == "rolled-back"


def test_a_canary_cut_by_a_kill_starts_again_after_the_restart(home: Path,
                                                              frame: pl.DataFrame) -> None:
    lenient = lenient_daemon(home, frame, deploy="canary 50% for 20 requests", watch="0s")
    with lenient as (d, client, _):
        pipeline = client.retrain("riders").pipeline
        wait_for_canary(client, pipeline.id)
        d.kill()
        d.start()
        client = d.client
        assert client is not None
        serve_until_ended(client, pipeline.id, request_rows(frame.head(2)))
        done = ended(client, pipeline.id)
        assert done.state == "deployed", done.reason
        deploy = steps_of(done)["deploy"]["detail"]
        assert len(deploy["restarted"]) == 1 and deploy["requests"] >= 20
        states = [x.state for x in client.deployments("riders") if x.strategy == "canary"]
        assert states == ["promoted", "ended"], "the cut canary ended, the second promoted"
        assert client.get_model("riders").aliases["production"] == done.challenger
