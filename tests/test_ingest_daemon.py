"""File-drop ingestion through a real daemon, a real watcher and real files."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import orjson
import polars as pl
import pytest

from mlopsd.client import Client
from tests.daemon_process import DaemonProcess, run_mlops, wait_until

EXAMPLE = Path(__file__).parent.parent / "examples" / "bikeshare" / "bikeshare-2011-hourly.csv"

CONFIG = """\
[ingest]
settle_s = 0.3

[[dataset]]
name = "bikes"
target = "bikers"
"""


@pytest.fixture(scope="module")
def months(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The example data as monthly CSV files, as an upstream system would drop them."""
    folder = tmp_path_factory.mktemp("months")
    frame = pl.read_csv(EXAMPLE)
    out = {}
    for month in ["Jan", "Feb", "March", "April"]:
        path = folder / f"{month[:3].lower()}.csv"
        part = frame.filter(pl.col("mnth") == month)
        assert part.height > 600
        part.write_csv(path)
        out[month[:3].lower()] = path
    return out


@pytest.fixture
def d(home: Path) -> Iterator[DaemonProcess]:
    daemon = DaemonProcess(home, config=CONFIG).start()
    yield daemon
    daemon.kill()


def client_of(d: DaemonProcess) -> Client:
    assert d.client is not None
    return d.client


def inbox(d: DaemonProcess, dataset: str = "bikes") -> Path:
    folder = d.home.inbox / dataset
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def ingests(d: DaemonProcess, n: int, dataset: str = "bikes", timeout: float = 60):
    """The dataset's ingest records, once there are `n` and their jobs have ended (alerts,
    audit entries and file moves are done by then)."""
    client = client_of(d)

    def settled():
        rows = client.list_ingests(dataset=dataset)
        if len(rows) < n:
            return None
        jobs = [client.get_job(r.job_id) for r in rows if r.job_id]
        return rows if all(j.state not in ("queued", "running") for j in jobs) else None

    return wait_until(settled, timeout=timeout, what=f"{n} ingest(s) of {dataset}")


