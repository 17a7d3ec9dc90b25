"""score: a file of rows scored by a registered model version, in chunks, to Parquet.

The file (CSV, Parquet or NDJSON) is read in chunks of `chunk_rows` with polars' streaming
reader, so memory stays bounded whatever the file's size; each chunk is encoded with the
same signature as training (jobs.features), predicted, and written as a part file. The
parts are then streamed into one Parquet file written beside its final name and renamed
into place: the output appears whole or not at all.

Output columns: row_id (position in the input, from 0), any `keep` columns of the input,
the prediction (regression: the value; binary: the positive class's probability;
multiclass: one probability column per class), the label for classifiers, and the model
name and version.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

from jobs.context import InvalidParams, JobContext, JobError
from jobs.paths import confine

DESCRIPTION = "Score a file of rows with a model version, in chunks, to a Parquet file."
_FORMATS = {".csv": "csv", ".tsv": "csv", ".parquet": "parquet", ".pq": "parquet",
            ".ndjson": "ndjson", ".jsonl": "ndjson"}


def check_params(params: dict[str, Any]) -> dict[str, Any]:
    for key in ("model", "version", "sha", "source", "output"):
        if not isinstance(params.get(key), str) or not params[key]:
            raise InvalidParams(key, "must be a non-empty string")
    if not isinstance(params.get("signature"), dict):
        raise InvalidParams("signature", "must be the version's signature")
    chunk = params.setdefault("chunk_rows", 100_000)
    if not isinstance(chunk, int) or not 1_000 <= chunk <= 5_000_000:
        raise InvalidParams("chunk_rows", "must be an integer from 1,000 to 5,000,000")
    keep = params.setdefault("keep", [])
    if not isinstance(keep, list) or not all(isinstance(k, str) for k in keep):
        raise InvalidParams("keep", "must be a list of column names")
    return params


def input_format(path: Path) -> str:
    found = _FORMATS.get(path.suffix.lower())
    if found is None:
        raise JobError(f"{path.name}: cannot tell the format from the name: use .csv, "
                       ".parquet or .ndjson")
    return found


def _scan(path: Path, kind: str, signature: dict[str, Any]) -> Any:
    import polars as pl

    if kind == "parquet":
        return pl.scan_parquet(path)
    if kind == "ndjson":
        return pl.scan_ndjson(path)
    overrides = {}
    for item in signature["inputs"]:
        dtype = item["dtype"]
        overrides[item["name"]] = (
            pl.String if dtype in ("string", "date", "datetime") else
            pl.Boolean if dtype == "bool" else
            pl.Int64 if dtype == "int64" and item.get("categorical") else pl.Float64)
    separator = "\t" if path.suffix.lower() == ".tsv" else ","
    return pl.scan_csv(path, schema_overrides=overrides, separator=separator)


def run(params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    import lightgbm as lgb
    import polars as pl

    from jobs.features import FeatureError, to_matrix

    params = check_params(params)
    started = time.perf_counter()
    source = confine(ctx.home, params["source"], "source")
    output = confine(ctx.home, params["output"], "output")
    signature, keep = params["signature"], params["keep"]
    kind = input_format(source)
    booster = lgb.Booster(model_str=ctx.artifacts.read_bytes(params["sha"]).decode())
    task = signature.get("task") or "regression"
    classes = (signature.get("target") or {}).get("classes")
    threshold = signature.get("threshold")
    parts = output.parent / f".score-{ctx.job_id}"
    shutil.rmtree(parts, ignore_errors=True)
    parts.mkdir(parents=True)
    rows = 0
    try:
        batches = _scan(source, kind, signature).collect_batches(chunk_size=params["chunk_rows"])
        for number, chunk in enumerate(_checked(batches, source)):
            missing = [k for k in keep if k not in chunk.columns]
            if missing:
                raise JobError(f"{source.name}: keep column {missing[0]!r} is not in the file")
            try:
                matrix = to_matrix(chunk, signature)
            except FeatureError as exc:
                raise JobError(f"{source.name}, rows {rows:,} to {rows + chunk.height - 1:,}: "
                               f"{exc}") from None
            raw = booster.predict(matrix, num_threads=params.get("num_threads", 1))
            scored = pl.DataFrame({"row_id": pl.int_range(rows, rows + chunk.height,
                                                          dtype=pl.UInt64, eager=True)})
            if keep:
                scored = pl.concat([scored, chunk.select(keep)], how="horizontal")
            scored = pl.concat([scored, _predictions(raw, task, classes, threshold)],
                               how="horizontal")
            scored.write_parquet(parts / f"part-{number:06d}.parquet")
            rows += chunk.height
            ctx.emit("score.progress", model=params["model"], version=params["version"],
                     rows=rows, chunks=number + 1)
        if rows == 0:
            raise JobError(f"{source.name} has no rows to score")
        tmp = output.parent / f".{output.name}.{ctx.job_id}.tmp"
        (pl.scan_parquet(parts / "*.parquet")
         .with_columns(model=pl.lit(params["model"]), version=pl.lit(params["version"]))
         .sink_parquet(tmp))
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, output)
        fd = os.open(output.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    finally:
        shutil.rmtree(parts, ignore_errors=True)
    seconds = time.perf_counter() - started
    ctx.log.info("scored %s rows of %s with %s:%s in %.2f s -> %s", rows, source.name,
                 params["model"], params["version"], seconds, output)
    return {"model": params["model"], "version": params["version"], "rows": rows,
            "output": str(output), "seconds": seconds}


def _checked(batches: Any, source: Path) -> Any:
    """The reader's errors (a bad CSV value, a truncated file) as a job error naming the
    file."""
    iterator = iter(batches)
    while True:
        try:
            chunk = next(iterator)
        except StopIteration:
            return
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise JobError(f"{source.name} cannot be read: {first}") from None
        yield chunk


def _predictions(raw: Any, task: str, classes: list[Any] | None,
                 threshold: float | None) -> Any:
    import polars as pl

    if task == "regression":
        return pl.DataFrame({"prediction": raw})
    if task == "binary":
        classes = classes or [0, 1]
        cut = 0.5 if threshold is None else threshold
        labels = pl.Series("label", [classes[1] if p >= cut else classes[0]
                                     for p in raw.tolist()])
        return pl.DataFrame({"prediction": raw}).with_columns(labels)
    classes = classes or list(range(raw.shape[1]))
    frame = pl.DataFrame({f"prob_{c}": raw[:, i] for i, c in enumerate(classes)})
    return frame.with_columns(pl.Series("label", [classes[i] for i in raw.argmax(axis=1)]))
