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
null share of all their rows together; a column whose dtype changed counts from the first
version with its newest dtype.

The merge of a dataset's reference is kept, and a reference that only adds newer versions
(a selector such as `@all`, or every version so far) merges just those: an ingest reads
the new versions' profiles, not all of them. Profiles are read a batch at a time, so
neither memory nor the store's lock is held for long.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
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
BATCH = 20
"""Versions' profiles read from the store at a time."""


@dataclass
class _Column:
    dtype: Any
    min: Any = None
    max: Any = None
    nulls: int = 0
    rows: int = 0
    categories: set[str] | None = field(default_factory=set)

    def add(self, stats: dict[str, Any]) -> None:
        self.min = _extreme(self.min, stats.get("min"), min)
        self.max = _extreme(self.max, stats.get("max"), max)
        self.nulls += stats.get("nulls") or 0
        self.rows += (stats.get("count") or 0) + (stats.get("nulls") or 0)
        categories = stats.get("categories")
        if self.categories is not None:
            if not isinstance(categories, dict):
                self.categories = None  # too many to list in this version: none is unseen
            else:
                self.categories.update(categories)
                if len(self.categories) > MAX_CATEGORIES:
                    self.categories = None

    def learned(self) -> dict[str, Any]:
        return {"dtype": self.dtype, "min": self.min, "max": self.max,
                "null_share": self.nulls / self.rows if self.rows else None,
                "categories": sorted(self.categories) if self.categories is not None else None}


@dataclass
class _Merged:
    versions: list[int]
    columns: dict[str, _Column]


class ReferenceProfiles:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._merged: dict[str, _Merged] = {}
        self._lock = threading.Lock()

    def for_dataset(self, dataset: data_repo.Dataset, config: Config) -> dict[str, Any] | None:
        """What the ingest job checks learned rules against; None before the first version.
        (`config` is the daemon's current one: a reload may change the models.)"""
        versions, why = self._versions(dataset, config)
        if not versions:
            return None
        with self._lock:
            merged = self._merge(dataset.name, versions)
        return {"version": max(versions), "versions": versions,
                "label": f"{dataset.name}@{compact(versions)}: {why}",
                "columns": {c: m.learned() for c, m in merged.columns.items()}}

    def _merge(self, dataset: str, versions: list[int]) -> _Merged:
        kept = self._merged.get(dataset)
        if kept is not None and kept.versions == versions:
            return kept
        if kept is not None and set(kept.versions) < set(versions) and min(
                set(versions) - set(kept.versions)) > max(kept.versions):
            merged, todo = kept, [v for v in versions if v not in set(kept.versions)]
        else:
            merged, todo = _Merged([], {}), versions
        self._merged.pop(dataset, None)  # kept again only once complete
        for start in range(0, len(todo), BATCH):
            for profile in data_repo.profiles(self.store, dataset,
                                              todo[start:start + BATCH]).values():
                _add_profile(merged.columns, profile)
        merged.versions = list(versions)
        self._merged[dataset] = merged
        return merged

    def _versions(self, dataset: data_repo.Dataset, config: Config) -> tuple[list[int], str]:
        chosen: set[int] = set()
        reasons: list[str] = []
        for model in config.models().values():
            try:
                if parse(model.data).dataset != dataset.name:
                    continue
            except SelectorError:
                continue
            trained = _production_training(self.store, model.name, dataset.name)
            if trained is not None:
                versions, reason = trained
            else:
                try:
                    versions = [v.version for v in resolve(self.store, model.data).versions]
                except SelectorError:
                    continue  # no versions yet, or none its selector names
                reason = f"what {model.name}'s selector {model.data} names"
            if versions:
                chosen.update(versions)
                reasons.append(reason)
        if chosen:
            return sorted(chosen), "; ".join(reasons)
        current = [v.version for v in data_repo.list_versions(self.store, dataset.name)
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


def _add_profile(columns: dict[str, _Column], profile: dict[str, Any]) -> None:
    """Profiles come oldest first: a column whose dtype changed starts again."""
    for column, stats in profile.items():
        dtype = stats.get("dtype")
        if column not in columns or columns[column].dtype != dtype:
            columns[column] = _Column(dtype)
        columns[column].add(stats)


def _extreme(current: Any, value: Any, pick: Any) -> Any:
    if value is None or isinstance(value, bool):
        return current
    if current is None:
        return value
    if isinstance(value, int | float) == isinstance(current, int | float):
        return pick(current, value)  # numbers, or ISO dates (they sort as they read)
    return current


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
