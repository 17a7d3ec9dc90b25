"""Faults around dropped files, through a real daemon: every file ends in exactly one place,
with a status that says where and why; nothing is left behind or ignored for ever."""

from __future__ import annotations

import http.client
import os
import shutil
import signal
from pathlib import Path

import orjson
import polars as pl
import pytest

from mlopsd.client import Client
from tests.daemon_process import DaemonProcess, wait_until
from tests.test_ingest_daemon import EXAMPLE

# rescans every second: a blocked .done/ is retried by the rescan
CONFIG = """\
[ingest]
settle_s = 0.2
rescan_interval_s = 1

[[dataset]]
name = "bikes"
target = "bikers"
"""


@pytest.fixture(scope="module")
def months(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("months")
    frame = pl.read_csv(EXAMPLE)
    out = {}
    for month in ["Jan", "Feb"]:
        path = folder / f"{month.lower()}.csv"
        frame.filter(pl.col("mnth") == month).write_csv(path)
        out[month.lower()] = path
    return out


def client_of(d: DaemonProcess) -> Client:
    assert d.client is not None
    return d.client


def ended(client: Client, kind: str = "ingest") -> bool:
    jobs = client.list_jobs(kind=kind)
    return bool(jobs) and all(j.state not in ("queued", "running") for j in jobs)


def test_a_file_whose_done_folder_is_blocked_is_stored_once_and_stays_in_the_inbox(
        home: Path, months: dict[str, Path]) -> None:
    folder = home / "inbox" / "bikes"
    folder.mkdir(parents=True)
    blocker = folder / ".done"
    blocker.write_text("a file where the .done folder should be\n")
    d = DaemonProcess(home, config=CONFIG).start()
    try:
        client = client_of(d)
        shutil.copy(months["jan"], folder / "jan.csv")
        alert = wait_until(lambda: client.alerts(rule="done_blocked"), timeout=60,
                           what="the blocked .done/ alert")[0]
        wait_until(lambda: ended(client), what="the ingest jobs to end")
        assert [v.version for v in client.list_versions("bikes")] == [1]
        assert alert.state == "open" and alert.subject == "dataset:bikes"
        assert "jan.csv" in alert.message and "bikes@1" in alert.message
        assert ".done" in alert.message
        [waiting] = alert.detail["files"]
        assert (waiting["file"], waiting["stored_as"]) == ("jan.csv", "bikes@1")
        assert waiting["error"] == f"{blocker} is a file, not a folder"
        assert (folder / "jan.csv").read_bytes() == months["jan"].read_bytes()
        assert client.quarantine() == []
        assert [j.state for j in client.list_jobs(kind="ingest")] == ["succeeded"]
        [ingest] = client.list_ingests(dataset="bikes")
        assert (ingest.outcome, ingest.version) == ("accepted", 1)
    finally:
        assert d.stop() == 0

    # Still blocked at the next start: the file is read again, found stored, and stays put.
    d = DaemonProcess(home, config=CONFIG).start()
    try:
        client = client_of(d)
        wait_until(lambda: len(client.list_ingests(dataset="bikes")) == 2 and ended(client),
                   what="the start-up ingest of jan.csv")
        assert [v.version for v in client.list_versions("bikes")] == [1]
        assert client.list_ingests(dataset="bikes")[0].outcome == "duplicate"
        assert (folder / "jan.csv").exists() and client.quarantine() == []
        assert client.alerts(rule="done_blocked")[0].state == "open"

        # Unblocked: the rescan moves the file, once, and the alert resolves itself.
        blocker.unlink()
        wait_until(lambda: (folder / ".done" / "jan.csv").exists(), timeout=30,
                   what="jan.csv to move to .done/")
        assert not (folder / "jan.csv").exists()
        assert (folder / ".done" / "jan.csv").read_bytes() == months["jan"].read_bytes()
        wait_until(lambda: client.alerts(rule="done_blocked")[0].state == "resolved",
                   what="the alert to resolve")
        assert client.quarantine() == []
        assert [v.version for v in client.list_versions("bikes")] == [1]
        assert len(client.list_ingests(dataset="bikes")) == 2
    finally:
        assert d.stop() == 0


def test_a_killed_upload_leaves_no_temp_file_after_a_restart(home: Path,
                                                            months: dict[str, Path]) -> None:
    d = DaemonProcess(home, config=CONFIG).start()
    folder = home / "inbox" / "bikes"
    info = orjson.loads(d.home.daemon_json.read_bytes())
    token = d.home.read_token()
    conn = http.client.HTTPConnection("127.0.0.1", info["port"], timeout=30)
    try:
        data = months["jan"].read_bytes()
        conn.putrequest("POST", "/api/v1/datasets/bikes/files?filename=jan.csv")
        conn.putheader("Authorization", f"Bearer {token}")
        conn.putheader("Content-Length", str(len(data)))
        conn.endheaders()
        conn.send(data[: len(data) // 2])  # the rest never comes: the daemon dies first
        temps = wait_until(lambda: list(folder.glob(".upload-*.tmp")),
                           what="the upload's temp file")
        wait_until(lambda: temps[0].stat().st_size > 0, what="the upload to be written")
        os.kill(d.pid, signal.SIGKILL)
        assert d.proc is not None
        d.proc.wait(timeout=10)
    finally:
        conn.close()
    assert temps[0].exists(), "the kill left the partial upload behind"

    d = DaemonProcess(home, config=CONFIG).start()
    try:
        client = client_of(d)
        assert list(folder.glob(".upload-*")) == []
        assert not (folder / "jan.csv").exists()
        assert client.list_ingests() == [] and client.quarantine() == []
        # The upload, sent again, works.
        upload = client.upload("bikes", months["jan"])
        assert client.wait_job(upload.job_id, timeout=60).state == "succeeded"
        assert [v.version for v in client.list_versions("bikes")] == [1]
    finally:
        assert d.stop() == 0


def test_a_sub_folder_in_an_inbox_is_quarantined_with_its_reason(
        home: Path, months: dict[str, Path]) -> None:
    folder = home / "inbox" / "bikes"
    (folder / "while-down" / "deeper").mkdir(parents=True)
    shutil.copy(months["feb"], folder / "while-down" / "deeper" / "feb.csv")
    d = DaemonProcess(home, config=CONFIG).start()
    try:
        client = client_of(d)
        staging = home / "staging"
        (staging / "batch-7").mkdir(parents=True)
        shutil.copy(months["jan"], staging / "batch-7" / "jan.csv")
        os.rename(staging / "batch-7", folder / "batch-7")
        (folder / "made-here").mkdir()
        shutil.copy(months["jan"], folder / "made-here" / "jan.csv")
        shutil.copy(months["feb"], folder / "feb.csv")  # an ordinary drop beside them

        wanted = {"while-down", "batch-7", "made-here"}
        rows = wait_until(lambda: (q := client.quarantine("bikes")) and {
            r.source_name for r in q} == wanted and q, timeout=60,
            what="the three sub-folders to be quarantined")
        for row in rows:
            where = Path(row.quarantine_path)
            assert where.parent == home / "quarantine" / "bikes" and where.is_dir()
            reason = orjson.loads(where.with_name(where.name + ".reason.json").read_bytes())
            assert reason["file"] == row.source_name
            [error] = reason["errors"]
            assert error["check"] == "sub_folder"
            assert f"inbox/bikes/{row.source_name}/ is a folder" in error["message"]
            assert "directly into inbox/bikes/" in error["message"]
        kept = {r.source_name: Path(r.quarantine_path) for r in rows}
        assert (kept["batch-7"] / "jan.csv").read_bytes() == months["jan"].read_bytes()
        assert (kept["while-down"] / "deeper" / "feb.csv").read_bytes() == months[
            "feb"].read_bytes()
        assert [p.name for p in folder.iterdir() if p.is_dir()] in ([], [".done"])
        alert = client.alerts(rule="quarantined_file")[0]
        assert alert.count == 3 and "is a folder" in alert.message
        # The ordinary drop is ingested; .done/ itself is no sub-folder to quarantine.
        wait_until(lambda: client.list_versions("bikes"), what="feb.csv's version")
        wait_until(lambda: (folder / ".done" / "feb.csv").exists(), what="feb.csv done")
        assert {r.source_name for r in client.quarantine("bikes")} == wanted
        assert client.health().status == "ok"
    finally:
        assert d.stop() == 0


def test_a_label_file_whose_done_folder_is_blocked_is_stored_and_never_quarantined(
        home: Path) -> None:
    config = CONFIG + '\n[[dataset]]\nname = "tips"\ntarget = "y"\nid_column = "id"\n'
    folder = home / "inbox" / "tips"
    folder.mkdir(parents=True)
    (folder / ".done").write_text("a file where the .done folder should be\n")
    d = DaemonProcess(home, config=config).start()
    try:
        client = client_of(d)
        staged = home / "march.labels.csv"
        staged.write_text("id,y\na1,1.5\na2,2.5\n")
        os.rename(staged, folder / "march.labels.csv")
        alert = wait_until(lambda: client.alerts(rule="done_blocked"), timeout=60,
                           what="the blocked .done/ alert")[0]
        wait_until(lambda: ended(client, "labels"), what="the labels job to end")
        assert "march.labels.csv is stored as 2 labels of tips" in alert.message
        assert [j.state for j in client.list_jobs(kind="labels")] == ["succeeded"]
        assert (folder / "march.labels.csv").exists() and client.quarantine() == []
        (folder / ".done").unlink()
        wait_until(lambda: (folder / ".done" / "march.labels.csv").exists(), timeout=30,
                   what="the label file to move to .done/")
        assert [j.state for j in client.list_jobs(kind="labels")] == ["succeeded"]
        assert client.quarantine() == []
    finally:
        assert d.stop() == 0
