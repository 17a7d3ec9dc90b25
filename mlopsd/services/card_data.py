"""A model card's training data: the data versions a version was trained on (rows, source,
time span) and one profile of their columns, merged from the versions' stored profiles
(no data is read): values present, null share, range, count-weighted mean, distinct values
and the most frequent ones."""

from __future__ import annotations

from typing import Any

from store import data as data_repo
from store.db import Store
from store.errors import NotFound

PROFILED = 100
"""The newest versions whose profiles are merged (a model on hundreds of versions would
otherwise read every profile for one page)."""
TOP = 5


def versions(store: Store, lineage_data: list[dict[str, Any]]
             ) -> tuple[list[dict[str, Any]], list[data_repo.DataVersion]]:
    """Per data version of the lineage, what a card says about it; and the stored versions
    whose profiles to merge (the newest PROFILED)."""
    out, stored = [], []
    time_columns: dict[str, str | None] = {}
    for index, item in enumerate(lineage_data):
        dataset, number = item.get("dataset"), item.get("version")
        row: dict[str, Any] = {"dataset": dataset, "version": number, "rows": None,
                               "content_hash": item.get("content_hash"), "source_name": None,
                               "committed_at": None}
        try:
            version = data_repo.get_version(store, dataset, number,
                                            profile=index >= len(lineage_data) - PROFILED)
        except NotFound:  # its record is gone: the card says what lineage kept
            out.append(row)
            continue
        if dataset not in time_columns:
            time_columns[dataset] = _time_column(store, dataset)
        column = (version.profile or {}).get(time_columns[dataset] or "") or {}
        row.update(rows=version.n_rows, content_hash=version.content_hash,
                   source_name=version.source_name, committed_at=version.committed_at,
                   time_range=[column.get("min"), column.get("max")] if column else None)
        out.append(row)
        if version.profile is not None:
            stored.append(version)
    return out, stored


def _time_column(store: Store, dataset: str) -> str | None:
    try:
        return data_repo.get_dataset(store, dataset).time_column
    except NotFound:
        return None


def columns(stored: list[data_repo.DataVersion], roles: dict[str, str]) -> list[dict[str, Any]]:
    """One row per column over the versions' profiles, in the order the data has them."""
    merged: dict[str, dict[str, Any]] = {}
    for version in stored:
        for name, profile in (version.profile or {}).items():
            _merge(merged.setdefault(name, {"name": name, "count": 0, "nulls": 0,
                                            "sum": 0.0, "summed": 0, "categories": {}}),
                   profile)
    out = []
    for name, m in merged.items():
        rows = m["count"] + m["nulls"]
        top = sorted(m["categories"].items(), key=lambda kv: (-kv[1], kv[0]))
        out.append({
            "name": name, "dtype": m.get("dtype", "?"), "role": roles.get(name, "not used"),
            "count": m["count"], "null_share": m["nulls"] / rows if rows else 0.0,
            "min": m.get("min"), "max": m.get("max"),
            "mean": m["sum"] / m["summed"] if m["summed"] else None,
            "distinct": m.get("distinct") or len(m["categories"]) or None,
            "top": [(str(k), v) for k, v in top[:TOP]] or None,
        })
    return out


def _merge(into: dict[str, Any], profile: dict[str, Any]) -> None:
    into["dtype"] = profile.get("dtype", into.get("dtype"))
    count = profile.get("count") or 0
    into["count"] += count
    into["nulls"] += profile.get("nulls") or 0
    for key, pick in (("min", min), ("max", max)):
        value = profile.get(key)
        if value is not None:
            try:
                into[key] = value if into.get(key) is None else pick(into[key], value)
            except TypeError:  # a column whose dtype changed between versions
                into[key] = value
    if profile.get("mean") is not None and count:
        into["sum"] += profile["mean"] * count
        into["summed"] += count
    categories = profile.get("categories") or profile.get("top")
    if profile.get("kind") == "boolean":
        categories = {"true": profile.get("true") or 0, "false": profile.get("false") or 0}
    for value, n in (categories or {}).items():
        into["categories"][value] = into["categories"].get(value, 0) + n
    if profile.get("n_unique") is not None and not profile.get("categories"):
        # text with too many values to list: the largest count seen, a lower bound
        into["distinct"] = max(into.get("distinct") or 0, profile["n_unique"])
