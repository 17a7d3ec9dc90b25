"""The bounds of every path and query parameter, declared once.

A value past them is a 422 naming the parameter (and the bound is in the OpenAPI document),
never an overflow deep in the store: DuckDB's BIGINT, a seek past 2**63, a list built from a
range.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from mlopsd.client.wire import INT64, NAME

MAX_QUERY_TEXT = 1000
MAX_OFFSET = 2**53

Name = Annotated[str, Path(pattern=NAME, description="a model or dataset name")]
Alias = Annotated[str, Path(pattern=NAME, description="an alias: production, staging, …")]
Version = Annotated[str, Path(max_length=64, description="a model version, e.g. 1.2.0")]
DataVersion = Annotated[int, Path(ge=1, le=INT64, description="a data version number")]
RowId = Annotated[int, Path(ge=1, le=INT64)]
ExperimentName = Annotated[str, Path(max_length=MAX_QUERY_TEXT,
                                    description="an experiment's name")]
RunId = Annotated[str, Path(max_length=64, description="a run id (32 hex digits)")]
MetricKey = Annotated[str, Path(max_length=MAX_QUERY_TEXT, description="a metric's key")]
Sha256 = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$", description="a sha256 hex digest")]

Limit = Annotated[int, Query(ge=1, le=10_000, description="at most this many (1 to 10,000)")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="a byte offset")]
AfterId = Annotated[int | None, Query(ge=0, le=INT64, description="only ids after this one")]
Text = Annotated[str | None, Query(max_length=MAX_QUERY_TEXT)]
NameFilter = Annotated[str | None, Query(pattern=NAME, description="a model or dataset name")]
