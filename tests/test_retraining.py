"""Retraining automation end to end on a real daemon: alerts, people and schedules start
pipelines; gates with a paired bootstrap CI decide; canaries, approval and the watch window
deploy or roll back. What depends on the passing of time (cooldowns, canary spans, watch
windows, schedules' times) is decided on a clock the tests move, without a daemon, in
test_retraining_clock.py and test_retraining_rollout_clock.py; here nothing waits for time
to pass (a missed schedule is made by moving its last run back while the daemon is down)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from store import pipelines as pipeline_repo
from store.db import open_store
from tests.daemon_process import DaemonProcess, run_mlops, wait_until
from tests.paging import walk
from tests.retraining_home import (
    BASE,
    ended,
    example_frame,
    in_production,
    lenient,
    lenient_daemon,
    request_rows,
    serve_until_ended,
    start_daemon,
    steps_of,
)
from tests.test_drift_daemon import _drop


@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    return example_frame()


def test_drift_retrains_a_better_challenger_through_a_canary_and_a_same_one_is_refused(
        home: Path, frame: pl.DataFrame) -> None:
    d = start_daemon(home, """\
retrain_on = ["drift", "performance_drop"]
deploy = "canary 50% for 20 requests"
watch = "1s"

[model.retrain.gates]
metric = "rmse"
bootstrap = 300
""")
    try:
        client = d.client
        assert client is not None
        reference = frame.sample(fraction=0.5, seed=1)
        champion = in_production(d, reference)
        rest = frame.join(reference, on=frame.columns, how="anti")
        # The world changed: another climate, and twice the riders for the same weather.
        drifted = rest.with_columns(
            (pl.col("temp") * 0.5).alias("temp"), (pl.col("atemp") * 0.5).alias("atemp"),
            (pl.col("hum") * 0.6).alias("hum"), (pl.col("windspeed") + 0.2).alias("windspeed"),
            pl.lit("light rain/snow").alias("weathersit"), pl.lit(1).alias("season"),
            pl.lit("Jan").alias("mnth"), (pl.col("bikers") * 2).alias("bikers"))
        _drop(d, drifted, "drifted.csv", 2)

        started = wait_until(lambda: client.pipelines(model="riders"), timeout=120,
                             what="a pipeline started by the drift alert")[0]
        assert started.trigger == "drift" and started.actor.startswith("alert:")
        alert = next(a for a in client.alerts() if a.rule == "dataset_drift")
        assert started.trigger_detail["alert_id"] == alert.id
        # The same report found the performance drop: merged, not a second training.
        merged = wait_until(lambda: client.pipeline(started.id).merged, timeout=30,
                            what="the performance_drop trigger merged")
        assert merged[0]["trigger"] == "performance_drop"
        # The canary needs 20 of its own requests: serve traffic until it is promoted.
        serve_until_ended(client, started.id, request_rows(drifted.head(5)))
        done = ended(client, started.id)
        steps = steps_of(done)
        assert done.state == "deployed", (done.reason, steps)
        assert [s["step"] for s in done.steps] == [
            "materialise", "validate", "train", "evaluate", "compare", "gate", "approval",
            "deploy", "watch"]
        assert steps["materialise"]["detail"]["resolved"] == "bikes@2"
        compare = steps["compare"]["detail"]
        assert compare["champion"]["version"] == champion
        assert compare["challenger"]["version"] == done.challenger != champion
        assert compare["holdout_matches_training"] is True
        assert compare["ci"][0] > 0, "significantly better: the CI's lower bound above 0"
        assert compare["challenger"]["value"] < compare["champion"]["value"]  # rmse
        assert steps["gate"]["detail"]["passed"]
        assert steps["deploy"]["detail"]["strategy"] == "canary"
        assert steps["deploy"]["detail"]["requests"] >= 20
        assert steps["watch"]["state"] == "done"
        assert client.get_model("riders").aliases["production"] == done.challenger

        # The same data again: the same model, not better than itself.
        out = run_mlops(d.home.root, "retrain", "riders", "--wait", "--reason", "again",
                        timeout=300)
        assert out.returncode == 1, out.stdout + out.stderr
        again = client.pipelines(model="riders")[0]
        assert again.state == "not_promoted" and again.trigger == "manual"
        compare = steps_of(again)["compare"]["detail"]
        assert compare["ci"] == [0.0, 0.0] and compare["improvement"] == 0.0
        assert "did not pass the gate" in again.reason and "CI [0, 0]" in again.reason
        assert "CI [0, 0]" in out.stdout and "not_promoted" in out.stdout
        assert client.get_model("riders").aliases["production"] == done.challenger
    finally:
        d.kill()


def test_approval_one_training_for_two_triggers_approve_deploys_reject_archives(
        home: Path, frame: pl.DataFrame) -> None:
    lenient = lenient_daemon(home, frame, deploy="direct", watch="0s", approval="required")
    with lenient as (d, client, champion):
        first = client.retrain("riders", reason="first")
        second = client.retrain("riders", reason="second")
        assert not first.merged and second.merged
        assert second.pipeline.id == first.pipeline.id
        pending = ended(client, first.pipeline.id)
        assert pending.state == "awaiting_approval", pending.reason
        assert [m["trigger"] for m in pending.merged] == ["manual"]
        trainings = [j for j in client.list_jobs(kind="train")
                     if j.actor == f"pipeline:{first.pipeline.id}"]
        assert len(trainings) == 1, "two triggers at once: one training"
        waiting = [a for a in client.alerts(state="open") if a.rule == "approval_pending"]
        assert waiting and waiting[0].subject == f"pipeline:{first.pipeline.id}"
        listed = run_mlops(d.home.root, "pipelines", "--state", "awaiting_approval")
        assert str(first.pipeline.id) in listed.stdout

        out = run_mlops(d.home.root, "approve", str(first.pipeline.id), "--note", "looks good")
        assert out.returncode == 0, out.stderr
        done = ended(client, first.pipeline.id)
        assert done.state == "deployed", done.reason
        approval = steps_of(done)["approval"]["detail"]
        assert approval["decision"] == "approved" and approval["note"] == "looks good"
        assert approval["by"].startswith("cli:")
        assert client.get_model("riders").aliases["production"] == done.challenger != champion
        assert not [a for a in client.alerts(state="open") if a.rule == "approval_pending"]

        _drop(d, frame.sample(fraction=0.4, seed=3), "third.csv", 3)
        third = client.retrain("riders").pipeline
        assert ended(client, third.id).state == "awaiting_approval"
        out = run_mlops(d.home.root, "reject", str(third.id), "--note", "not this one")
        assert out.returncode == 0, out.stderr
        rejected = client.pipeline(third.id)
        assert rejected.state == "rejected" and "archived" in rejected.reason
        assert client.model_version("riders", rejected.challenger).archived
        assert client.get_model("riders").aliases["production"] == done.challenger
        actions = {e.action for e in client.audit(limit=500)}
        assert {"pipeline.started", "pipeline.merged", "pipeline.deployed",
                "pipeline.rejected", "model.archive"} <= actions


def test_a_version_going_bad_in_its_watch_is_rolled_back(home: Path,
                                                          frame: pl.DataFrame) -> None:
    lenient = lenient_daemon(home, frame, deploy="direct", watch="90s")
    with lenient as (_, client, champion):
        pipeline = client.retrain("riders").pipeline
        wait_until(lambda: steps_of(client.pipeline(pipeline.id)).get("watch"), timeout=180,
                   what="the watch window")
        challenger = client.pipeline(pipeline.id).challenger
        assert client.get_model("riders").aliases["production"] == challenger

        # Labels come back: the new version is far off (the truth is three times its guess).
        sample = frame.sample(n=40, seed=9)
        client.predict("riders", request_rows(sample), request_id="watched")
        client.feedback("riders", [{"request_id": "watched", "row": i, "label": y * 3}
                                   for i, y in enumerate(sample["bikers"].to_list())])
        done = ended(client, pipeline.id, timeout=60)
        assert done.state == "rolled_back", done.reason
        assert "rmse" in done.reason and "labelled rows" in done.reason
        assert client.get_model("riders").aliases["production"] == champion
        history = client.alias_history("riders", "production")
        assert history[0].kind == "rollback" and history[0].actor == "mlopsd"
        assert "automatic rollback in the watch" in history[0].reason
        assert [a for a in client.alerts(state="open") if a.rule == "auto_rollback"]


def test_a_schedule_missed_while_down_runs_once_after_the_restart(
        home: Path, frame: pl.DataFrame) -> None:
    d = start_daemon(home, """\
