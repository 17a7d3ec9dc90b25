"""The reference data of a dataset's learned quality rules, and what was learned from it.

Learned rules (value ranges, unseen categories, the null share a column may have) compare a
new file with the data the dataset's models train on, so a warning means "outside what the
model knows", not "different from the first file":
- each model in mlops.toml whose `data` selector names the dataset contributes the data
  versions its production version was trained on (its run's lineage), or, while it has no
  production version, the versions its selector names now;
- with several models, their versions are united;
- a dataset no model uses is compared with every version of its current schema (all it has
  accepted so far): a value warns only when no accepted file held one like it.
Per column the reference profiles merge: the lowest minimum and the highest maximum, the
categories united (none, hence no unseen check, when a version had too many to list), the
null share of all their rows together.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from mlopsd.config import Config
from mlopsd.selectors import SelectorError, parse, resolve
from store import data as data_repo
from store import models as model_repo
from store import runs as run_repo
from store.db import Store
from store.errors import NotFound

log = logging.getLogger("mlops.ingest")

MAX_CATEGORIES = 10_000
"""More categories than this in the union: unseen categories are not checked."""


def reference_for(store: Store, config: Config, dataset: data_repo.Dataset
                  ) -> dict[str, Any] | None:
    """What the ingest job checks learned rules against; None before the first version."""
    versions, why = _versions(store, config, dataset)
    if not versions:
        return None
    merged = merge_profiles(list(data_repo.profiles(store, dataset.name, versions).values()))
    return {"version": max(versions), "versions": versions,
            "label": f"{dataset.name}@{compact(versions)}: {why}", "columns": merged}


def _versions(store: Store, config: Config, dataset: data_repo.Dataset
              ) -> tuple[list[int], str]:
    chosen: set[int] = set()
    reasons: list[str] = []
    for model in config.models().values():
        try:
            if parse(model.data).dataset != dataset.name:
                continue
        except SelectorError:
            continue
        trained = _production_training(store, model.name, dataset.name)
        if trained is not None:
            versions, reason = trained
        else:
            try:
                versions = [v.version for v in resolve(store, model.data).versions]
            except SelectorError:
                continue  # no versions yet, or none its selector names
            reason = f"what {model.name}'s selector {model.data} names"
        if versions:
            chosen.update(versions)
            reasons.append(reason)
    if chosen:
        return sorted(chosen), "; ".join(reasons)
    current = [v.version for v in data_repo.list_versions(store, dataset.name)
               if v.schema_version == dataset.schema_version]
    return current, (f"every version of its schema {dataset.schema_version}; no model in "
                     "mlops.toml trains on it")


def _production_training(store: Store, model: str, dataset: str
                         ) -> tuple[list[int], str] | None:
    """The versions of `dataset` the production version of `model` was trained on."""
    try:
        version = model_repo.get_model(store, model).aliases.get("production")
        if version is None:
            return None
        run_id = model_repo.get_version(store, model, version).run_id
        if run_id is None:
            return None
        lineage = run_repo.get_run(store, run_id).lineage or {}
    except NotFound:
        return None
    versions = [int(d["version"]) for d in lineage.get("data") or []
                if d.get("dataset") == dataset and isinstance(d.get("version"), int)]
    if not versions:
        return None
    return versions, f"what production {model}:{version} was trained on"


def merge_profiles(profiles: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per column, the learned-rule statistics of several versions' profiles together (a
    column's profiles of another dtype than its newest one are left out)."""
    by_column: dict[str, list[dict[str, Any]]] = {}
    for profile in profiles:  # oldest first: the last dtype seen is the newest
        for column, stats in profile.items():
            by_column.setdefault(column, []).append(stats)
    merged = {}
    for column, all_stats in by_column.items():
        dtype = all_stats[-1].get("dtype")
        same = [s for s in all_stats if s.get("dtype") == dtype]
        merged[column] = {
            "dtype": dtype,
            "min": _extreme((s.get("min") for s in same), min),
            "max": _extreme((s.get("max") for s in same), max),
            "null_share": _null_share(same),
            "categories": _categories(same),
        }
    return merged


def _extreme(values: Iterable[Any], pick: Any) -> Any:
    present = [v for v in values if v is not None and not isinstance(v, bool)]
    numbers = [v for v in present if isinstance(v, int | float)]
    if numbers:
        return pick(numbers)
    text = [v for v in present if isinstance(v, str)]  # ISO dates sort as they read
    return pick(text) if text else None


def _null_share(stats: list[dict[str, Any]]) -> float | None:
    rows = sum((s.get("count") or 0) + (s.get("nulls") or 0) for s in stats)
    if not rows:
        return None
    return sum(s.get("nulls") or 0 for s in stats) / rows


def _categories(stats: list[dict[str, Any]]) -> list[str] | None:
    seen: set[str] = set()
    for s in stats:
        categories = s.get("categories")
        if not isinstance(categories, dict):
            return None  # too many to list in some version: nothing to call unseen
        seen.update(categories)
        if len(seen) > MAX_CATEGORIES:
            return None
    return sorted(seen)


def compact(versions: list[int]) -> str:
    """1,2,3,5,6 → "1..3,5,6"."""
    parts: list[str] = []
    ordered = sorted(set(versions))
    start = previous = ordered[0]
    for v in [*ordered[1:], None]:
        if v is not None and v == previous + 1:
            previous = v
            continue
        if previous - start >= 2:
            parts.append(f"{start}..{previous}")
        else:
            parts.extend(str(n) for n in range(start, previous + 1))
        if v is not None:
            start = previous = v
    return ",".join(parts)
