"""Malformed files dropped into a running daemon's inboxes (issue 14, "Bad input"): hypothesis
makes a table, writes it as CSV, NDJSON or Parquet, and spoils it (truncated, ragged rows,
duplicate or empty header names, invalid UTF-8, NUL bytes, mixed types, a huge header,
invalid JSON lines, a Parquet file cut short). Each file must end in exactly one place:

- a data version whose snapshot holds the table's rows and values (the original in .done/),
- or in quarantine beside a reason that names what is wrong — not "internal" (the reader
  crashed) and not "ingest_failed" (the worker died).

Some spoilings must be refused (a ragged row, a cut Parquet file, a line that is not JSON);
for others either end is right, as long as what is stored is what the file says. Each file
goes to a dataset of its own (auto-created), so no file's schema judges another's. One
daemon serves the module; the daemon must stay up throughout."""

from __future__ import annotations

import io
import itertools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlopsd.client.wire import IngestOut
from tests.daemon_process import DaemonProcess, wait_until

CONFIG = "[ingest]\nsettle_s = 0.1\nrescan_interval_s = 1\n"
NAMELESS_CHECKS = {"internal", "ingest_failed"}
_numbers = itertools.count(1)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    d = DaemonProcess(tmp_path_factory.mktemp("bad-input") / "home", "--workers", "2",
                      config=CONFIG).start()
    yield d
    assert d.stop() == 0, d.output()[-3000:]


# --- tables, and the files made of them --------------------------------------------------

COLUMN = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)
KINDS = {
    "int": st.integers(-10**9, 10**9),
    "float": st.floats(-1e9, 1e9, allow_nan=False).map(lambda x: round(x, 4)),
    # starts with "v": never read as a number, a date, a boolean or a null
    "str": st.from_regex(r"v[a-zA-Z ,;\"'é]{0,12}", fullmatch=True),
}


@st.composite
def tables(draw: st.DrawFn) -> pl.DataFrame:
    names = draw(st.lists(COLUMN, min_size=1, max_size=5, unique=True))
    rows = draw(st.integers(1, 25))
    columns = {}
    for name in names:
        kind = draw(st.sampled_from(sorted(KINDS)))
        columns[name] = pl.Series(name, draw(st.lists(KINDS[kind], min_size=rows,
                                                      max_size=rows)))
    return pl.DataFrame(columns)


@dataclass
class Drop:
    """A file to drop and what may become of it: `must` is "accept", "reject" or "either";
    `table`, when known, is what an accepted file must hold."""

    name: str
    data: bytes
    must: str
    spoiling: str
    table: pl.DataFrame | None = None


def _csv(frame: pl.DataFrame) -> bytes:
    return frame.write_csv().encode()


def _ndjson(frame: pl.DataFrame) -> bytes:
    return frame.write_ndjson().encode()


def _parquet(frame: pl.DataFrame) -> bytes:
    out = io.BytesIO()
    frame.write_parquet(out)
    return out.getvalue()


def _inside_a_value(data: bytes, insert: bytes, where: float) -> bytes:
    """`insert` just after a quote or letter in the body, so it lands inside a value."""
    body = data.index(b"\n") + 1
    spots = [i + 1 for i in range(body, len(data)) if data[i:i + 1].isalpha()] or [body]
    at = spots[int(where * (len(spots) - 1))]
    return data[:at] + insert + data[at:]


