"""`new_rows >= N` starts a retrain; the cooldown holds the next one (kept across a
restart, started once the cooldown no longer holds it); `last D days` trains on the newest
days of the dataset's time column. That a cooldown ends by itself when its time has passed
is decided on a moved clock in test_retraining_clock.py: here it is ended by a reload."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from tests.daemon_process import DaemonProcess, run_mlops, wait_until
from tests.test_drift_daemon import _drop
from tests.test_ingest_daemon import EXAMPLE

CONFIG = """\
[ingest]
settle_s = 0.2

[[dataset]]
name = "bikes"
target = "bikers"
time_column = "ts"

[dataset.schema]
ts = "datetime"

[[model]]
name = "riders"
data = "bikes@all"
target = "bikers"
exclude = ["casual", "registered"]
rounds = 30

[model.retrain]
retrain_on = ["new_rows >= 1000"]
cooldown = "1h"
training_window = "last 60 days"
deploy = "direct"
watch = "0s"
"""


def test_new_rows_retrain_within_a_window_and_the_cooldown_holds_the_next(home: Path) -> None:
    start = dt.datetime(2011, 1, 1)
    frame = pl.read_csv(EXAMPLE).with_columns(
        ts=pl.lit(start) + pl.duration(days=pl.col("day") - 1, hours=pl.col("hr")))
    d = DaemonProcess(home, config=CONFIG).start()
    try:
        client = d.client
        assert client is not None
        months = frame.with_columns(month=pl.col("ts").dt.month())
        # No model yet, and the first 4,250 rows arrive: they are new rows to train on.
        first = months.filter(pl.col("month") <= 6).drop("month")
        _drop(d, first, "jan-jun.csv", 1)
        pipeline = wait_until(lambda: client.pipelines(model="riders"), timeout=30,
                              what="a retrain started by new rows")[0]
        assert pipeline.trigger == "new_rows" and pipeline.actor == "mlopsd"
        assert pipeline.trigger_detail == {"rows": first.height, "versions": [1],
                                           "threshold": 1000}
        done = wait_until(lambda: (p := client.pipeline(pipeline.id)).state != "running" and p,
                          timeout=120, what="the pipeline to end")
        assert done.state == "deployed", done.reason
        steps = {s["step"]: s for s in done.steps}
        newest = first["ts"].max()
        window = f"bikes@1[{(newest - dt.timedelta(days=60)).isoformat()}..]"
        assert steps["materialise"]["detail"]["resolved"] == window
        assert steps["materialise"]["detail"]["rows"] == first.height, "versions' rows"
        run = client.get_run(steps["train"]["detail"]["run_id"])
        assert run.params["data"] == window  # the training's lineage names the window
        assert client.get_model("riders").aliases["production"] == done.challenger

        # More rows within the cooldown: held (a pipeline row, audited), not started...
        second = months.filter(pl.col("month").is_between(7, 9)).drop("month")
        _drop(d, second, "jul-sep.csv", 2)
        held = wait_until(lambda: [p for p in client.pipelines(model="riders")
                                   if p.state == "held"], timeout=30,
                          what="the cooldown to hold the next retrain")[0]
        assert held.trigger == "new_rows" and held.trigger_detail["versions"] == [2]
        assert "cooldown" in held.reason
        entry = next(e for e in client.audit(limit=200) if e.action == "retrain.held")
        assert entry.subject == f"pipeline:{held.id}"
        # ...kept across a restart (still in its cooldown: still held)...
        assert d.stop() == 0
        d.start()
        client = d.client
        assert client is not None
        assert client.pipeline(held.id).state == "held"
        # ...and started once the cooldown no longer holds it (here: the policy is reloaded
        # without one).
        reloaded_at = dt.datetime.now(dt.UTC)
        d.home.config.write_text(CONFIG.replace('cooldown = "1h"', 'cooldown = "0s"'))
        out = run_mlops(d.home.root, "reload")
        assert out.returncode == 0, out.stdout + out.stderr
        released = wait_until(lambda: (p := client.pipeline(held.id)).state not in (
            "held", "running") and p, timeout=60, what="the held pipeline to run")
        assert released.state in ("deployed", "not_promoted"), released.reason
        assert [s["step"] for s in released.steps][:6] == [
            "materialise", "validate", "train", "evaluate", "compare", "gate"]
        # a released pipeline counts as started when it was released
        assert released.created_at.astimezone(dt.UTC) >= reloaded_at
    finally:
        d.kill()
