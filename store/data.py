"""Datasets, their immutable data versions, and what became of every dropped file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from store.db import Store, utcnow
from store.errors import NotFound
from store.pages import Key, Order, Page, fetch_page
from store.rows import aware, from_json, naive_utc, to_json

INGEST_OUTCOMES = ("accepted", "duplicate", "rejected", "vanished", "failed")

_DATASET = (
    "name, created_at, schema_json, schema_version, schema_declared, target, time_column, "
    "id_column, reference_version, config_json"
)
_VERSION = (
    "dataset, version, content_hash, snapshot_sha, schema_hash, schema_version, n_rows, "
    "n_columns, source_name, received_at, committed_at"
)
_INGEST = (
    "id, dataset, source_name, outcome, version, content_hash, size_bytes, received_at, "
    "finished_at, job_id, quarantine_path, issues, schema_change, requeued_at"
)


@dataclass(frozen=True)
class Dataset:
    name: str
    created_at: datetime
    schema: dict[str, str] | None
    schema_version: int
    schema_declared: bool
    target: str | None
    time_column: str | None
    id_column: str | None
    reference_version: int | None
    config: dict[str, Any] | None


@dataclass(frozen=True)
class DataVersion:
    dataset: str
    version: int
    content_hash: str
    snapshot_sha: str
    schema_hash: str
    schema_version: int
    n_rows: int
    n_columns: int
    source_name: str
    received_at: datetime
    committed_at: datetime
    profile: dict[str, Any] | None = None


@dataclass(frozen=True)
class DatasetSummary:
    dataset: Dataset
    versions: int
    latest_version: int | None
    rows: int
    last_committed_at: datetime | None


@dataclass(frozen=True)
class Ingest:
    id: int
    dataset: str
    source_name: str
    outcome: str
    version: int | None
    content_hash: str | None
    size_bytes: int | None
    received_at: datetime
    finished_at: datetime
    job_id: int | None
    quarantine_path: str | None
    issues: Any
    schema_change: Any
    requeued_at: datetime | None


def _dataset(r: tuple) -> Dataset:
    return Dataset(r[0], aware(r[1]), from_json(r[2]), r[3], r[4], r[5], r[6], r[7], r[8],
                   from_json(r[9]))


def _version(r: tuple, profile: Any = None) -> DataVersion:
    return DataVersion(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], aware(r[9]),
                       aware(r[10]), profile)


def _ingest(r: tuple) -> Ingest:
    return Ingest(r[0], r[1], r[2], r[3], r[4], r[5], r[6], aware(r[7]), aware(r[8]), r[9], r[10],
                  from_json(r[11]), from_json(r[12]), aware(r[13]))


# --- datasets ---------------------------------------------------------------------------


def ensure_dataset(
    store: Store,
    name: str,
    *,
    target: str | None = None,
    time_column: str | None = None,
    id_column: str | None = None,
    schema_declared: bool = False,
    config: dict[str, Any] | None = None,
) -> Dataset:
    """Create the dataset if new; keep its declared settings in step with the config.
    The schema itself is fixed by the first accepted file (declared dtypes applied)."""
    with store.transaction() as cur:
        row = cur.execute(f"SELECT {_DATASET} FROM datasets WHERE name = ?", [name]).fetchone()
        if row is None:
            row = cur.execute(
                f"INSERT INTO datasets (name, created_at, schema_version, schema_declared, "
                f"target, time_column, id_column, config_json) "
                f"VALUES (?, ?, 0, ?, ?, ?, ?, ?) RETURNING {_DATASET}",
                [name, utcnow(), schema_declared, target, time_column, id_column,
                 to_json(config)],
            ).fetchone()
        else:
            row = cur.execute(
                f"UPDATE datasets SET target = ?, time_column = ?, id_column = ?, "
                f"config_json = ?, schema_declared = ? WHERE name = ? RETURNING {_DATASET}",
                [target, time_column, id_column, to_json(config), schema_declared, name],
            ).fetchone()
    return _dataset(row)


def get_dataset(store: Store, name: str) -> Dataset:
    with store.reading() as cur:
        row = cur.execute(f"SELECT {_DATASET} FROM datasets WHERE name = ?", [name]).fetchone()
    if row is None:
        raise NotFound(f"no dataset named {name!r}")
    return _dataset(row)


def find_dataset(store: Store, name: str) -> Dataset | None:
    try:
        return get_dataset(store, name)
    except NotFound:
        return None


_SUMMARY = (f"{', '.join('d.' + c.strip() for c in _DATASET.split(','))}, count(v.version), "
            "max(v.version), coalesce(sum(v.n_rows), 0), max(v.committed_at)")
_SUMMARY_SOURCE = "datasets d LEFT JOIN data_versions v ON v.dataset = d.name"
BY_NAME = Order((Key("d.name", str),))


def _summary(r: tuple) -> DatasetSummary:
    return DatasetSummary(_dataset(r[:10]), r[10], r[11], int(r[12]), aware(r[13]))


def page_datasets(store: Store, *, after: Sequence[Any] | None = None, limit: int = 100
                  ) -> Page[DatasetSummary]:
    """Datasets by name with their versions' count, rows and latest, a page at a time."""
    with store.reading() as cur:
        return fetch_page(cur, _SUMMARY, _SUMMARY_SOURCE, [], [], BY_NAME, after, limit,
                          _summary, group_by="GROUP BY ALL")