@st.composite
def csv_drops(draw: st.DrawFn) -> Drop:
    frame = draw(tables())
    data = _csv(frame)
    spoiling = draw(st.sampled_from([
        "none", "ragged", "duplicate_header", "empty_header_name", "invalid_utf8", "nul",
        "truncated", "mixed_types", "huge_header", "header_only"]))
    where = draw(st.floats(0, 1))
    first = frame.columns[0]
    if spoiling == "none":
        return Drop("t.csv", data, "accept", spoiling, frame)
    if spoiling == "ragged":
        extra = b"," + b",".join([b"1"] * (frame.width + 1)) + b"\n"
        return Drop("t.csv", data + extra, "reject", spoiling)
    if spoiling == "duplicate_header":
        header, rest = data.split(b"\n", 1)
        fields = header.split(b",")
        fields[-1] = fields[0]
        dup = b",".join(fields) + b"\n" + rest
        return Drop("t.csv", dup, "reject" if frame.width > 1 else "accept", spoiling,
                    frame if frame.width == 1 else None)
    if spoiling == "empty_header_name":
        header, rest = data.split(b"\n", 1)
        blank = header.replace(first.encode(), b"", 1) + b"\n" + rest
        return Drop("t.csv", blank, "either", spoiling)
    if spoiling == "invalid_utf8":
        return Drop("t.csv", _inside_a_value(data, b"\xff\xfe\xc3", where), "either", spoiling)
    if spoiling == "nul":
        return Drop("t.csv", _inside_a_value(data, b"\x00", where), "either", spoiling)
    if spoiling == "truncated":
        header_end = data.index(b"\n") + 1
        cut = header_end + int(where * (len(data) - header_end - 1))
        return Drop("t.csv", data[:cut], "either", spoiling)
    if spoiling == "mixed_types":
        numeric = [c for c, t in frame.schema.items() if t.is_numeric()]
        if not numeric:
            return Drop("t.csv", data, "accept", "none", frame)
        column = numeric[0]
        mixed = frame.with_columns(pl.col(column).cast(pl.String))
        mixed = mixed.with_columns(pl.when(pl.int_range(pl.len()) == pl.len() - 1)
                                   .then(pl.lit("vOops")).otherwise(pl.col(column))
                                   .alias(column))
        return Drop("t.csv", _csv(mixed), "either", spoiling, mixed)
    if spoiling == "huge_header":
        wide = pl.DataFrame({f"c{n}_{'x' * 40}": [n] for n in range(3000)})
        return Drop("t.csv", _csv(wide), "either", spoiling, wide)
    return Drop("t.csv", data.split(b"\n", 1)[0] + b"\n", "reject", spoiling)


@st.composite
def ndjson_drops(draw: st.DrawFn) -> Drop:
    frame = draw(tables())
    data = _ndjson(frame)
    lines = data.splitlines(keepends=True)
    spoiling = draw(st.sampled_from(["none", "invalid_line", "truncated", "not_an_object",
                                     "invalid_utf8", "nul", "mixed_types", "blank_lines"]))
    at = draw(st.integers(0, len(lines) - 1))
    if spoiling == "none":
        return Drop("t.ndjson", data, "accept", spoiling, frame)
    if spoiling == "invalid_line":
        bad = [*lines[:at], b'{"' + frame.columns[0].encode() + b'": 1,\n', *lines[at:]]
        return Drop("t.ndjson", b"".join(bad), "reject", spoiling)
    if spoiling == "truncated":
        last = lines[-1].rstrip(b"\n")
        cut = draw(st.integers(1, len(last) - 1))
        return Drop("t.ndjson", b"".join(lines[:-1]) + last[:cut], "reject", spoiling)
    if spoiling == "not_an_object":
        bad = [*lines[:at], b"[1, 2, 3]\n", *lines[at:]]
        return Drop("t.ndjson", b"".join(bad), "reject", spoiling)
    if spoiling == "invalid_utf8":
        return Drop("t.ndjson", data.replace(b'":', b'\xff":', 1), "either", spoiling)
    if spoiling == "nul":
        return Drop("t.ndjson", _inside_a_value(b"\n" + data, b"\x00", 0.5)[1:], "either",
                    spoiling)
    if spoiling == "blank_lines":
        return Drop("t.ndjson", b"\n".join(lines) + b"\n\n", "either", spoiling, frame)
    # mixed types: one row's first value as text of another kind
    column = frame.columns[0]
    row = orjson.loads(lines[at])
    row[column] = [1] if isinstance(row[column], str) else "vText"
    lines[at] = orjson.dumps(row) + b"\n"
    return Drop("t.ndjson", b"".join(lines), "either", spoiling)


@st.composite
def parquet_drops(draw: st.DrawFn) -> Drop:
    frame = draw(tables())
    data = _parquet(frame)
    spoiling = draw(st.sampled_from(["none", "cut_short", "no_footer", "not_parquet",
                                     "empty"]))
    if spoiling == "none":
        return Drop("t.parquet", data, "accept", spoiling, frame)
    if spoiling == "cut_short":
        cut = draw(st.integers(1, len(data) - 1))
        return Drop("t.parquet", data[:cut], "reject", spoiling)
    if spoiling == "no_footer":
        return Drop("t.parquet", data[:-8] + b"\0" * 8, "reject", spoiling)
    if spoiling == "not_parquet":
        return Drop("t.parquet", _csv(frame), "reject", spoiling)
    return Drop("t.parquet", b"", "reject", spoiling)


# --- dropping and judging ----------------------------------------------------------------


def _ended(d: DaemonProcess, dataset: str, name: str) -> IngestOut | None:
    """The ingest's final record, once the file is in its one place (not just recorded)."""
    assert d.client is not None
    done = [i for i in d.client.list_ingests(dataset=dataset)
            if i.outcome in ("accepted", "rejected")]
    if not done:
        return None
    ingest = done[0]
    if ingest.outcome == "accepted":
        return ingest if (d.home.inbox / dataset / ".done" / name).exists() else None
    where = Path(ingest.quarantine_path or "")
    reason = where.with_name(where.name + ".reason.json")
    return ingest if where.exists() and reason.exists() else None


