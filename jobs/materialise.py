"""materialise: the exact rows a resolved selector names, as one Parquet artifact.

Snapshots are read only after their hash checks out, concatenated in version order, cut to
the time window, and written with fixed settings: the same selector gives the same bytes,
hence the same artifact hash.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jobs.context import InvalidParams, JobContext, JobError

DESCRIPTION = "Write the rows a resolved data selector names to one Parquet artifact."


def check_params(params: dict[str, Any]) -> dict[str, Any]:
    versions = params.get("versions")
    if not isinstance(versions, list) or not versions:
        raise InvalidParams("versions", "must be a non-empty list of {version, snapshot_sha}")
    for item in versions:
        if not isinstance(item, dict) or "snapshot_sha" not in item or "version" not in item:
            raise InvalidParams("versions", "each item needs version and snapshot_sha")
    if not isinstance(params.get("dataset"), str):
        raise InvalidParams("dataset", "must be a dataset name")
    return params


def run(params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    import polars as pl

    params = check_params(params)
    frames = []
    column = params.get("time_column")
    windowed = bool(params.get("start") or params.get("end"))
    if windowed and not column:
        raise JobError("a time window needs the dataset's time_column")
    for item in params["versions"]:
        path = ctx.artifacts.verify(item["snapshot_sha"])
        if windowed:
            _check_times(pl.read_parquet_schema(path).get(column), column,
                         f"{params['dataset']}@{item['version']}")
        frames.append(pl.scan_parquet(path))
    frame = pl.concat(frames, how="diagonal_relaxed")
    if windowed:
        # Dates compare with datetimes only once both are datetimes.
        at = pl.col(column).cast(pl.Datetime("us"))
        if params.get("start"):
            frame = frame.filter(at >= datetime.fromisoformat(params["start"]))
        if params.get("end"):
            frame = frame.filter(at < datetime.fromisoformat(params["end"]))
    out = ctx.artifacts.tmp_path(".parquet")
    # Streamed to disk: memory stays bounded however many versions the selector spans.
    frame.sink_parquet(out, compression="zstd", statistics=True, maintain_order=True)
    shape = pl.scan_parquet(out).select(pl.len()).collect().item()
    width = len(pl.read_parquet_schema(out))
    sha = ctx.artifacts.adopt(out)
    ctx.log.info("materialised %s: %s rows, %s columns -> %s", params.get("selector"), shape,
                 width, sha)
    return {"selector": params.get("selector"), "sha": sha, "rows": shape, "columns": width}


def _check_times(dtype: Any, column: str, version: str) -> None:
    """A version stored before its dataset declared `column` the time column may hold it as
    text, which a window cannot compare (and polars cannot cast)."""
    import polars as pl

    if dtype is None or dtype == pl.Date or isinstance(dtype, pl.Datetime):
        return
    kind = "text (str)" if dtype == pl.String else str(dtype)
    raise JobError(f"the time column '{column}' of {version} is {kind}, not dates or "
                   "datetimes, so a time window cannot select its rows (it was stored before "
                   "the dataset declared its time column, and versions never change): select "
                   "the versions stored with typed times, or select without a window")
