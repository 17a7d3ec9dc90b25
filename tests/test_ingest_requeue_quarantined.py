"""A kill after an ingest moved a bad file to quarantine, before the store heard of it: at the
restart the quarantine is recorded from its reason file, and the job queued again (its file
gone from the inbox) says so instead of recording the drop as vanished. Found by the long
crash suite (seed 732307, cycle 33: "ingests of dropped files recorded as vanished"); the
moment is too narrow for a random kill to hit on demand, so the crash's aftermath is made
here from a real quarantine: its record taken out of the store and its job set back to
running, as a kill leaves them."""

from __future__ import annotations

from pathlib import Path

import duckdb

from tests.daemon_process import DaemonProcess, wait_until
from tests.test_ingest_daemon import CONFIG


def test_a_drop_quarantined_just_before_a_kill_is_not_recorded_as_vanished(
        tmp_path: Path) -> None:
    d = DaemonProcess(tmp_path / "home", config=CONFIG).start()
    inbox = d.home.root / "inbox" / "bikes"
    try:
        assert d.client is not None
        inbox.mkdir(parents=True, exist_ok=True)
        staged = tmp_path / "broken.csv"
        staged.write_text("season,mnth\n1,Jan,extra,fields\n")
        staged.rename(inbox / "broken.csv")
        [ingest] = wait_until(lambda: list(d.client.quarantine("bikes")),  # type: ignore[union-attr]
                              what="the bad drop quarantined")
        job_id = ingest.job_id
    finally:
        assert d.stop() == 0

    with duckdb.connect(str(d.home.db)) as con:
        con.execute("DELETE FROM ingests WHERE job_id = ?", [job_id])
        con.execute("UPDATE jobs SET state = 'running', ended_at = NULL, result = NULL, "
                    "error = NULL WHERE id = ?", [job_id])

    d.start()
    try:
        client = d.client
        assert client is not None
        wait_until(lambda: [j.state for j in client.list_jobs(kind="ingest")
                            if j.id > job_id] == ["succeeded"], timeout=60,
                   what="the ingest queued again to end")
        rerun = next(j for j in client.list_jobs(kind="ingest") if j.id > job_id)
        assert rerun.result["outcome"] == "quarantined_before", rerun.result
        assert rerun.result["quarantined_by_job"] == job_id
        outcomes = [(i.source_name, i.outcome) for i in client.list_ingests(dataset="bikes")]
        assert outcomes == [("broken.csv", "rejected")], outcomes
        [kept] = client.quarantine("bikes")
        assert kept.job_id == job_id and Path(kept.quarantine_path or "").exists()
    finally:
        assert d.stop() == 0
