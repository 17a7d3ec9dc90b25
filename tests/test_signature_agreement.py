"""The client reads a signature off an example frame with its own small reader
(`mlopsd/client/signature.py`: the client may not import `jobs`); training reads it with
`jobs/features.py: signature_from_frame`. They must agree, signature for signature and
refusal for refusal, on every polars dtype, or a model logged from a notebook would be
served with other category codes than it was trained with."""

from __future__ import annotations

import inspect
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import polars as pl
import pytest

from jobs.features import FeatureError, signature_from_frame
from mlopsd.client.signature import signature_from_example

COLUMNS: dict[str, pl.Series] = {
    "i8": pl.Series([3, None, 1, 3], dtype=pl.Int8),
    "i16": pl.Series([3, None, 1, 3], dtype=pl.Int16),
    "i32": pl.Series([3, None, 1, 3], dtype=pl.Int32),
    "i64": pl.Series([3, None, 1, 3], dtype=pl.Int64),
    "i128": pl.Series([3, None, 1, 3], dtype=pl.Int128),
    "u8": pl.Series([3, None, 1, 3], dtype=pl.UInt8),
    "u16": pl.Series([3, None, 1, 3], dtype=pl.UInt16),
    "u32": pl.Series([3, None, 1, 3], dtype=pl.UInt32),
    "u64": pl.Series([3, None, 1, 3], dtype=pl.UInt64),
    "u128": pl.Series([3, None, 1, 3], dtype=pl.UInt128),
    "f16": pl.Series([0.5, None, float("nan"), 2.0], dtype=pl.Float16),
    "f32": pl.Series([0.5, None, float("nan"), 2.0], dtype=pl.Float32),
    "f64": pl.Series([0.5, None, float("inf"), 2.0], dtype=pl.Float64),
    "dec": pl.Series([Decimal("1.50"), None, Decimal("2.25"), Decimal("0.10")],
                     dtype=pl.Decimal(10, 2)),
    "bool": pl.Series([True, None, False, True], dtype=pl.Boolean),
    "str": pl.Series(["b", None, "a", "b"], dtype=pl.String),
    "cat": pl.Series(["b", None, "a", "c"], dtype=pl.Categorical),
    "enum": pl.Series(["x", None, "y", "x"], dtype=pl.Enum(["y", "x", "z"])),
    "date": pl.Series([date(2024, 1, 2), None, date(2023, 5, 6), date(2024, 1, 2)]),
    "dt_us": pl.Series([datetime(2024, 1, 2, 3), None, datetime(2023, 1, 1), None]),
    "dt_ms": pl.Series([datetime(2024, 1, 2, 3), None, datetime(2023, 1, 1), None],
                       dtype=pl.Datetime("ms")),
    "dt_ns_tz": pl.Series([datetime(2024, 1, 2, 3), None, datetime(2023, 1, 1), None],
                          dtype=pl.Datetime("ns", "Europe/Paris")),
    "time": pl.Series([time(1, 2), None, time(0, 0), time(23, 59)]),
    "dur": pl.Series([timedelta(hours=1), None, timedelta(0), timedelta(days=2)]),
    "null": pl.Series([None, None, None, None], dtype=pl.Null),
    "bin": pl.Series([b"a", None, b"b", b"a"], dtype=pl.Binary),
    "list": pl.Series([[1], None, [2, 3], []], dtype=pl.List(pl.Int64)),
    "array": pl.Series([[1, 2], None, [3, 4], [5, 6]], dtype=pl.Array(pl.Int64, 2)),
    "struct": pl.Series([{"a": 1}, None, {"a": 2}, {"a": 3}]),
    "object": pl.Series([object(), None, object(), object()], dtype=pl.Object),
}
FRAME = pl.DataFrame(COLUMNS)
NOT_A_COLUMN_DTYPE = {"DataType", "IntegerType", "FloatType", "TemporalType", "Unknown",
                      "BaseExtension", "Extension", "Map", "Utf8"}
"""Abstract classes, an alias of String (Utf8), and kinds a frame column cannot be made of
(Unknown) or that polars 2.1 only offers through extensions (Map, Extension)."""


def _read(reader: Any, frame: Any, features: list[str], categorical: list[str]) -> Any:
    try:
        return reader(frame, features, categorical)
    except (FeatureError, ValueError) as exc:
        return ("refused", str(exc))


def test_every_polars_dtype_is_tried() -> None:
    kinds = {name for name, cls in inspect.getmembers(pl.datatypes, inspect.isclass)
             if issubclass(cls, pl.DataType)}
    tried = {type(dtype).__name__ for dtype in FRAME.schema.values()}
    assert kinds - NOT_A_COLUMN_DTYPE - tried == set()


@pytest.mark.parametrize("column", list(COLUMNS))
@pytest.mark.parametrize("as_categorical", [False, True])
def test_the_client_reads_what_training_reads(column: str, as_categorical: bool) -> None:
    categorical = [column] if as_categorical else []
    training = _read(signature_from_frame, FRAME, [column], categorical)
    client = _read(signature_from_example, FRAME, [column], categorical)
    assert client == training


def test_whole_frames_dicts_and_refusals_agree() -> None:
    usable = [c for c in COLUMNS if not isinstance(
        _read(signature_from_frame, FRAME, [c], []), tuple)]
    assert len(usable) >= 20
    every = signature_from_frame(FRAME, usable, ["i64", "bool", "u8"])
    assert signature_from_example(FRAME, usable, ["i64", "bool", "u8"]) == every
    as_dict = {c: COLUMNS[c].to_list() for c in ("i64", "f64", "str", "bool")}
    assert signature_from_example(as_dict, list(as_dict), ["i64"]) == signature_from_frame(
        pl.DataFrame(as_dict), list(as_dict), ["i64"])
    for features, categorical in ((["nope"], []), (["i64"], ["str"]), (["f64"], ["f64"])):
        assert _read(signature_from_example, FRAME, features, categorical) == _read(
            signature_from_frame, FRAME, features, categorical)
