"""A model's input signature read off an example frame, on the client side.

`run.log_model(input_example=frame)` needs the signature training would record for the same
rows: `jobs/features.py: signature_from_frame` is that reader, but the client may not import
`jobs` (it runs where the daemon's code need not), and `jobs` may not import `mlopsd`. So the
client has this small reader of its own, and `tests/test_signature_agreement.py` proves the
two agree, signature for signature and refusal for refusal, on every polars dtype. polars
is imported inside the call only: a caller that passes a frame has it loaded already.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


def _dtype_name(dtype: Any) -> str | None:
    """The vocabulary name training stores a polars dtype as (`jobs.ingest.dtypes.
    from_polars`); None when it has none (nested, binary, objects)."""
    import polars as pl

    if dtype.is_integer():
        return "int64"
    if dtype.is_float() or dtype.is_decimal():
        return "float64"
    if dtype == pl.Boolean:
        return "bool"
    if dtype == pl.Date:
        return "date"
    if isinstance(dtype, pl.Datetime):
        return "datetime"
    if dtype in (pl.String, pl.Null, pl.Time, pl.Duration) or isinstance(
            dtype, pl.Categorical | pl.Enum):
        return "string"
    return None


def as_frame(example: Any) -> Any:
    """A polars frame from a polars frame, a dict of columns or a pandas frame."""
    import polars as pl

    if isinstance(example, pl.DataFrame):
        return example
    if isinstance(example, dict):
        return pl.DataFrame(example)
    return pl.from_pandas(example)


def signature_from_example(example: Any, features: Sequence[str],
                           categorical: Iterable[str] = ()) -> dict[str, Any]:
    """{"inputs": [{name, dtype, categorical, categories}]} for `features` of an example
    frame (the training rows): string columns are categorical, `categorical` adds integer
    or boolean ones; categories are the sorted unique non-null values. A ValueError names
    a column that is missing or cannot be a model input."""
    import polars as pl

    frame = as_frame(example)
    extra = set(categorical)
    missing = [name for name in (*features, *sorted(extra)) if name not in frame.schema]
    if missing:
        raise ValueError(f"no column {missing[0]!r} in the frame")
    outside = sorted(extra - set(features))
    if outside:
        raise ValueError(f"categorical column {outside[0]!r} is not one of the features")
    inputs = []
    for name in features:
        polars_dtype = frame.schema[name]
        dtype = _dtype_name(polars_dtype)
        if dtype is None:
            raise ValueError(f"column {name!r} is {polars_dtype}, which cannot be a model input")
        is_categorical = dtype == "string" or name in extra
        categories = None
        if is_categorical:
            if dtype not in ("string", "int64", "bool"):
                raise ValueError(f"column {name!r} is {dtype}: only string, integer and boolean "
                                 "columns can be categorical")
            column = frame.get_column(name)
            if dtype == "string" and column.dtype != pl.String:
                try:
                    column = column.cast(pl.String)
                except pl.exceptions.InvalidOperationError:  # a duration, for one
                    raise ValueError(f"column {name!r} is {polars_dtype}, whose values "
                                     "cannot be read as categories") from None
            categories = sorted(column.drop_nulls().unique().to_list())
        inputs.append({"name": name, "dtype": dtype, "categorical": is_categorical,
                       "categories": categories})
    return {"inputs": inputs}
