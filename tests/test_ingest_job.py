"""The ingest job, called as a plain function on real files with a real artifact store."""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import random
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import zstandard

from jobs.context import InvalidParams, JobContext
from jobs.ingest import check_params, read, run, snapshot
from store.artifacts import ArtifactStore

BIKESHARE = Path(__file__).resolve().parents[1] / "examples/bikeshare/bikeshare-2011-hourly.csv"
BIKE_SCHEMA = {
    "season": "int64", "mnth": "string", "day": "int64", "hr": "int64", "holiday": "int64",
    "weekday": "int64", "workingday": "int64", "weathersit": "string", "temp": "float64",
    "atemp": "float64", "hum": "float64", "windspeed": "float64", "casual": "int64",
    "registered": "int64", "bikers": "int64",
}


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, type: str, **data: Any) -> None:
        self.events.append((type, data))


@pytest.fixture
def ctx(tmp_path: Path) -> JobContext:
    return JobContext(
        job_id=7,
        log=logging.getLogger("test.ingest"),
        artifacts=ArtifactStore(tmp_path / "artifacts"),
        emit=Recorder(),
        home=tmp_path,
    )


@pytest.fixture(scope="module")
def bike() -> pl.DataFrame:
    return pl.read_csv(BIKESHARE)


def ingest(ctx: JobContext, path: Path, spec: dict | None = None, **params: Any) -> dict:
    if not path.resolve().is_relative_to(ctx.home.resolve()):
        # The job reads only files inside the home: shipped examples are copied in first.
        staged = ctx.home / "staged" / path.name
        staged.parent.mkdir(exist_ok=True)
        shutil.copy2(path, staged)
        path = staged
    result = run({"dataset": "bikeshare", "path": str(path), "spec": spec or {}, **params}, ctx)
    # plain JSON, no NaN or infinity anywhere
    assert json.loads(json.dumps(result, allow_nan=False)) == result
    assert not list((ctx.artifacts.root / "tmp").glob("*")), "temp files left behind"
    return result


