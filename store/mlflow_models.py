"""MLflow's models beside our registry: logged models (MLflow 3's record of a model a run
logged, with its files under the artifacts proxy), registered models as MLflow's client
made them (a name, a description, tags), and versions numbered 1, 2, 3… per model as
MLflow numbers them, each naming our semantic version once its check has passed.

A registered model is ours (`models`) or MLflow's (`mlflow_registered_models`) or both: one
made by MLflow's client has no row in `models` until its first version is registered."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from store.db import Store, utcnow
from store.errors import Conflict, NotFound
from store.pages import Key, Order, Page, fetch_page
from store.rows import aware, from_json, to_json

# --- logged models -------------------------------------------------------------------------


@dataclass(frozen=True)
class LoggedModel:
    id: str
    experiment_id: int
    name: str
    source_run_id: str | None
    status: str
    model_type: str | None
    params: dict[str, str]
    tags: dict[str, str]
    created_at: datetime
    updated_at: datetime


_LOGGED = ("id, experiment_id, name, source_run_id, status, model_type, params, tags, "
           "created_at, updated_at")


def _logged(r: tuple) -> LoggedModel:
    return LoggedModel(r[0], r[1], r[2], r[3], r[4], r[5], from_json(r[6]), from_json(r[7]),
                       aware(r[8]), aware(r[9]))


def create_logged_model(store: Store, *, model_id: str, experiment_id: int, name: str,
                        source_run_id: str | None, model_type: str | None,
                        params: dict[str, str], tags: dict[str, str]) -> LoggedModel:
    now = utcnow()
    with store.transaction() as cur:
        row = cur.execute(
            f"INSERT INTO mlflow_logged_models ({_LOGGED}) VALUES (?, ?, ?, ?, "
            f"'LOGGED_MODEL_PENDING', ?, ?, ?, ?, ?) RETURNING {_LOGGED}",
            [model_id, experiment_id, name, source_run_id, model_type, to_json(params),
             to_json(tags), now, now]).fetchone()
    return _logged(row)


def get_logged_model(store: Store, model_id: str) -> LoggedModel:
    with store.reading() as cur:
        row = cur.execute(f"SELECT {_LOGGED} FROM mlflow_logged_models WHERE id = ?",
                          [model_id]).fetchone()
    if row is None:
        raise NotFound(f"no logged model with id {model_id!r}")
    return _logged(row)


def update_logged_model(store: Store, model_id: str, *, status: str | None = None,
                        tags: dict[str, str] | None = None, params: dict[str, str] | None = None,
                        drop_tag: str | None = None) -> LoggedModel:
    """Its status set, tags and params merged in, a tag dropped: one transaction."""
    with store.transaction() as cur:
        row = cur.execute(f"SELECT {_LOGGED} FROM mlflow_logged_models WHERE id = ?",
                          [model_id]).fetchone()
        if row is None:
            raise NotFound(f"no logged model with id {model_id!r}")
        model = _logged(row)
        new_tags = {**model.tags, **(tags or {})}
        if drop_tag is not None:
            if drop_tag not in new_tags:
                raise NotFound(f"logged model {model_id} has no tag {drop_tag!r}")
            del new_tags[drop_tag]
        row = cur.execute(
            f"UPDATE mlflow_logged_models SET status = ?, tags = ?, params = ?, updated_at = ? "
            f"WHERE id = ? RETURNING {_LOGGED}",
            [status or model.status, to_json(new_tags),
             to_json({**model.params, **(params or {})}), utcnow(), model_id]).fetchone()
    return _logged(row)


NEWEST_FIRST = Order((Key("created_at", datetime, descending=True),
                      Key("id", str, descending=True)))
_LOGGED_FILTERS = {"name", "source_run_id", "status", "model_type", "id"}


def page_logged_models(store: Store, *, experiment_ids: Sequence[int],
                       equal: dict[str, str], after: Sequence[Any] | None = None,
                       limit: int = 100) -> Page[LoggedModel]:
    """Logged models of these experiments whose columns equal `equal`, newest first."""
    unknown = set(equal) - _LOGGED_FILTERS
    if unknown:
        raise ValueError(f"cannot filter logged models by {sorted(unknown)[0]!r}")
    where = ["list_contains(?, experiment_id)", *(f"{c} = ?" for c in equal)]
    with store.reading() as cur:
        return fetch_page(cur, _LOGGED, "mlflow_logged_models", where,
                          [list(experiment_ids), *equal.values()], NEWEST_FIRST, after, limit,
                          _logged)


# --- registered models ---------------------------------------------------------------------


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    created_at: datetime
    updated_at: datetime
    description: str | None
    tags: dict[str, str]


_REGISTERED = (
    "WITH registered AS (SELECT coalesce(f.name, m.name) AS name, "
    "least(f.created_at, m.created_at) AS created_at, "
    "coalesce(greatest(f.updated_at, m.created_at), f.updated_at, m.created_at) AS updated_at, "
    "coalesce(f.description, m.description) AS description, coalesce(f.tags, '{}') AS tags "
    "FROM mlflow_registered_models f FULL OUTER JOIN models m ON m.name = f.name)")
_REGISTERED_COLUMNS = "name, created_at, updated_at, description, tags"
BY_NAME = Order((Key("name", str),))


def _registered(r: tuple) -> RegisteredModel:
    return RegisteredModel(r[0], aware(r[1]), aware(r[2]), r[3], from_json(r[4]))


def create_registered_model(store: Store, name: str, *, description: str | None,
                            tags: dict[str, str]) -> RegisteredModel:
    now = utcnow()
    with store.transaction() as cur:
        if cur.execute("SELECT 1 FROM mlflow_registered_models WHERE name = ? UNION ALL "
                       "SELECT 1 FROM models WHERE name = ?", [name, name]).fetchone():
            raise Conflict(f"a registered model named {name!r} exists already")
        cur.execute("INSERT INTO mlflow_registered_models VALUES (?, ?, ?, ?, ?)",
                    [name, now, now, description, to_json(tags)])
    return get_registered_model(store, name)


def get_registered_model(store: Store, name: str) -> RegisteredModel:
    with store.reading() as cur:
        row = cur.execute(f"{_REGISTERED} SELECT {_REGISTERED_COLUMNS} FROM registered "
                          "WHERE name = ?", [name]).fetchone()
    if row is None:
        raise NotFound(f"no registered model named {name!r}")
    return _registered(row)


def page_registered_models(store: Store, *, name_like: str | None = None,
                           after: Sequence[Any] | None = None, limit: int = 100
                           ) -> Page[RegisteredModel]:
    where, args = ((["name LIKE ? ESCAPE '\\'"], [name_like]) if name_like is not None
                   else ([], []))
    with store.reading() as cur:
        return fetch_page(cur, _REGISTERED_COLUMNS, "registered", where, args, BY_NAME, after,
                          limit, _registered, prefix=_REGISTERED)


def update_registered_model(store: Store, name: str, *, description: str | None = None,
                            tags: dict[str, str] | None = None,
                            drop_tag: str | None = None) -> RegisteredModel:
    """MLflow's description and tags of a model (ours or MLflow's): kept beside ours. Read
    and written in one transaction: two callers' tags both stay."""
    with store.transaction() as cur:
        current = get_registered_model(store, name)
        new_tags = {**current.tags, **(tags or {})}
        if drop_tag is not None:
            if drop_tag not in new_tags:
                raise NotFound(f"registered model {name!r} has no tag {drop_tag!r}")
            del new_tags[drop_tag]
        cur.execute(
            "INSERT INTO mlflow_registered_models VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) "
            "DO UPDATE SET updated_at = excluded.updated_at, description = "
            "excluded.description, tags = excluded.tags",
            [name, current.created_at, utcnow(),
             description if description is not None else current.description,
             to_json(new_tags)])
        return get_registered_model(store, name)


