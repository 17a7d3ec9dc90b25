"""Batch scoring on a real daemon: files dropped in score/<model>/ or sent with the client are
scored in chunks into outbox/<model>/, equal to Booster.predict; bad files are kept with
their reason."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import orjson
import polars as pl
import pytest

from mlopsd.client import ApiError
from tests import bikes
from tests.daemon_process import DaemonProcess, run_mlops, wait_until

CONFIG = """\
[ingest]
settle_s = 0.2
"""


@pytest.fixture(scope="module")
def d(tmp_path_factory: pytest.TempPathFactory):
    daemon = DaemonProcess(tmp_path_factory.mktemp("scoring") / "home", config=CONFIG).start()
    yield daemon
    assert daemon.stop() == 0


@pytest.fixture(scope="module")
def busy(d: DaemonProcess) -> bikes.Trained:
    assert d.client is not None
    trained = bikes.train("binary")
    d.client.promote("busy", bikes.log(d.client, trained, "busy", classes=["quiet", "busy"]))
    return trained


def _drop(folder: Path, name: str, frame: pl.DataFrame) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    staged = folder.parent / f".{name}.part"
    if name.endswith(".parquet"):
        frame.write_parquet(staged)
    else:
        frame.write_csv(staged)
    os.rename(staged, folder / name)


def test_a_dropped_file_is_scored_into_the_outbox(d: DaemonProcess,
                                                  busy: bikes.Trained) -> None:
    client = d.client
    assert client is not None
    rows = bikes.frame().with_row_index("ride_id")
    _drop(d.home.score / "busy", "march.csv", rows)
    out = d.home.outbox / "busy" / "march.predictions.parquet"
    wait_until(out.exists, timeout=60, what="the predictions file")
    scored = pl.read_parquet(out)
    assert scored.height == rows.height
    assert scored["row_id"].to_list() == list(range(rows.height))
    expected = busy.expected(rows)
    assert np.array_equal(scored["prediction"].to_numpy(), expected)
    assert scored["label"].to_list() == ["busy" if p >= 0.5 else "quiet" for p in expected]
    assert set(scored["version"].unique()) == {"1.0.0"}
    wait_until(lambda: (d.home.score / "busy" / ".done" / "march.csv").exists(),
               what="the scored file moved to .done")
    assert not list((d.home.score / "busy").glob("*.csv"))


def test_the_client_scores_a_parquet_file_keeping_an_id(d: DaemonProcess,
                                                        busy: bikes.Trained,
                                                        tmp_path: Path) -> None:
    client = d.client
    assert client is not None
    rows = bikes.frame(500).with_row_index("ride_id")
    path = tmp_path / "april.parquet"
    rows.write_parquet(path)
    job = client.wait_job(client.score("busy", path, keep=["ride_id"]).id, timeout=60)
    assert job.state == "succeeded", job.error
    scored = pl.read_parquet(job.result["output"])
    assert scored.columns[:2] == ["row_id", "ride_id"]
    assert scored["ride_id"].to_list() == rows["ride_id"].to_list()
    assert np.array_equal(scored["prediction"].to_numpy(), busy.expected(rows))
    cli = run_mlops(d.home.root, "score", "busy", str(path), "--wait")
    assert cli.returncode == 0 and "500 rows scored by busy:1.0.0" in cli.stdout, cli.stderr
    with pytest.raises(ApiError) as err:
        client.score("nobody", path)
    assert err.value.status == 404 and err.value.code == "unknown_model"
    assert err.value.message.startswith("no model named 'nobody' (known: busy")


def test_a_bad_file_is_kept_in_quarantine_with_its_reason(d: DaemonProcess,
                                                          busy: bikes.Trained) -> None:
    rows = bikes.frame(50).drop("temp")
    _drop(d.home.score / "busy", "broken.csv", rows)
    quarantine = d.home.score / "busy" / ".quarantine"

    def kept() -> Path | None:
        """The reason file, once the file it explains is there too: the reason is written
        first and the file moved after, so waiting for one alone races the other."""
        reason = next(iter(quarantine.glob("*broken.csv.reason.json")), None)
        if reason is None or not (quarantine / reason.name.removesuffix(".reason.json")
                                  ).exists():
            return None
        return reason

    reason_file = wait_until(kept, timeout=60, what="the quarantined file and its reason")
    reason = orjson.loads(reason_file.read_bytes())
    assert "'temp' is missing" in reason["reason"] and reason["job_id"]
    assert not (d.home.outbox / "busy" / "broken.predictions.parquet").exists()
    assert not list((d.home.outbox / "busy").glob(".*")), "no partial output left behind"
    assert d.client is not None
    failed = wait_until(lambda: [a for a in d.client.alerts(state="open")
                                 if a.rule == "job_failed" and a.subject == "job:score"],
                        what="the job_failed alert")[0]
    assert "'temp' is missing" in failed.message


def test_the_drop_folder_is_there_as_soon_as_a_version_serves(d: DaemonProcess) -> None:
    client = d.client
    assert client is not None
    folder = d.home.score / "fresh"
    version = bikes.log(client, bikes.train(rounds=5), "fresh")
    assert not folder.exists(), "no folder for a model that does not serve"
    client.promote("fresh", version)
    assert folder.is_dir(), "made by the promotion itself, without a restart"
    _drop(folder, "april.csv", bikes.frame(20))
    wait_until((d.home.outbox / "fresh" / "april.predictions.parquet").exists, timeout=60,
               what="the file dropped in the new folder scored")


def test_a_million_rows_are_scored_in_bounded_memory(d: DaemonProcess, busy: bikes.Trained,
                                                     tmp_path: Path) -> None:
    client = d.client
    assert client is not None
    base = bikes.frame()
    big = pl.concat([base] * (1_000_000 // base.height + 1)).head(1_000_000)
    path = tmp_path / "year.csv"
    big.write_csv(path)
    job = client.wait_job(client.score("busy", path).id, timeout=600)
    assert job.state == "succeeded", job.error
    assert job.result["rows"] == 1_000_000
    print(f"1M rows ({path.stat().st_size / 1e6:.0f} MB CSV) scored in "
          f"{job.result['seconds']:.1f} s; worker peak {job.max_rss_mb:.0f} MB")
    assert job.max_rss_mb is not None and job.max_rss_mb < 500


@pytest.mark.parametrize("how", ["kill -9", "clean stop"])
def test_a_scoring_cut_short_finishes_after_the_restart(tmp_path: Path, how: str) -> None:
    config = CONFIG + "\n[daemon]\nshutdown_grace_s = 0.1\n"
    daemon = DaemonProcess(tmp_path / "home", config=config).start()
    try:
        client = daemon.client
        assert client is not None
        trained = bikes.train("regression")
        client.promote("riders", bikes.log(client, trained, "riders"))
        base = bikes.frame()
        big = pl.concat([base] * 150)  # ~1.3M rows: still scoring when it is killed
        _drop(daemon.home.score / "riders", "big.csv", big)
        wait_until(lambda: any(j.state == "running" for j in client.list_jobs(kind="score")),
                   timeout=30, what="the scoring job to start")
    finally:
        if how == "kill -9":
            daemon.kill()  # SIGKILL: the worker dies with it (PR_SET_PDEATHSIG)
        else:
            assert daemon.stop() == 0  # the running job is interrupted after the grace
    out = daemon.home.outbox / "riders" / "big.predictions.parquet"
    assert not out.exists(), "the output appears whole or not at all"
    assert (daemon.home.score / "riders" / ".processing" / "big.csv").exists()
    daemon.start()
    try:
        wait_until(out.exists, timeout=120, what="the scoring to finish after the restart")
        scored = pl.read_parquet(out)
        assert scored.height == big.height
        assert np.array_equal(scored["prediction"].to_numpy(), trained.expected(big))
        assert (daemon.home.score / "riders" / ".done" / "big.csv").exists()
        assert not list((daemon.home.outbox / "riders").glob(".*"))
    finally:
        assert daemon.stop() == 0