def list_datasets(store: Store) -> list[DatasetSummary]:
    with store.reading() as cur:
        rows = cur.execute(f"SELECT {_SUMMARY} FROM {_SUMMARY_SOURCE} GROUP BY ALL "
                           "ORDER BY d.name").fetchall()
    return [_summary(r) for r in rows]


def dataset_summary(store: Store, name: str) -> DatasetSummary:
    with store.reading() as cur:
        row = cur.execute(f"SELECT {_SUMMARY} FROM {_SUMMARY_SOURCE} WHERE d.name = ? "
                          "GROUP BY ALL", [name]).fetchone()
    if row is None:
        raise NotFound(f"no dataset named {name!r}")
    return _summary(row)


# --- data versions ----------------------------------------------------------------------


@dataclass(frozen=True)
class NewVersion:
    content_hash: str
    snapshot_sha: str
    schema: dict[str, str]
    schema_hash: str
    n_rows: int
    n_columns: int
    source_name: str
    size_bytes: int
    received_at: datetime
    profile: dict[str, Any]
    issues: list[Any]
    schema_change: dict[str, Any] | None
    job_id: int | None


@dataclass(frozen=True)
class CommitResult:
    ingest: Ingest
    version: DataVersion | None
    duplicate_of: int | None
    schema_version_changed: bool


def commit_version(store: Store, dataset: str, new: NewVersion) -> CommitResult:
    """Record an accepted file as the next data version, in one transaction; if the same
    content is already a version, record the drop as a duplicate of it instead."""
    now = utcnow()
    with store.transaction() as cur:
        ds = cur.execute(f"SELECT {_DATASET} FROM datasets WHERE name = ?", [dataset]).fetchone()
        if ds is None:
            raise NotFound(f"no dataset named {dataset!r}")
        current = _dataset(ds)
        existing = cur.execute(
            "SELECT version FROM data_versions WHERE dataset = ? AND content_hash = ?",
            [dataset, new.content_hash],
        ).fetchone()
        if existing is not None:
            ingest = _insert_ingest(cur, dataset, new.source_name, "duplicate", existing[0],
                                    new.content_hash, new.size_bytes, new.received_at, now,
                                    new.job_id, None, new.issues, None)
            return CommitResult(ingest, None, existing[0], False)
        number = cur.execute(
            "SELECT coalesce(max(version), 0) + 1 FROM data_versions WHERE dataset = ?", [dataset]
        ).fetchone()[0]
        # The first accepted file fixes the schema; an accepted change starts a new schema
        # version, whose first data version becomes the reference for learned rules.
        schema_changed = current.schema_version == 0 or current.schema != new.schema
        schema_version = current.schema_version + 1 if schema_changed else current.schema_version
        if schema_changed:
            cur.execute(
                "UPDATE datasets SET schema_json = ?, schema_version = ?, reference_version = ? "
                "WHERE name = ?",
                [to_json(new.schema), schema_version, number, dataset],
            )
        row = cur.execute(
            f"INSERT INTO data_versions (dataset, version, content_hash, snapshot_sha, "
            f"schema_hash, schema_version, n_rows, n_columns, source_name, received_at, "
            f"committed_at, profile) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            f"RETURNING {_VERSION}",
            [dataset, number, new.content_hash, new.snapshot_sha, new.schema_hash,
             schema_version, new.n_rows, new.n_columns, new.source_name,
             naive_utc(new.received_at), now,
             to_json(new.profile)],
        ).fetchone()
        ingest = _insert_ingest(cur, dataset, new.source_name, "accepted", number,
                                new.content_hash, new.size_bytes, new.received_at, now,
                                new.job_id, None, new.issues, new.schema_change)
    return CommitResult(ingest, _version(row), None, schema_changed and schema_version > 1)