def _judge(d: DaemonProcess, drop: Drop, dataset: str, ingest: IngestOut) -> str:
    assert d.client is not None
    inbox = d.home.inbox / dataset
    assert not (inbox / drop.name).exists(), "left in the inbox as well"
    if ingest.outcome == "rejected":
        assert drop.must != "accept", (drop.spoiling, ingest.issues)
        assert not (inbox / ".done" / drop.name).exists(), "quarantined and done"
        assert d.client.list_versions(dataset) == []
        where = Path(ingest.quarantine_path or "")
        assert where.read_bytes() == drop.data, "the quarantined file is the file dropped"
        reason = orjson.loads(where.with_name(where.name + ".reason.json").read_bytes())
        assert reason["errors"], reason
        for error in reason["errors"]:
            assert error["check"] not in NAMELESS_CHECKS, (drop.spoiling, error)
            assert error["message"].strip(), error
        return "quarantined"
    assert drop.must != "reject", (drop.spoiling, drop.data[:300])
    assert (inbox / ".done" / drop.name).read_bytes() == drop.data
    assert d.client.quarantine(dataset) == []
    [version] = d.client.list_versions(dataset)
    sha = version.snapshot_sha
    stored = pl.read_parquet(d.home.artifacts / "sha256" / sha[:2] / sha)
    assert stored.height == version.n_rows and stored.width == version.n_columns
    if drop.table is not None:
        _same_content(stored, drop.table, drop.spoiling)
    return "ingested"


def _same_content(stored: pl.DataFrame, table: pl.DataFrame, spoiling: str) -> None:
    assert stored.columns == table.columns, (spoiling, stored.columns, table.columns)
    assert stored.height == table.height, spoiling
    for name in table.columns:
        got, want = stored[name], table[name]
        if want.dtype.is_numeric():
            assert got.dtype.is_numeric(), (spoiling, name, got.dtype)
            assert got.cast(pl.Float64).to_list() == want.cast(pl.Float64).to_list(), name
        else:
            assert got.cast(pl.String).to_list() == want.cast(pl.String).to_list(), name


def drop_and_judge(d: DaemonProcess, drops: list[Drop], tally: dict[str, int]) -> None:
    placed = []
    for drop in drops:
        dataset = f"bad{next(_numbers)}"
        folder = d.home.inbox / dataset
        folder.mkdir(parents=True, exist_ok=True)
        staged = d.home.root / f".{dataset}.part"
        staged.write_bytes(drop.data)
        os.rename(staged, folder / drop.name)
        placed.append((drop, dataset))
    for drop, dataset in placed:
        ingest = wait_until(lambda ds=dataset, n=drop.name: _ended(d, ds, n), timeout=60,
                            what=f"{dataset}/{drop.name} ({drop.spoiling}) to end")
        tally[_judge(d, drop, dataset, ingest)] += 1
        tally[drop.spoiling] = tally.get(drop.spoiling, 0) + 1
    assert d.proc is not None and d.proc.poll() is None, d.output()[-3000:]
    assert d.client is not None and d.client.health().status == "ok"


def _run(draw_batch: Callable[..., None], d: DaemonProcess, strategy: st.SearchStrategy,
         examples: int) -> dict[str, int]:
    tally = {"ingested": 0, "quarantined": 0}

    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.too_slow])
    @given(st.lists(strategy, min_size=1, max_size=4))
    def check(drops: list[Drop]) -> None:
        draw_batch(d, drops, tally)

    check()
    print(f"\n{strategy}: {tally}")
    return tally


@pytest.mark.parametrize("strategy", [csv_drops(), ndjson_drops(), parquet_drops()],
                         ids=["csv", "ndjson", "parquet"])
def test_a_malformed_drop_is_ingested_right_or_quarantined_with_a_reason(
        daemon: DaemonProcess, strategy: st.SearchStrategy) -> None:
    tally = _run(drop_and_judge, daemon, strategy, examples=8)
    assert tally["ingested"] + tally["quarantined"] >= 8


@pytest.mark.slow
@pytest.mark.parametrize("strategy", [csv_drops(), ndjson_drops(), parquet_drops()],
                         ids=["csv", "ndjson", "parquet"])
def test_many_malformed_drops(daemon: DaemonProcess, strategy: st.SearchStrategy) -> None:
    tally = _run(drop_and_judge, daemon, strategy, examples=100)
    assert tally["ingested"] + tally["quarantined"] >= 100