dry_run_schedule = ["0 3 * * *"]
grace = "2d"
""")
    try:
        client = d.client
        assert client is not None
        # Before any data: the pipeline fails at its first step, with a reason and an alert.
        failing = client.retrain("riders", dry_run=True).pipeline
        failed = wait_until(lambda: (p := client.pipeline(failing.id)).state == "failed" and p,
                            timeout=30, what="the pipeline without data to fail")
        assert "no training data" in failed.reason
        assert steps_of(failed)["materialise"]["state"] == "failed"
        alert = next(a for a in client.alerts(state="open") if a.rule == "retrain_failed")
        # (one open alert per rule and model: a scheduled run failing just after this one
        # may have updated its message, so the pipeline it names can differ)
        assert "no training data" in alert.message and alert.subject == "model:riders"
        _drop(d, frame.sample(fraction=0.3, seed=1), "reference.csv", 1)
        schedules = client.schedules()
        assert [(s.model, s.cron, s.dry_run) for s in schedules] == [
            ("riders", "0 3 * * *", True)]
        assert schedules[0].next_run_at is not None
        assert d.stop() == 0
        # Three days pass while it is down: its last run is moved back (the daemon's clock
        # is the real one; this is what three days of downtime leave in the store).
        store = open_store(d.home.db)
        try:
            pipeline_repo.mark_run(store, schedules[0].id,
                                   datetime.now(UTC) - timedelta(days=3))
        finally:
            store.close()
        d.start()
        client = d.client
        assert client is not None

        def missed_runs() -> list:
            return [p for p in client.pipelines(model="riders")
                    if (p.trigger_detail or {}).get("missed_while_down")]

        caught_up = wait_until(missed_runs, timeout=10, what="the missed run")
        assert len(caught_up) == 1, "missed runs are coalesced into one"
        missed = caught_up[0].trigger_detail["missed_while_down"]
        assert missed["missed"] >= 3 and missed["coalesced"] is True
        assert missed["late_s"] < 86_400
        first = ended(client, caught_up[0].id)
        assert first.trigger == "schedule" and first.actor == "scheduler"
        assert first.state == "dry_run", first.reason
        assert "passed the gate and would be deployed" in first.reason
        assert steps_of(first)["compare"]["state"] == "skipped", "no production version yet"
        assert sum(map(len, walk(client.pipelines, limit=1, model="riders"))) == 2

        # A config edit is picked up by `mlops reload`, audited.
        d.home.config.write_text(BASE + 'schedule = ["0 3 * * mon"]\n')
        out = run_mlops(d.home.root, "reload")
        assert out.returncode == 0, out.stdout + out.stderr
        if "models changed: none" in out.stdout:
            # The file watcher (every 2 s) applied the edit before the CLI started (a
            # loaded machine starts Python slowly): then it is the watcher's reload.
            assert any(e.action == "config.reload" and e.actor == "mlopsd (mlops.toml "
                       "changed)" for e in client.audit(limit=200)), out.stdout
        else:
            assert "riders" in out.stdout, out.stdout
        assert [s.cron for s in client.schedules()] == ["0 3 * * mon"]
        assert any(e.action == "config.reload" for e in client.audit(limit=200))
        # …and by itself when the file changes.
        d.home.config.write_text(BASE + 'schedule = ["0 3 * * mon", "30 2 * * *"]\n')
        wait_until(lambda: len(client.schedules()) == 2, timeout=15,
                   what="the edited mlops.toml picked up")
        # The schedules are live a moment before the reload's audit entry commits.
        wait_until(lambda: any(e.action == "config.reload"
                               and e.actor == "mlopsd (mlops.toml changed)"
                               for e in client.audit(limit=200)),
                   timeout=5, what="the reload audited as the file watcher's")
    finally:
        d.kill()


# Slow (41 s): the crash suite's default run kills a pipeline in its training every time.
@pytest.mark.slow
def test_a_pipeline_goes_on_after_a_kill_during_its_training(home: Path,
                                                             frame: pl.DataFrame) -> None:
    """kill -9 while the pipeline's training runs: after the restart the pipeline follows
    the job the runner queued again, deploys, and no stray training or version is left."""
    # a training of several seconds, to be killed in the middle of
    slow = BASE.replace("rounds = 40\n", "rounds = 400\nearly_stopping = 0\n"
                        "params = {num_leaves = 255, learning_rate = 0.01}\n")
    d = DaemonProcess(home, config=slow + lenient(deploy="direct", watch="0s")).start()
    try:
        client = d.client
        assert client is not None
        big = pl.concat([frame] * 4)
        champion = in_production(d, big.sample(fraction=0.5, seed=1))
        _drop(d, big.sample(fraction=0.5, seed=2), "second.csv", 2)
        pipeline = client.retrain("riders").pipeline
        wait_until(lambda: [j for j in client.list_jobs(kind="train", state="running")
                            if j.actor == f"pipeline:{pipeline.id}"], timeout=60,
                   what="the pipeline's training to run")
        d.kill()
        d.start()
        client = d.client
        assert client is not None
        done = ended(client, pipeline.id, timeout=300)
        assert done.state == "deployed", done.reason
        train = steps_of(done)["train"]["detail"]
        assert train["interrupted"] and train["job_id"] not in train["interrupted"]
        assert client.get_job(train["job_id"]).retry_of == train["interrupted"][0]
        versions = [v.version for v in client.model_versions("riders")]
        assert versions == [champion, done.challenger], "one new version, no stray one"
        assert client.get_model("riders").aliases["production"] == done.challenger

        # Cancelled while it trains: the job stops, production stays.
        again = client.retrain("riders").pipeline
        wait_until(lambda: [j for j in client.list_jobs(kind="train", state="running")
                            if j.actor == f"pipeline:{again.id}"], timeout=60,
                   what="the second training to run")
        out = run_mlops(d.home.root, "pipelines", "cancel", str(again.id), "--note", "enough")
        assert out.returncode == 0, out.stderr
        cancelled = client.pipeline(again.id)
        assert cancelled.state == "cancelled" and "enough" in cancelled.reason
        job = steps_of(cancelled)["train"]["detail"]["job_id"]
        wait_until(lambda: client.get_job(job).state == "cancelled", timeout=30,
                   what="the training job to stop")
        assert client.get_model("riders").aliases["production"] == done.challenger
    finally:
        d.kill()