# --- numbered versions ---------------------------------------------------------------------


@dataclass(frozen=True)
class NumberedVersion:
    model: str
    number: int
    version: str | None
    """Our semantic version, once the check passed; None before (or when it failed)."""
    job_id: int | None
    source: str
    run_id: str | None
    model_id: str | None
    description: str | None
    tags: dict[str, str]
    created_at: datetime
    updated_at: datetime
    job_state: str | None
    job_error: str | None


_NUMBERED = ("v.model, v.number, v.version, v.job_id, v.source, v.run_id, v.model_id, "
             "v.description, v.tags, v.created_at, v.updated_at, j.state, j.error")
_NUMBERED_SOURCE = "mlflow_model_versions v LEFT JOIN jobs j ON j.id = v.job_id"
BY_NUMBER = Order((Key("v.model", str), Key("v.number", int)))


def _numbered(r: tuple) -> NumberedVersion:
    return NumberedVersion(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], from_json(r[8]),
                           aware(r[9]), aware(r[10]), r[11], r[12])


def add_version(cur: Any, *, model: str, source: str, run_id: str | None,
                model_id: str | None, description: str | None, tags: dict[str, str]) -> int:
    """Within the caller's transaction: the model's next number (1 for its first)."""
    now = utcnow()
    number = cur.execute("SELECT coalesce(max(number), 0) + 1 FROM mlflow_model_versions "
                         "WHERE model = ?", [model]).fetchone()[0]
    cur.execute("INSERT INTO mlflow_model_versions VALUES (?, ?, NULL, NULL, ?, ?, ?, ?, ?, ?, "
                "?)", [model, number, source, run_id, model_id, description, to_json(tags),
                       now, now])
    cur.execute("UPDATE mlflow_registered_models SET updated_at = ? WHERE name = ?",
                [now, model])
    return int(number)


