"""A 2 GB drop: ingested with the worker's memory well below the file's size.

Slow (minutes): skipped by default; `scripts/test -m slow` runs it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.daemon_process import DaemonProcess, wait_until
from tests.test_ingest_daemon import CONFIG, EXAMPLE

TARGET_BYTES = 2 * 1024**3


@pytest.mark.slow
def test_two_gigabyte_csv_is_ingested_with_bounded_memory(home: Path, tmp_path: Path) -> None:
    header, _, body = EXAMPLE.read_bytes().partition(b"\n")
    big = tmp_path / "big.csv"
    with big.open("wb") as out:
        out.write(header + b"\n")
        while out.tell() < TARGET_BYTES:
            out.write(body)
    size = big.stat().st_size
    d = DaemonProcess(home, config=CONFIG).start()
    try:
        client = d.client
        assert client is not None
        inbox = home / "inbox" / "bikes"
        inbox.mkdir(parents=True, exist_ok=True)
        os.rename(big, inbox / "big.csv")
        row = wait_until(lambda: next(iter(client.list_ingests(dataset="bikes")), None),
                         timeout=1800, interval=1, what="the 2 GB ingest")
        assert row.outcome == "accepted", row.issues
        job = client.get_job(row.job_id)
        assert job.max_rss_mb is not None
        assert job.max_rss_mb * 1024**2 < size / 2, f"peak {job.max_rss_mb} MB for {size} B"
        print(f"2 GB ingest: {(job.ended_at - job.started_at).total_seconds():.1f} s, "
              f"peak {job.max_rss_mb:.0f} MB")
    finally:
        assert d.stop(timeout=120) == 0
