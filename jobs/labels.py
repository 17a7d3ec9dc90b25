"""labels: read a label file dropped in a dataset's inbox (`*.labels.csv`, `.parquet`,
`.ndjson`): the dataset's id column and target, for joining ground truth to predictions
that were logged with that id."""

from __future__ import annotations

from typing import Any

import orjson

from jobs.context import InvalidParams, JobContext, JobError
from jobs.paths import confine

DESCRIPTION = "Read a label file (id column + target) for joining to logged predictions."


def check_params(params: dict[str, Any]) -> dict[str, Any]:
    for key in ("path", "id_column", "target"):
        if not isinstance(params.get(key), str) or not params[key]:
            raise InvalidParams(key, "must be a non-empty string")
    return params


def run(params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    import polars as pl

    params = check_params(params)
    path = confine(ctx.home, params["path"], "path")
    id_column, target = params["id_column"], params["target"]
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            frame = pl.read_parquet(path, columns=None)
        elif suffix in (".ndjson", ".jsonl"):
            frame = pl.read_ndjson(path)
        else:
            frame = pl.read_csv(path, schema_overrides={id_column: pl.String})
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise JobError(f"{path.name} cannot be read: {first}") from None
    missing = [c for c in (id_column, target) if c not in frame.columns]
    if missing:
        raise JobError(f"{path.name}: a label file needs the id column {id_column!r} and the "
                       f"target {target!r}; {missing[0]!r} is missing (columns: "
                       f"{', '.join(frame.columns[:10])})")
    usable = frame.select(pl.col(id_column).cast(pl.String), pl.col(target)).drop_nulls()
    if usable.height == 0:
        raise JobError(f"{path.name} has no row with both an id and a label")
    ids = usable.get_column(id_column).to_list()
    labels = [orjson.dumps(v).decode() for v in usable.get_column(target).to_list()]
    ctx.log.info("%s: %s labels (%s rows without id or label)", path.name, len(ids),
                 frame.height - usable.height)
    return {"ids": ids, "labels": labels, "rows": len(ids),
            "skipped": frame.height - usable.height}
