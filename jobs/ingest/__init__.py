"""ingest: a file dropped into `inbox/<dataset>/` → checked, profiled, snapshotted as Parquet.

The worker side of file-drop ingestion: `run(params, ctx)` reads the file (never moving or
deleting it: the daemon does that after reading the result), checks it against the
dataset's schema, rules and reference, and returns a plain dict; the Parquet snapshot goes
to the artifact store and only its hash comes back.

Import-light like the registry that lists it: the daemon imports this to check params, and
only `run` (in the worker) loads polars.
"""

from __future__ import annotations

from typing import Any

from jobs.context import JobContext
from jobs.ingest.params import check_params

CHECK_DESCRIPTION = (
    "Check an uploaded file against its dataset's schema, declared rules and learned rules "
    "as an ingest would, storing nothing (mlops check data); params: dataset, path, spec, "
    "reference."
)

DESCRIPTION = (
    "Read a dropped data file (CSV, Parquet or NDJSON, optionally .gz/.zst), check it against "
    "the dataset's schema and rules, profile it and store a Parquet snapshot; params: dataset, "
    "path, spec, reference, known_hashes."
)


def run(params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    from jobs.ingest.pipeline import run as ingest

    return ingest(params, ctx)


def check(params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    from jobs.ingest.check import run as check_file

    return check_file(params, ctx)


__all__ = ["CHECK_DESCRIPTION", "DESCRIPTION", "check", "check_params", "run"]