def close(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return a == pytest.approx(b, rel=1e-12)
    return a == b


def only(result: dict, check: str, level: str = "errors") -> dict:
    found = [i for i in result[level] if i["check"] == check]
    assert found, f"no {check} in {level}: {result['errors']} {result['warnings']}"
    return found[0]


def drop(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / "inbox" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)
    return path


def bike_text(transform=None) -> str:
    lines = BIKESHARE.read_text().splitlines(keepends=True)
    return "".join(transform(lines) if transform else lines)


# -- the happy path ---------------------------------------------------------------------------


def test_bikeshare_is_accepted_with_a_sane_profile(ctx: JobContext, bike: pl.DataFrame) -> None:
    result = ingest(ctx, BIKESHARE, {"target": "bikers"})
    assert result["outcome"] == "accepted", result["errors"]
    assert result["errors"] == [] and result["warnings"] == []
    assert result["content_hash"] == hashlib.sha256(BIKESHARE.read_bytes()).hexdigest()
    assert (result["format"], result["compression"]) == ("csv", None)
    assert result["size"] == BIKESHARE.stat().st_size
    assert (result["n_rows"], result["n_columns"]) == (8645, 15)
    assert result["schema"] == BIKE_SCHEMA  # "hr" is quoted in the file, still a number
    assert list(result["schema"]) == list(BIKE_SCHEMA)
    assert len(result["schema_hash"]) == 64 and result["schema_change"] is None

    temp = result["profile"]["temp"]
    assert temp["kind"] == "numeric" and temp["dtype"] == "float64"
    assert (temp["count"], temp["nulls"], temp["null_share"]) == (8645, 0, 0.0)
    assert temp["min"] == 0.02 and temp["max"] == 0.96 and 0.45 < temp["mean"] < 0.53
    assert 0.15 < temp["std"] < 0.25 and temp["nan_count"] == temp["inf_count"] == 0
    values = temp["quantiles"]["values"]
    assert temp["quantiles"]["probs"][0] == 0 and temp["quantiles"]["probs"][-1] == 1
    assert values == sorted(values) and values[0] == 0.02 and values[-1] == 0.96
    assert values[5] == pytest.approx(bike["temp"].median())
    hist = temp["histogram"]
    assert len(hist["edges"]) == 21 and len(hist["counts"]) == 20 and sum(hist["counts"]) == 8645
    assert hist["edges"][0] == 0.02 and hist["edges"][-1] == pytest.approx(0.96)
    mnth = result["profile"]["mnth"]
    assert mnth["kind"] == "categorical" and mnth["n_unique"] == 12
    assert sum(mnth["categories"].values()) == 8645 and mnth["categories"]["Jan"] == 688
    counts = list(mnth["categories"].values())
    assert counts == sorted(counts, reverse=True)

    stored = pl.read_parquet(ctx.artifacts.verify(result["snapshot_sha"]))
    assert stored.equals(bike)
    assert set(result["timings"]) == {"hash_s", "read_s", "validate_s", "profile_s",
                                      "snapshot_s"}
    steps = [data["step"] for _, data in ctx.emit.events]
    # the hash runs beside the read: it is reported when the read is done
    assert steps == ["read", "hashed", "profiled", "validated", "stored"]


def test_same_bytes_again_are_a_duplicate(ctx: JobContext) -> None:
    sha = hashlib.sha256(BIKESHARE.read_bytes()).hexdigest()
    result = ingest(ctx, BIKESHARE, {}, known_hashes={sha: 3})
    assert result["outcome"] == "duplicate" and result["duplicate_of"] == 3
    assert result["content_hash"] == sha
    assert result["snapshot_sha"] is None and result["n_rows"] is None
    assert not (ctx.artifacts.root / "sha256").exists()


@pytest.mark.parametrize("name", ["jan.csv.gz", "jan.csv.zst", "jan.parquet", "jan.pq.zst",
                                  "jan.ndjson", "jan.jsonl.gz"])
def test_other_formats_give_the_same_data(
    ctx: JobContext, tmp_path: Path, bike: pl.DataFrame, name: str
) -> None:
    plain = tmp_path / "plain"
    if ".parquet" in name or ".pq" in name:
        bike.write_parquet(plain)
    elif "json" in name:
        bike.write_ndjson(plain)
    else:
        plain.write_bytes(BIKESHARE.read_bytes())
    data = plain.read_bytes()
    if name.endswith(".gz"):
        data = gzip.compress(data)
    elif name.endswith(".zst"):
        data = zstandard.ZstdCompressor().compress(data)
    path = drop(tmp_path, name, data)
    result = ingest(ctx, path, {"schema": BIKE_SCHEMA, "target": "bikers"})
    assert result["outcome"] == "accepted", result["errors"]
    assert result["schema"] == BIKE_SCHEMA and result["schema_change"] is None
    assert result["content_hash"] == hashlib.sha256(data).hexdigest()
    assert result["compression"] == {"gz": "gzip", "zst": "zstd"}.get(name.rsplit(".", 1)[1])
    assert pl.read_parquet(ctx.artifacts.verify(result["snapshot_sha"])).equals(bike)


def test_quoted_fields_with_newlines_are_read(ctx: JobContext, tmp_path: Path) -> None:
    path = drop(tmp_path, "notes.csv", 'id,note,value\n1,"line one\nline two",3.5\n'
                '2,"say ""hi""",4\n3,plain,5\n')
    result = ingest(ctx, path)
    assert result["outcome"] == "accepted", result["errors"]
    assert result["n_rows"] == 3
    assert result["schema"] == {"id": "int64", "note": "string", "value": "float64"}
    assert result["profile"]["note"]["categories"] == {
        "line one\nline two": 1, "plain": 1, 'say "hi"': 1}


def test_a_bom_is_fine_and_not_part_of_the_first_name(ctx: JobContext, tmp_path: Path) -> None:
    path = drop(tmp_path, "bom.csv", b"\xef\xbb\xbf" + BIKESHARE.read_bytes())
    result = ingest(ctx, path, {"schema": BIKE_SCHEMA})
    assert result["outcome"] == "accepted", result["errors"]
    assert next(iter(result["schema"])) == "season"


def test_unicode_column_names(ctx: JobContext, tmp_path: Path) -> None:
    path = drop(tmp_path, "u.csv", "température,名前,ñandú 🐦\n21.5,東京,1\n19.0,大阪,2\n")
    result = ingest(ctx, path)
    assert result["outcome"] == "accepted", result["errors"]
    assert result["schema"] == {"température": "float64", "名前": "string", "ñandú 🐦": "int64"}


def test_ten_thousand_columns(ctx: JobContext, tmp_path: Path) -> None:
    wide = pl.DataFrame({f"c{i}": range(i, i + 200) for i in range(10_000)})
    path = tmp_path / "inbox" / "wide.csv"
    path.parent.mkdir(parents=True)
    wide.write_csv(path)
    result = ingest(ctx, path)
    assert result["outcome"] == "accepted", result["errors"][:2]
    assert (result["n_rows"], result["n_columns"]) == (200, 10_000)
    assert result["profile"]["c9999"]["count"] == 200
    assert result["profile"]["c9999"]["min"] == 9999


def test_dates_and_datetimes_are_recognised(ctx: JobContext, tmp_path: Path) -> None:
    path = drop(tmp_path, "d.csv", "day,at,ok\n2024-01-01,2024-01-01 10:00:00,true\n"
                "2024-03-01,2024-03-01T12:30:00,false\n")
    result = ingest(ctx, path)
    assert result["outcome"] == "accepted", result["errors"]
    assert result["schema"] == {"day": "date", "at": "datetime", "ok": "bool"}
    day = result["profile"]["day"]
    assert day["kind"] == "datetime" and (day["min"], day["max"]) == ("2024-01-01", "2024-03-01")
    assert sum(day["histogram"]["counts"]) == 2
    assert result["profile"]["ok"]["true"] == 1 and result["profile"]["ok"]["false"] == 1


@pytest.mark.parametrize("name", ["big.csv", "big.parquet"])
def test_a_large_file_streams_to_the_same_result(
    ctx: JobContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bike: pl.DataFrame,
    name: str,
) -> None:
    path = tmp_path / name
    if name.endswith(".csv"):
        bike.write_csv(path)
    else:
        bike.write_parquet(path)
    reference = {"version": 1, "columns": {"weathersit": {"categories": ["clear"]}}}
    eager = ingest(ctx, path, {"target": "bikers"}, reference=reference)
    monkeypatch.setattr(read, "STREAMING_BYTES", 0)
    streamed = ingest(ctx, path, {"target": "bikers"}, reference=reference)
    assert streamed["outcome"] == "accepted", streamed["errors"]
    assert close(streamed["profile"], eager["profile"])  # sums in another order: last bits
    assert streamed["schema"] == eager["schema"]
    assert streamed["warnings"] == eager["warnings"] and streamed["warnings"]
    assert pl.read_parquet(ctx.artifacts.verify(streamed["snapshot_sha"])).equals(bike)


def test_snapshots_are_deterministic(ctx: JobContext, tmp_path: Path) -> None:
    first = ingest(ctx, BIKESHARE)
    copy = drop(tmp_path, "again.csv", BIKESHARE.read_bytes())
    second = ingest(ctx, copy)
    assert second["snapshot_sha"] == first["snapshot_sha"]
    frame = pl.read_parquet(ctx.artifacts.path(first["snapshot_sha"]))
    snapshot.write(frame, tmp_path / "a.parquet")
    snapshot.write(frame, tmp_path / "b.parquet")
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()


# -- files that cannot be read ---------------------------------------------------------------


def test_binary_junk_named_csv(ctx: JobContext, tmp_path: Path) -> None:
    path = drop(tmp_path, "junk.csv", random.Random(1).randbytes(5000))
    result = ingest(ctx, path)
    assert result["outcome"] == "rejected"
    assert "is not text" in only(result, "binary")["message"]
    assert result["content_hash"] is not None


def test_csv_cut_mid_row(ctx: JobContext, tmp_path: Path) -> None:
    data = BIKESHARE.read_bytes()
    cut = data.rindex(b"\n", 0, len(data) - 1) + 1  # the start of the last row
    for _ in range(5):
        cut = data.index(b",", cut) + 1
    path = drop(tmp_path, "cut.csv", data[: cut - 1])  # five fields, then nothing
    result = ingest(ctx, path)
    assert result["outcome"] == "rejected"
    assert "truncated: the last row has 5 of 15 fields" in only(result, "truncated")["message"]


def test_csv_ending_inside_a_quoted_field(ctx: JobContext, tmp_path: Path) -> None:
    path = drop(tmp_path, "q.csv", 'a,b\n1,"ok"\n2,"never clo')
    result = ingest(ctx, path)
    assert result["outcome"] == "rejected"
    assert "the file ends inside a quoted field" in only(result, "quotes")["message"]


def test_wrong_delimiter(ctx: JobContext, tmp_path: Path) -> None:
    path = drop(tmp_path, "semi.csv", bike_text().replace(",", ";"))
    result = ingest(ctx, path)
    message = only(result, "delimiter")["message"]
    assert result["outcome"] == "rejected"
    assert "only one column found; the file seems to use ';' as delimiter" in message
    assert "set delimiter in the dataset's config" in message
    # and with the delimiter set, it reads
    assert ingest(ctx, path, {"delimiter": ";"})["outcome"] == "accepted"


def test_bytes_that_are_not_utf8_are_located(ctx: JobContext, tmp_path: Path) -> None:
    data = b"name,n\nok,1\nfine,2\nbad\xff\xfe,3\n"
    path = drop(tmp_path, "latin.csv", data)
    result = ingest(ctx, path)
    message = only(result, "encoding")["message"]
    assert result["outcome"] == "rejected"
    offset = data.index(b"\xff")
    assert f"byte offset {offset} (line 4)" in message and "0xff" in message


def test_an_empty_column_name(ctx: JobContext, tmp_path: Path) -> None:
    result = ingest(ctx, drop(tmp_path, "e.csv", "a,,c\n1,2,3\n"))
    assert result["outcome"] == "rejected"
    assert "empty column name at position 2" in only(result, "header")["message"]


def test_duplicate_column_names(ctx: JobContext, tmp_path: Path) -> None:
    result = ingest(ctx, drop(tmp_path, "d.csv", "a,b,a,c,b\n1,2,3,4,5\n"))
    assert result["outcome"] == "rejected"
    assert "duplicate column names: 'a', 'b'" in only(result, "header")["message"]


def test_empty_file(ctx: JobContext, tmp_path: Path) -> None:
    result = ingest(ctx, drop(tmp_path, "empty.csv", b""))
    assert result["outcome"] == "rejected" and result["size"] == 0
    assert "empty file" in only(result, "empty")["message"]


def test_header_only(ctx: JobContext, tmp_path: Path) -> None:
    result = ingest(ctx, drop(tmp_path, "h.csv", BIKESHARE.read_text().splitlines()[0] + "\n"))
    assert result["outcome"] == "rejected"
    assert only(result, "no_rows")["message"] == "no data rows (header only)"


def test_unsupported_file_type(ctx: JobContext, tmp_path: Path) -> None:
    result = ingest(ctx, drop(tmp_path, "sheet.xlsx", b"PK\x03\x04"))
    assert result["outcome"] == "rejected"
    assert "unsupported file type" in only(result, "unsupported")["message"]


def test_corrupt_gzip_and_truncated_gzip(ctx: JobContext, tmp_path: Path) -> None:
    bad = ingest(ctx, drop(tmp_path, "bad.csv.gz", b"this is not gzip at all"))
    assert bad["outcome"] == "rejected"
    assert "could not be decompressed as gzip" in only(bad, "decompress")["message"]
    packed = gzip.compress(BIKESHARE.read_bytes())
    cut = ingest(ctx, drop(tmp_path, "cut.csv.gz", packed[: len(packed) // 2]))
    assert cut["outcome"] == "rejected"
    assert "truncated" in only(cut, "decompress")["message"]


def test_truncated_zstd(ctx: JobContext, tmp_path: Path) -> None:
    packed = zstandard.ZstdCompressor().compress(BIKESHARE.read_bytes())
    result = ingest(ctx, drop(tmp_path, "cut.csv.zst", packed[: len(packed) // 2]))
    assert result["outcome"] == "rejected"
    assert "could not be decompressed as zstd" in only(result, "decompress")["message"]


def test_truncated_parquet(ctx: JobContext, tmp_path: Path, bike: pl.DataFrame) -> None:
    whole = tmp_path / "whole.parquet"
    bike.write_parquet(whole)
    data = whole.read_bytes()
    result = ingest(ctx, drop(tmp_path, "cut.parquet", data[: len(data) // 2]))
    assert result["outcome"] == "rejected"
    assert "is not a complete Parquet file" in only(result, "parquet")["message"]


def test_broken_ndjson_line_is_named(ctx: JobContext, tmp_path: Path) -> None:
    path = drop(tmp_path, "b.ndjson", '{"a": 1}\n{"a": 2}\n{"a": 3,\n')
    result = ingest(ctx, path)
    assert result["outcome"] == "rejected"
    assert "line 3 is not valid JSON" in only(result, "json")["message"]


def test_a_symlink_is_refused_and_its_target_untouched(ctx: JobContext, tmp_path: Path) -> None:
    target = drop(tmp_path, "real.csv", "a,b\n1,2\n")
    link = tmp_path / "inbox" / "link.csv"
    link.symlink_to(target)
    result = ingest(ctx, link)
    assert result["outcome"] == "rejected"
    assert "symlinks are not followed" in only(result, "symlink")["message"]
    assert target.read_text() == "a,b\n1,2\n" and link.is_symlink()
    assert result["content_hash"] is None


def test_a_file_deleted_before_reading_vanished(ctx: JobContext, tmp_path: Path) -> None:
    result = ingest(ctx, tmp_path / "inbox" / "gone.csv")
    assert result["outcome"] == "vanished"
    assert "disappeared" in only(result, "vanished")["message"]


def test_a_file_rewritten_while_read_is_changed(
    ctx: JobContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = drop(tmp_path, "live.csv", "a,b\n1,2\n")
    real_load = read.load

    def load_while_appending(*args: Any, **kwargs: Any) -> Any:
        table = real_load(*args, **kwargs)
        with path.open("a") as f:
            f.write("3,4\n")
        return table

    monkeypatch.setattr(read, "load", load_while_appending)
    result = ingest(ctx, path)
    assert result["outcome"] == "changed" and result["snapshot_sha"] is None
    assert not (ctx.artifacts.root / "sha256").exists()


def test_a_file_rewritten_since_the_daemon_saw_it_is_changed(
    ctx: JobContext, tmp_path: Path
) -> None:
    path = drop(tmp_path, "late.csv", "a,b\n1,2\n")
    st = path.lstat()
    seen = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "inode": st.st_ino}
    assert ingest(ctx, path, identity=seen, received_at="2026-01-01T00:00:00+00:00")[
        "outcome"] == "accepted"
    path.write_text("a,b\n1,2\n3,4\n")
    assert ingest(ctx, path, identity=seen)["outcome"] == "changed"


# -- schema ----------------------------------------------------------------------------------


def test_parquet_with_a_changed_schema(
    ctx: JobContext, tmp_path: Path, bike: pl.DataFrame
) -> None:
    changed = bike.drop("casual").with_columns(pl.col("temp").cast(pl.String), extra=pl.lit(1))
    whole = tmp_path / "x.parquet"
    changed.write_parquet(whole)
    path = drop(tmp_path, "changed.parquet", whole.read_bytes())
    expected_change = {"added": ["extra"], "removed": ["casual"],
                       "retyped": {"temp": ["float64", "string"]}}

    result = ingest(ctx, path, {"schema": BIKE_SCHEMA})
    assert result["outcome"] == "rejected" and result["snapshot_sha"] is None
    assert result["schema_change"] == expected_change
    message = only(result, "schema_change")["message"]
    assert "added 'extra'" in message and "removed 'casual'" in message
    assert "'temp' changed from float64 to string" in message

    result = ingest(ctx, path, {"schema": BIKE_SCHEMA, "on_schema_change": "accept"})
    assert result["outcome"] == "accepted", result["errors"]
    assert result["schema_change"] == expected_change
    assert only(result, "schema_change", "warnings")
    assert result["schema"]["temp"] == "string" and "casual" not in result["schema"]
    assert list(result["schema"])[-1] == "extra"


def test_declared_columns_are_required(ctx: JobContext, tmp_path: Path) -> None:
    path = drop(tmp_path, "no_temp.csv", bike_text(
        lambda lines: [",".join(line.split(",")[:8] + line.split(",")[9:]) for line in lines]))
    result = ingest(ctx, path, {"schema": BIKE_SCHEMA, "schema_declared": True,
                                "on_schema_change": "accept"})
    assert result["outcome"] == "rejected"
    assert "missing required column(s): 'temp'" in only(result, "missing_columns")["message"]


def test_a_value_that_is_not_an_int(ctx: JobContext, tmp_path: Path) -> None:
    def spoil(lines: list[str]) -> list[str]:
        fields = lines[17].split(",")
        fields[3] = '"x7"'
        lines[17] = ",".join(fields)
        return lines

    path = drop(tmp_path, "spoilt.csv", bike_text(spoil))
    result = ingest(ctx, path, {"schema": BIKE_SCHEMA})
    problem = only(result, "dtype")
    assert result["outcome"] == "rejected"
    assert problem["message"] == "column 'hr' has values that are not int64: row 17 'x7'"
    assert (problem["column"], problem["rows"], problem["values"]) == ("hr", [17], ["x7"])


def test_a_retyped_csv_column_is_accepted_when_changes_are(
    ctx: JobContext, tmp_path: Path
) -> None:
    path = drop(tmp_path, "r.csv", "a,b\n1,x\n2.5,y\n")
    spec = {"schema": {"a": "int64", "b": "string"}, "on_schema_change": "accept"}
    result = ingest(ctx, path, spec)
    assert result["outcome"] == "accepted", result["errors"]
    assert result["schema_change"] == {"added": [], "removed": [],
                                       "retyped": {"a": ["int64", "float64"]}}


def test_target_missing(ctx: JobContext) -> None:
    result = ingest(ctx, BIKESHARE, {"target": "riders"})
    assert result["outcome"] == "rejected"
    assert "the target column 'riders' is missing" in only(result, "target")["message"]


def test_target_all_null(ctx: JobContext, tmp_path: Path) -> None:
    path = drop(tmp_path, "nolabel.csv", bike_text(
        lambda lines: [lines[0]] + [line.rsplit(",", 1)[0] + ",\n" for line in lines[1:]]))
    result = ingest(ctx, path, {"schema": BIKE_SCHEMA, "target": "bikers"})
    assert result["outcome"] == "rejected"
    assert "'bikers' has no values: all 8645 rows are null" in only(result, "target")["message"]


# -- data checks -------------------------------------------------------------------------------


def _blank_hum(lines: list[str]) -> list[str]:
    out = [lines[0]]
    for i, line in enumerate(lines[1:], start=1):
        fields = line.split(",")
        if i % 5 == 0:
            fields[10] = ""
        out.append(",".join(fields))
    return out


def test_null_share_over_the_rule_warns(ctx: JobContext, tmp_path: Path) -> None:
    path = drop(tmp_path, "holes.csv", bike_text(_blank_hum))
    result = ingest(ctx, path, {"schema": BIKE_SCHEMA,
                                "columns": {"hum": {"max_null_share": 0.1}}})
    assert result["outcome"] == "accepted"
    problem = only(result, "null_share", "warnings")
    assert problem["column"] == "hum" and problem["rows"] == [5, 10, 15, 20, 25]
    assert "column 'hum' is 20.0% null (1729 of 8645 rows" in problem["message"]
    assert "over the limit of 10.0%" in problem["message"]
    # the level makes it an error
    rule = {"hum": {"max_null_share": 0.1, "level": "error"}}
    assert ingest(ctx, path, {"schema": BIKE_SCHEMA, "columns": rule})["outcome"] == "rejected"


def test_null_share_learned_from_the_reference(ctx: JobContext, tmp_path: Path) -> None:
    path = drop(tmp_path, "holes.csv", bike_text(_blank_hum))
    reference = {"version": 1, "columns": {"hum": {"null_share": 0.0}}}
    result = ingest(ctx, path, {"schema": BIKE_SCHEMA}, reference=reference)
    assert "reference null share + 5%" in only(result, "null_share", "warnings")["message"]


def test_out_of_declared_range_is_an_error(ctx: JobContext) -> None:
    result = ingest(ctx, BIKESHARE, {"columns": {"temp": {"min": 0, "max": 0.8}}})
    problem = only(result, "out_of_range")
    assert result["outcome"] == "rejected"
    assert "outside the declared range [0, 0.8]" in problem["message"]
    assert problem["values"] and all(float(v) > 0.8 for v in problem["values"])
    assert problem["rule"]["from"] == "declared"


def test_out_of_learned_range_warns(ctx: JobContext) -> None:
    reference = {"version": 2, "columns": {"temp": {"min": 0.2, "max": 0.6}}}
    result = ingest(ctx, BIKESHARE, {}, reference=reference)
    assert result["outcome"] == "accepted"
    problem = only(result, "out_of_range", "warnings")
    assert "range learned from the reference data (version 2" in problem["message"]
    assert problem["rule"]["min"] == pytest.approx(0.16)
    assert problem["rule"]["max"] == pytest.approx(0.64)


def test_unseen_categories_warn(ctx: JobContext) -> None:
    reference = {"version": 1, "columns": {"weathersit": {"categories": ["clear",
                                                                         "cloudy/misty"]}}}
    result = ingest(ctx, BIKESHARE, {}, reference=reference)
    assert result["outcome"] == "accepted"
    problem = only(result, "unseen_categories", "warnings")
    assert problem["values"] == ["light rain/snow", "heavy rain/snow"]
    assert "782 values (9.0%) in categories not seen" in problem["message"]
    assert "'light rain/snow' (781)" in problem["message"]


def test_allowed_values(ctx: JobContext) -> None:
    rule = {"weathersit": {"allowed": ["clear", "cloudy/misty", "light rain/snow"]},
            "season": {"allowed": [1, 2, 3, 4]}}
    result = ingest(ctx, BIKESHARE, {"columns": rule})
    assert result["outcome"] == "rejected"
    problem = only(result, "allowed")
    assert problem["column"] == "weathersit" and problem["values"] == ["heavy rain/snow"]
    assert len(result["errors"]) == 1


def test_nan_and_inf_warn(ctx: JobContext, tmp_path: Path) -> None:
    path = drop(tmp_path, "nan.csv", "x,y\n1.5,1\nnan,2\ninf,3\n2.5,4\n-inf,5\n")
    result = ingest(ctx, path)
    assert result["outcome"] == "accepted"
    problem = only(result, "non_finite", "warnings")
    assert "column 'x' has 1 NaN and 2 infinite values" in problem["message"]
    assert problem["rows"] == [2, 3, 5]
    x = result["profile"]["x"]
    assert (x["nan_count"], x["inf_count"], x["min"], x["max"]) == (1, 2, 1.5, 2.5)


def test_duplicate_rows_warn(ctx: JobContext, tmp_path: Path) -> None:
    path = drop(tmp_path, "dups.csv", bike_text(lambda lines: lines + lines[1:201]))
    result = ingest(ctx, path)
    assert result["outcome"] == "accepted"
    problem = only(result, "duplicates", "warnings")
    assert problem["rows"] == [8646, 8647, 8648, 8649, 8650]
    assert "200 rows (2.3%) repeat an earlier row" in problem["message"]


# -- params ----------------------------------------------------------------------------------


def test_check_params_names_the_field_and_is_idempotent() -> None:
    good = {"dataset": "b", "path": "/x/y.csv", "spec": {"schema": {"a": "int64"},
                                                          "columns": {"a": {"min": 0}}}}
    checked = check_params(good)
    assert check_params(checked) == checked
    assert checked["spec"]["rules"]["max_out_of_range_share"] == 0.01
    bad_cases = [
        ({**good, "path": "rel.csv"}, "path"),
        ({**good, "spec": {"schema": {"a": "int32"}}}, "spec.schema.a"),
        ({**good, "spec": {"columns": {"a": {"min": 2, "max": 1}}}}, "spec.columns.a.min"),
        ({**good, "spec": {"rules": {"max_unseen_share": 2}}}, "spec.rules.max_unseen_share"),
        ({**good, "spec": {"delimiter": ";;"}}, "spec.delimiter"),
        ({**good, "spec": {"on_schema_change": "ignore"}}, "spec.on_schema_change"),
        ({**good, "known_hashes": {"abc": 1}}, "known_hashes"),
        ({**good, "colour": 1}, "colour"),
    ]
    for params, field in bad_cases:
        with pytest.raises(InvalidParams) as caught:
            check_params(params)
        assert caught.value.field == field


def test_adopt_takes_over_a_temp_file(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "artifacts")
    first, second = store.tmp_path(".bin"), store.tmp_path(".bin")
    assert first != second and first.parent == tmp_path / "artifacts" / "tmp"
    first.write_bytes(b"blob")
    second.write_bytes(b"blob")
    sha = store.adopt(first)
    assert sha == hashlib.sha256(b"blob").hexdigest() and store.read_bytes(sha) == b"blob"
    assert store.adopt(second) == sha
    assert not first.exists() and not second.exists()
    outside = tmp_path / "elsewhere"
    outside.write_bytes(b"x")
    with pytest.raises(Exception, match="only files there are adopted"):
        store.adopt(outside)
    assert outside.exists()
    assert os.listdir(tmp_path / "artifacts" / "tmp") == []
