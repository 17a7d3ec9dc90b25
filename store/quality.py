"""Data quality over time: what each data version's ingest measured, per column, as a
series a client plots."""

from __future__ import annotations

from typing import Any

from store.db import Store
from store.rows import aware, from_json

_QUALITY_KEYS = ("null_share", "out_of_range_share", "unseen_share", "invalid_share")


def quality_series(store: Store, dataset: str) -> list[dict[str, Any]]:
    """Per data version, per column: the shares of nulls, out-of-range values, unseen
    categories and values outside an allowed list (as the ingest measured them), NaN and
    infinite counts, and the schema version — one point per version, oldest first."""
    with store.reading() as cur:
        rows = cur.execute(
            "SELECT version, committed_at, source_name, n_rows, schema_version, profile "
            "FROM data_versions WHERE dataset = ? ORDER BY version", [dataset]).fetchall()
    series = []
    previous_schema = None
    for version, committed_at, source, n_rows, schema_version, profile in rows:
        columns = {}
        for column, stats in (from_json(profile) or {}).items():
            quality = {k: v for k, v in (stats.get("quality") or {}).items()
                       if k in _QUALITY_KEYS}
            if "null_share" not in quality and n_rows:
                quality["null_share"] = stats.get("nulls", 0) / n_rows
            for key in ("nan_count", "inf_count"):
                if stats.get(key):
                    quality[key] = stats[key]
            columns[column] = quality
        series.append({"version": version, "committed_at": aware(committed_at),
                       "source": source, "rows": n_rows, "schema_version": schema_version,
                       "schema_changed": previous_schema is not None
                       and schema_version != previous_schema, "columns": columns})
        previous_schema = schema_version
    return series