def list_versions(store: Store, dataset: str) -> list[DataVersion]:
    with store.reading() as cur:
        rows = cur.execute(
            f"SELECT {_VERSION} FROM data_versions WHERE dataset = ? ORDER BY version", [dataset]
        ).fetchall()
    return [_version(r) for r in rows]


OLDEST_VERSION_FIRST = Order((Key("version", int),))


def page_versions(store: Store, dataset: str, *, after: Sequence[Any] | None = None,
                  limit: int = 100) -> Page[DataVersion]:
    """A dataset's versions, oldest first, without profiles, a page at a time."""
    with store.reading() as cur:
        return fetch_page(cur, _VERSION, "data_versions", ["dataset = ?"], [dataset],
                          OLDEST_VERSION_FIRST, after, limit, _version)


def get_version(store: Store, dataset: str, version: int, *, profile: bool = True) -> DataVersion:
    with store.reading() as cur:
        row = cur.execute(
            f"SELECT {_VERSION}, {'profile' if profile else 'NULL'} FROM data_versions "
            "WHERE dataset = ? AND version = ?",
            [dataset, version],
        ).fetchone()
    if row is None:
        raise NotFound(f"no version {version} of dataset {dataset!r}")
    return _version(row[:11], from_json(row[11]))


def profiles(store: Store, dataset: str, versions: list[int]) -> dict[int, dict[str, Any]]:
    """The per-column profiles of some versions of a dataset, by version number."""
    if not versions:
        return {}
    with store.reading() as cur:
        rows = cur.execute(
            "SELECT version, profile FROM data_versions WHERE dataset = ? "
            "AND version IN (SELECT unnest(?::INTEGER[])) ORDER BY version",
            [dataset, sorted(set(versions))]).fetchall()
    return {v: from_json(p) or {} for v, p in rows}


def known_hashes(store: Store, dataset: str) -> dict[str, int]:
    with store.reading() as cur:
        rows = cur.execute(
            "SELECT content_hash, version FROM data_versions WHERE dataset = ?", [dataset]
        ).fetchall()
    return {h: v for h, v in rows}


# --- ingests and quarantine ---------------------------------------------------------------


def _insert_ingest(cur: Any, dataset: str, source_name: str, outcome: str, version: int | None,
                   content_hash: str | None, size_bytes: int | None, received_at: datetime,
                   finished_at: datetime, job_id: int | None, quarantine_path: str | None,
                   issues: Any, schema_change: Any) -> Ingest:
    row = cur.execute(
        f"INSERT INTO ingests (dataset, source_name, outcome, version, content_hash, size_bytes, "
        f"received_at, finished_at, job_id, quarantine_path, issues, schema_change) "
        f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {_INGEST}",
        [dataset, source_name, outcome, version, content_hash, size_bytes, naive_utc(received_at),
         finished_at, job_id, quarantine_path, to_json(issues), to_json(schema_change)],
    ).fetchone()
    return _ingest(row)


def record_ingest(
    store: Store,
    dataset: str,
    source_name: str,
    outcome: str,
    *,
    received_at: datetime,
    content_hash: str | None = None,
    size_bytes: int | None = None,
    job_id: int | None = None,
    quarantine_path: str | None = None,
    issues: Any = None,
    schema_change: Any = None,
    version: int | None = None,
) -> Ingest:
    """Record a drop that made no new version: a duplicate (of `version`), rejected,
    vanished or failed."""
    if outcome not in INGEST_OUTCOMES:
        raise ValueError(f"unknown ingest outcome {outcome!r}")
    with store.transaction() as cur:
        return _insert_ingest(cur, dataset, source_name, outcome, version, content_hash,
                              size_bytes, received_at, utcnow(), job_id, quarantine_path,
                              issues, schema_change)


NEWEST_FIRST = Order((Key("id", int, descending=True),))


def page_ingests(store: Store, *, dataset: str | None = None, outcome: str | None = None,
                 after: Sequence[Any] | None = None, limit: int = 100) -> Page[Ingest]:
    """What became of dropped files, newest first, a page at a time."""
    where, args = [], []
    if dataset:
        where.append("dataset = ?")
        args.append(dataset)
    if outcome:
        where.append("outcome = ?")
        args.append(outcome)
    with store.reading() as cur:
        return fetch_page(cur, _INGEST, "ingests", where, args, NEWEST_FIRST, after, limit,
                          _ingest)


def list_ingests(
    store: Store, *, dataset: str | None = None, outcome: str | None = None, limit: int = 100
) -> list[Ingest]:
    return page_ingests(store, dataset=dataset, outcome=outcome, limit=limit).items