def set_check(cur: Any, model: str, number: int, *, job_id: int,
              version: str | None = None) -> None:
    """Within the caller's transaction: the job checking a version, and (once it passed)
    the version of ours it became."""
    cur.execute("UPDATE mlflow_model_versions SET job_id = ?, version = coalesce(?, version), "
                "updated_at = ? WHERE model = ? AND number = ?",
                [job_id, version, utcnow(), model, number])


def get_version(store: Store, model: str, number: int) -> NumberedVersion:
    with store.reading() as cur:
        row = cur.execute(f"SELECT {_NUMBERED} FROM {_NUMBERED_SOURCE} WHERE v.model = ? AND "
                          "v.number = ?", [model, number]).fetchone()
    if row is None:
        raise NotFound(f"model {model!r} has no version {number} made through MLflow")
    return _numbered(row)


def page_versions(store: Store, *, model: str | None = None, run_id: str | None = None,
                  after: Sequence[Any] | None = None, limit: int = 100
                  ) -> Page[NumberedVersion]:
    where, args = [], []
    for column, value in (("v.model", model), ("v.run_id", run_id)):
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    with store.reading() as cur:
        return fetch_page(cur, _NUMBERED, _NUMBERED_SOURCE, where, args, BY_NUMBER, after,
                          limit, _numbered)


def latest_versions(store: Store, model: str) -> list[NumberedVersion]:
    """The model's newest numbered version (MLflow's latest_versions, stages aside)."""
    with store.reading() as cur:
        row = cur.execute(f"SELECT {_NUMBERED} FROM {_NUMBERED_SOURCE} WHERE v.model = ? "
                          "ORDER BY v.number DESC LIMIT 1", [model]).fetchone()
    return [_numbered(row)] if row else []


def numbers_of(store: Store, model: str) -> dict[str, int]:
    """Our versions of a model that have MLflow numbers: the newest number of each."""
    with store.reading() as cur:
        return dict(cur.execute("SELECT version, max(number) FROM mlflow_model_versions "
                                "WHERE model = ? AND version IS NOT NULL GROUP BY version",
                                [model]).fetchall())


def update_version(store: Store, model: str, number: int, *, description: str | None = None,
                   tags: dict[str, str] | None = None,
                   drop_tag: str | None = None) -> NumberedVersion:
    """Its description and tags, read and written in one transaction (as a model's)."""
    with store.transaction() as cur:
        current = get_version(store, model, number)
        new_tags = {**current.tags, **(tags or {})}
        if drop_tag is not None:
            if drop_tag not in new_tags:
                raise NotFound(f"{model} version {number} has no tag {drop_tag!r}")
            del new_tags[drop_tag]
        cur.execute("UPDATE mlflow_model_versions SET description = ?, tags = ?, "
                    "updated_at = ? WHERE model = ? AND number = ?",
                    [description if description is not None else current.description,
                     to_json(new_tags), utcnow(), model, number])
        return get_version(store, model, number)
