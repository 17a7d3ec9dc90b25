"""A dataset's time column holding ISO-8601 text: parsed at ingest into typed datetimes (the
UTC offset applied, stored as UTC), or the file refused with a reason that names the
column, the rows, the values and the formats tried — never a library's error."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import polars as pl
import pytest

from jobs.context import JobContext
from jobs.ingest import read, run
from store.artifacts import ArtifactStore
from tests.daemon_process import DaemonProcess, run_mlops
from tests.test_ingest_daemon import client_of, ingests

CONFIG = """\
[ingest]
settle_s = 0.2

[[dataset]]
name = "trips"
target = "y"
time_column = "ts"

[[model]]
name = "t"
data = "trips@all"
target = "y"
task = "regression"
exclude = ["ts"]
rounds = 20
early_stopping = 5
min_rows = 50

[model.params]
num_leaves = 7
"""

START = datetime(2024, 1, 1, 0, 0, tzinfo=UTC)


def hours(first: int, count: int) -> list[datetime]:
    return [START + timedelta(hours=first + h) for h in range(count)]


def iso_variants(at: list[datetime]) -> list[str]:
    """The same instants written the ways ISO-8601 allows, mixed within one column."""
    out = []
    for i, t in enumerate(at):
        berlin = t.astimezone(ZoneInfo("Europe/Berlin"))
        out.append([
            t.strftime("%Y-%m-%dT%H:%M:%SZ"),
            berlin.isoformat(),                                 # +01:00
            t.strftime("%Y-%m-%d %H:%M:%S"),                    # no offset: UTC
            t.strftime("%Y-%m-%dT%H:%M:%S.%f") + "+00:00",
            t.strftime("%Y-%m-%dT%H:%M"),
            berlin.strftime("%Y-%m-%dT%H:%M:%S%z"),             # +0100
        ][i % 6])
    return out


def rows(at: list[datetime], text: list[str]) -> pl.DataFrame:
    return pl.DataFrame({"ts": text, "x": [float(i % 17) for i in range(len(at))],
                         "y": [float(i % 17) * 2 + (i % 3) for i in range(len(at))]})


def test_iso_text_in_the_time_column_becomes_utc_datetimes(home: Path, tmp_path: Path) -> None:
    d = DaemonProcess(home, config=CONFIG).start()
    try:
        client = client_of(d)
        folder = d.home.inbox / "trips"
        folder.mkdir(parents=True, exist_ok=True)
        january = hours(0, 300)
        # NDJSON and Parquet keep text as text; the CSV mixes six ISO-8601 spellings.
        with (tmp_path / "a.ndjson").open("wb") as f:
            for row in rows(january, [t.astimezone(
                    ZoneInfo("America/New_York")).isoformat()
                    for t in january]).iter_rows(named=True):
                f.write(orjson.dumps(row) + b"\n")
        february = hours(31 * 24, 300)
        rows(february, iso_variants(february)).write_csv(tmp_path / "b.csv")
        march = hours(60 * 24, 300)
        rows(march, [t.isoformat() for t in march]).write_parquet(tmp_path / "c.parquet")
        for n, name in enumerate(["a.ndjson", "b.csv", "c.parquet"], 1):
            (tmp_path / name).rename(folder / name)
            row = ingests(d, n, "trips")[0]
            assert (row.source_name, row.outcome) == (name, "accepted"), row.issues

        assert client.get_dataset("trips").schema_["ts"] == "datetime"
        profiles = [client.get_version("trips", v).profile["ts"] for v in (1, 2, 3)]
        assert [(p["dtype"], p["min"], p["max"]) for p in profiles] == [
            ("datetime", "2024-01-01T00:00:00", "2024-01-13T11:00:00"),
            ("datetime", "2024-02-01T00:00:00", "2024-02-13T11:00:00"),
            ("datetime", "2024-03-01T00:00:00", "2024-03-13T11:00:00")]

        # A time window selects on the instants, and training splits on them.
        out = tmp_path / "window.parquet"
        result = run_mlops(d.home.root, "data", "materialise",
                           "trips@all[2024-01-13T00:00..2024-02-01T06:00]", "--out", str(out))
        assert result.returncode == 0, result.stderr
        window = pl.read_parquet(out)
        assert window.schema["ts"] == pl.Datetime("us")
        assert window.height == 12 + 6
        job = client.wait_job(client.train("t", reason="test").id, timeout=300)
        assert job.state == "succeeded", job.error
    finally:
        assert d.stop() == 0


def test_a_time_column_that_is_not_iso_text_is_refused_with_its_reason(home: Path,
                                                                       tmp_path: Path) -> None:
    d = DaemonProcess(home, config=CONFIG).start()
    try:
        client = client_of(d)
        folder = d.home.inbox / "trips"
        folder.mkdir(parents=True, exist_ok=True)
        at = hours(0, 100)
        text = [t.isoformat() for t in at]
        text[6], text[41] = "yesterday", "2024-02-30T10:00:00Z"
        rows(at, text).write_csv(tmp_path / "bad.csv")
        with (tmp_path / "bad.ndjson").open("wb") as f:
            for row in rows(at, text).iter_rows(named=True):
                f.write(orjson.dumps(row) + b"\n")
        pl.DataFrame({"ts": list(range(100)), "x": [1.0] * 100, "y": [2.0] * 100}).write_csv(
            tmp_path / "numbers.csv")
        for name in ["bad.csv", "bad.ndjson", "numbers.csv"]:
            (tmp_path / name).rename(folder / name)
        found = {r.source_name: r for r in ingests(d, 3, "trips")}
        assert {r.outcome for r in found.values()} == {"rejected"}
        for name in ["bad.csv", "bad.ndjson"]:
            [error] = found[name].issues
            assert error["check"] == "time_column" and error["column"] == "ts"
            assert error["rows"] == [7, 42]
            assert error["values"] == ["yesterday", "2024-02-30T10:00:00Z"]
            message = error["message"]
            assert message.startswith("column 'ts' is the dataset's time column, but 2 of "
                                      "its 100 values are not ISO-8601 dates or datetimes: "
                                      "row 7 'yesterday', row 42 '2024-02-30T10:00:00Z'")
            assert "YYYY-MM-DDTHH:MM[:SS[.ffffff]]" in message and "polars" not in message.lower()
            kept = Path(found[name].quarantine_path)
            assert kept.exists() and kept.with_name(kept.name + ".reason.json").exists()
        [error] = found["numbers.csv"].issues
        assert error["check"] == "time_column" and "holds int64 values" in error["message"]
        assert client.list_versions("trips") == []
        assert client.health().status == "ok"
    finally:
        assert d.stop() == 0


# -- the ingest job on its own -------------------------------------------------------------


@pytest.fixture
def ctx(tmp_path: Path) -> JobContext:
    return JobContext(job_id=1, log=logging.getLogger("test.times"),
                      artifacts=ArtifactStore(tmp_path / "artifacts"),
                      emit=lambda *a, **k: None, home=tmp_path)


def ingest(ctx: JobContext, path: Path, **spec: object) -> dict:
    return run({"dataset": "d", "path": str(path), "spec": {"time_column": "ts", **spec}}, ctx)


@pytest.mark.parametrize("streaming", [False, True])
def test_offsets_are_applied_and_the_instants_kept(ctx: JobContext, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   streaming: bool) -> None:
    if streaming:
        monkeypatch.setattr(read, "STREAMING_BYTES", 0)
    path = tmp_path / "t.ndjson"
    path.write_text('{"ts": "2024-06-30T23:30:00-02:00", "y": 1}\n'
                    '{"ts": "2024-07-01T03:00:00+0300", "y": 2}\n'
                    '{"ts": "2024-07-01 00:15", "y": 3}\n'
                    '{"ts": null, "y": 4}\n')
    result = ingest(ctx, path)
    assert result["outcome"] == "accepted", result["errors"]
    assert result["schema"]["ts"] == "datetime"
    stored = pl.read_parquet(ctx.artifacts.verify(result["snapshot_sha"]))
    assert stored["ts"].to_list() == [datetime(2024, 7, 1, 1, 30), datetime(2024, 7, 1, 0, 0),
                                      datetime(2024, 7, 1, 0, 15), None]


def test_dates_stay_dates_and_a_missing_time_column_is_named(ctx: JobContext,
                                                             tmp_path: Path) -> None:
    path = tmp_path / "days.ndjson"
    path.write_text('{"ts": "2024-01-31", "y": 1}\n{"ts": "2024-02-01", "y": 2}\n')
    result = ingest(ctx, path)
    assert result["outcome"] == "accepted" and result["schema"]["ts"] == "date"
    other = tmp_path / "other.csv"
    other.write_text("when,y\n2024-01-31,1\n")
    result = ingest(ctx, other)
    assert result["outcome"] == "rejected"
    [error] = result["errors"]
    assert error["check"] == "time_column"
    assert error["message"] == ("the dataset's time column 'ts' is missing (columns: "
                                "'when', 'y')")


def test_a_time_column_declared_after_text_times_were_stored_is_explained(
        home: Path, tmp_path: Path) -> None:
    """Versions stored before `ts` was the time column hold it as text: a time window on
    them, and the next file (now parsed), say so in words — no raw polars error."""
    d = DaemonProcess(home, config=CONFIG.replace('time_column = "ts"\n', "")).start()
    try:
        at = hours(0, 100)
        (d.home.inbox / "trips").mkdir(parents=True, exist_ok=True)
        with (tmp_path / "old.ndjson").open("wb") as f:
            for row in rows(at, [t.isoformat() for t in at]).iter_rows(named=True):
                f.write(orjson.dumps(row) + b"\n")
        (tmp_path / "old.ndjson").rename(d.home.inbox / "trips" / "old.ndjson")
        assert ingests(d, 1, "trips")[0].outcome == "accepted"
        assert client_of(d).get_dataset("trips").schema_["ts"] == "string"
    finally:
        assert d.stop() == 0
    d = DaemonProcess(home, config=CONFIG).start()
    try:
        out = tmp_path / "window.parquet"
        result = run_mlops(d.home.root, "data", "materialise",
                           "trips@all[2024-01-02..2024-01-03]", "--out", str(out))
        assert result.returncode == 1
        assert ("time column 'ts' of trips@1 is text (str), not dates or datetimes"
                in result.stdout + result.stderr), result.stdout + result.stderr
        assert "polars" not in (result.stdout + result.stderr).lower()
        later = hours(200, 100)
        rows(later, [t.isoformat() for t in later]).write_ndjson(tmp_path / "new.ndjson")
        (tmp_path / "new.ndjson").rename(d.home.inbox / "trips" / "new.ndjson")
        row = ingests(d, 2, "trips")[0]
        assert row.outcome == "rejected" and row.schema_change["retyped"] == {
            "ts": ["string", "datetime"]}
    finally:
        assert d.stop() == 0