def write_in_place(path: Path, data: bytes, pieces: int = 4) -> None:
    with path.open("wb") as f:
        step = max(1, len(data) // pieces)
        for i in range(0, len(data), step):
            f.write(data[i : i + step])
            f.flush()


def test_written_in_place_and_renamed_in_become_versions(d: DaemonProcess, months) -> None:
    client = client_of(d)
    write_in_place(inbox(d) / "jan.csv", months["jan"].read_bytes())
    first = ingests(d, 1)[0]
    assert first.outcome == "accepted" and first.version == 1
    tmp = inbox(d) / "feb.csv.part"
    tmp.write_bytes(months["feb"].read_bytes())
    os.rename(tmp, inbox(d) / "feb.csv")
    second = ingests(d, 2)[0]
    assert second.outcome == "accepted" and second.version == 2

    versions = client.list_versions("bikes")
    assert [v.version for v in versions] == [1, 2]
    assert versions[0].n_rows == pl.read_csv(months["jan"]).height
    assert versions[0].content_hash == hashlib.sha256(months["jan"].read_bytes()).hexdigest()
    assert versions[0].source_name == "jan.csv"
    assert versions[0].received_at <= versions[0].committed_at
    assert sorted(p.name for p in (inbox(d) / ".done").iterdir()) == ["feb.csv", "jan.csv"]
    assert not (inbox(d) / "jan.csv").exists()
    profile = client.get_version("bikes", 1).profile
    assert profile["temp"]["min"] >= 0 and profile["temp"]["max"] <= 1
    assert profile["bikers"]["count"] == versions[0].n_rows
    summary = client.list_datasets()[0]
    assert (summary.name, summary.versions, summary.target) == ("bikes", 2, "bikers")


def test_duplicate_content_is_stored_once(d: DaemonProcess, months) -> None:
    client = client_of(d)
    shutil.copy(months["jan"], inbox(d) / "jan.csv")
    ingests(d, 1)
    shutil.copy(months["jan"], inbox(d) / "jan-again.csv")
    latest = ingests(d, 2)[0]
    assert latest.outcome == "duplicate" and latest.version == 1
    assert len(client.list_versions("bikes")) == 1
    blobs = list((d.home.artifacts / "sha256").rglob("*"))
    assert len([b for b in blobs if b.is_file()]) == 1, "one snapshot, not two"
    assert (inbox(d) / ".done" / "jan-again.csv").exists()


def test_compressed_and_other_formats(d: DaemonProcess, months, tmp_path: Path) -> None:
    frame = pl.read_csv(months["mar"])
    (inbox(d) / "mar.csv.gz").write_bytes(gzip.compress(months["mar"].read_bytes()))
    frame.head(100).write_parquet(tmp_path / "x.parquet")
    shutil.copy(tmp_path / "x.parquet", inbox(d) / "x.parquet")
    rows = ingests(d, 2)
    assert {r.outcome for r in rows} == {"accepted"}, [r.issues for r in rows]


def test_bad_files_are_quarantined_with_reasons(d: DaemonProcess, months, tmp_path) -> None:
    client = client_of(d)
    shutil.copy(months["jan"], inbox(d) / "jan.csv")
    ingests(d, 1)
    outside = tmp_path / "secret.csv"
    outside.write_bytes(months["feb"].read_bytes())
    bad = {
        "junk.csv": os.urandom(5000),
        "cut.csv": months["feb"].read_bytes()[:-25],
        "semicolons.csv": months["feb"].read_bytes().replace(b",", b";"),
        "latin1.csv": months["feb"].read_bytes().replace(b"clear", b"cl\xe9ar", 1),
    }
    for name, data in bad.items():
        (inbox(d) / name).write_bytes(data)
    os.symlink(outside, inbox(d) / "link.csv")
    rows = ingests(d, 1 + len(bad) + 1, timeout=90)
    rejected = {r.source_name: r for r in rows if r.outcome == "rejected"}
    assert set(rejected) == {*bad, "link.csv"}, {r.source_name: r.outcome for r in rows}
    for name, data in bad.items():
        q = Path(rejected[name].quarantine_path)
        assert q.parent == d.home.quarantine / "bikes"
        assert q.name.endswith(f"-{name}")
        assert q.read_bytes() == data, "kept byte for byte"
        reason = orjson.loads(q.with_name(q.name + ".reason.json").read_bytes())
        assert reason["file"] == name and reason["errors"], reason
        assert reason["errors"][0]["message"]
    assert "delimiter" in str(rejected["semicolons.csv"].issues)
    assert "symlink" in str(rejected["link.csv"].issues)
    assert outside.read_bytes() == months["feb"].read_bytes(), "the link's target is untouched"
    alerts = client.alerts(rule="quarantined_file")
    assert alerts and alerts[0].count == len(bad) + 1 and alerts[0].state == "open"
    listed = run_mlops(d.home.root, "data", "quarantine")
    assert "junk.csv" in listed.stdout
    assert client.health().status == "ok"
    assert [v.version for v in client.list_versions("bikes")] == [1]


def test_files_dropped_while_down_are_ingested_at_start(home: Path, months) -> None:
    d = DaemonProcess(home, config=CONFIG)
    folder = home / "inbox" / "bikes"
    folder.mkdir(parents=True)
    shutil.copy(months["jan"], folder / "jan.csv")
    shutil.copy(months["feb"], folder / "feb.csv")
    d.start()
    try:
        rows = ingests(d, 2)
        assert {r.outcome for r in rows} == {"accepted"}
    finally:
        assert d.stop() == 0


def test_new_folder_creates_a_dataset_and_schema_change_is_quarantined(d: DaemonProcess,
                                                                        months) -> None:
    client = client_of(d)
    trips = inbox(d, "trips")
    shutil.copy(months["jan"], trips / "jan.csv")
    ingests(d, 1, "trips")
    assert client.get_dataset("trips").schema_version == 1
    changed = pl.read_csv(months["feb"]).drop("windspeed").with_columns(extra=pl.lit(1))
    changed.write_csv(trips / "feb.csv")
    row = ingests(d, 2, "trips")[0]
    assert row.outcome == "rejected"
    assert row.schema_change["removed"] == ["windspeed"]
    assert row.schema_change["added"] == ["extra"]
    assert client.alerts(rule="schema_change")
    assert [e.action for e in client.audit(action="dataset.schema_change")]


def test_cli_ingest_and_requeue(d: DaemonProcess, months, tmp_path: Path) -> None:
    home = d.home.root
    accepted = run_mlops(home, "data", "ingest", str(months["jan"]), "--dataset", "bikes",
                         "--wait")
    assert accepted.returncode == 0, accepted.stderr
    assert "accepted: bikes@1" in accepted.stdout
    again = run_mlops(home, "data", "ingest", str(months["jan"]), "--dataset", "bikes",
                      "--name", "copy.csv", "--wait")
    assert "duplicate of bikes@1" in again.stdout
    broken = tmp_path / "broken.csv"
    broken.write_bytes(months["feb"].read_bytes().replace(b"\n", b"\nnot,enough\n", 1))
    rejected = run_mlops(home, "data", "ingest", str(broken), "--dataset", "bikes", "--wait")
    assert rejected.returncode == 1 and "rejected" in rejected.stdout
    quarantined = client_of(d).quarantine("bikes")[0]
    name = Path(quarantined.quarantine_path).name
    # Fix the file where it lies, then requeue it.
    Path(quarantined.quarantine_path).write_bytes(months["feb"].read_bytes())
    requeued = run_mlops(home, "data", "requeue", name)
    assert requeued.returncode == 0, requeued.stderr
    rows = ingests(d, 4)
    assert rows[0].outcome == "accepted" and rows[0].version == 2
    assert client_of(d).quarantine("bikes") == []
    assert not Path(quarantined.quarantine_path + ".reason.json").exists()


def test_selector_materialised_twice_gives_identical_bytes(d: DaemonProcess, months,
                                                           tmp_path: Path) -> None:
    for month in ["jan", "feb", "mar"]:
        shutil.copy(months[month], inbox(d) / f"{month}.csv")
        ingests(d, ["jan", "feb", "mar"].index(month) + 1)
    client = client_of(d)
    resolved = client.resolve_selector("bikes@last:2")
    assert resolved.canonical == "bikes@2,3" and resolved.versions == [2, 3]
    assert client.resolve_selector("bikes@latest").versions == [3]
    assert client.resolve_selector("bikes@1..2").versions == [1, 2]
    for _ in range(2):
        result = run_mlops(d.home.root, "data", "materialise", "bikes@2..3", "--out",
                           str(tmp_path / f"m{_}.parquet"))
        assert result.returncode == 0, result.stderr
    a, b = (tmp_path / "m0.parquet").read_bytes(), (tmp_path / "m1.parquet").read_bytes()
    assert a == b
    frame = pl.read_parquet(tmp_path / "m0.parquet")
    expected = pl.concat([pl.read_csv(months["feb"]), pl.read_csv(months["mar"])])
    assert frame.height == expected.height
    assert frame["bikers"].to_list() == expected["bikers"].to_list()
    bad = run_mlops(d.home.root, "data", "resolve", "bikes@9")
    assert bad.returncode == 1 and "no version 9" in bad.stderr


def test_ingest_events_reach_the_stream(d: DaemonProcess, months) -> None:
    shutil.copy(months["jan"], inbox(d) / "jan.csv")
    ingests(d, 1)
    events = list(client_of(d).events(types=["job.queued", "ingest", "dataset"], after=0,
                                      timeout=1))
    # The ingest's queuing is its job's `job.queued`, saying what it is about.
    queued = [e for e in events if e.type == "job.queued" and e.data["kind"] == "ingest"]
    assert [(e.data["subject"], e.data["file"]) for e in queued] == [("dataset:bikes",
                                                                      "jan.csv")]
    committed = [e for e in events if e.type == "ingest.committed"]
    assert [(e.data["version"], e.data["file"]) for e in committed] == [(1, "jan.csv")]
    assert committed[0].audit_id is not None, "a data version is audited with its event"


def test_odd_names_are_just_names(d: DaemonProcess, months) -> None:
    name = "we..ird $(touch pwned); `x` & name's.csv"
    shutil.copy(months["jan"], inbox(d) / name)
    row = ingests(d, 1)[0]
    assert row.outcome == "accepted" and row.source_name == name
    assert (inbox(d) / ".done" / name).exists()
    assert not Path("pwned").exists() and not (inbox(d) / "pwned").exists()


def test_a_file_replaced_while_read_is_read_again(d: DaemonProcess, tmp_path: Path) -> None:
    client = client_of(d)
    big = pl.concat([pl.read_csv(EXAMPLE)] * 60)
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    big.write_csv(first)
    big.with_columns(pl.col("day") + 10_000).write_csv(second)
    staged = inbox(d) / ".staged"
    shutil.copy(first, staged)
    os.rename(staged, inbox(d) / "big.csv")
    wait_until(lambda: any(j.state == "running" for j in client.list_jobs(kind="ingest")),
               what="the ingest to start")
    shutil.copy(second, staged)
    os.rename(staged, inbox(d) / "big.csv")
    wait_until(lambda: len(client.list_versions("bikes")) >= 1 and not (
        inbox(d) / "big.csv").exists(), timeout=120, what="the replaced file to be ingested")
    versions = client.list_versions("bikes")
    expected = hashlib.sha256(second.read_bytes()).hexdigest()
    assert expected in {v.content_hash for v in versions}
    done = inbox(d) / ".done" / "big.csv"
    assert hashlib.sha256(done.read_bytes()).hexdigest() in {v.content_hash for v in versions}


def test_files_dropped_together_are_checked_against_each_other(home: Path, months) -> None:
    """Ingests of one dataset run one at a time and read the dataset when they start: the
    first file fixes the schema and the reference even when all arrive at once."""
    d = DaemonProcess(home, "--workers", "2", config=CONFIG).start()
    try:
        client = client_of(d)
        staging = home / "staging"
        staging.mkdir()
        changed = pl.read_csv(months["feb"]).drop("windspeed")
        changed.write_csv(staging / "feb.csv")
        shutil.copy(months["jan"], staging / "jan.csv")
        shutil.copy(months["apr"], staging / "apr.csv")
        for name in ["jan.csv", "feb.csv", "apr.csv"]:
            os.rename(staging / name, inbox(d) / name)
        rows = {r.source_name: r for r in ingests(d, 3)}
        assert rows["jan.csv"].outcome == "accepted"
        assert rows["feb.csv"].outcome == "rejected"
        assert rows["feb.csv"].schema_change["removed"] == ["windspeed"]
        assert rows["apr.csv"].outcome == "accepted"
        assert client.get_dataset("bikes").schema_version == 1
        # April is checked against January's learned ranges: spring is warmer.
        checks = {w["check"] for w in rows["apr.csv"].issues}
        assert "out_of_range" in checks, rows["apr.csv"].issues
        assert client.alerts(rule="data_quality")
    finally:
        assert d.stop() == 0


def test_polling_watcher_and_temp_names(home: Path, months) -> None:
    """Where inotify is unavailable the watcher polls; files settle before they count, and
    temp names wait for their rename."""
    config = CONFIG.replace("[ingest]\n", "[ingest]\npolling = true\n")
    d = DaemonProcess(home, config=config).start()
    try:
        folder = inbox(d)
        (folder / "feb.csv.tmp").write_bytes(months["feb"].read_bytes())
        (folder / ".hidden.csv").write_bytes(months["feb"].read_bytes())
        write_in_place(folder / "jan.csv", months["jan"].read_bytes())
        rows = ingests(d, 1)
        assert [(r.source_name, r.outcome) for r in rows] == [("jan.csv", "accepted")]
        assert (folder / "feb.csv.tmp").exists() and (folder / ".hidden.csv").exists()
        os.rename(folder / "feb.csv.tmp", folder / "feb.csv")
        assert ingests(d, 2)[0].source_name == "feb.csv"
        assert client_of(d).status().watched_dirs == [str(d.home.inbox)]
    finally:
        assert d.stop() == 0


def test_time_window_selector(home: Path, tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "make_drops", EXAMPLE.with_name("make_drops.py"))
    assert spec and spec.loader
    make_drops = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_drops)
    config = CONFIG.replace('target = "bikers"', 'target = "bikers"\ntime_column = "ts"\n'
                            '[dataset.schema]\nts = "datetime"')
    d = DaemonProcess(home, config=config).start()
    try:
        frames = make_drops.monthly_frames()[:3]
        for name, frame in frames:
            frame.write_csv(inbox(d) / f"{name}.csv")
        ingests(d, 3)
        client = client_of(d)
        assert client.get_dataset("bikes").time_column == "ts"
        out = tmp_path / "window.parquet"
        result = run_mlops(d.home.root, "data", "materialise",
                           "bikes@all[2011-01-15..2011-02-15]", "--out", str(out))
        assert result.returncode == 0, result.stderr
        window = pl.read_parquet(out)
        everything = pl.concat([f for _, f in frames])
        expected = everything.filter((pl.col("ts") >= pl.datetime(2011, 1, 15))
                                     & (pl.col("ts") < pl.datetime(2011, 2, 15)))
        assert window.height == expected.height > 0
        assert window["ts"].min() >= everything["ts"].min()
        bad = run_mlops(d.home.root, "data", "resolve", "bikes@all[2011-02-15..2011-01-15]")
        assert bad.returncode == 1 and "not before its end" in bad.stderr
    finally:
        assert d.stop() == 0
