"""The model registry: models, semantically versioned versions, aliases and their history.

Versions are numbered by rule: major when the input signature changes, minor when trained
on new data, patch when the same data with new params or code.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from store import deployments
from store.db import Store, utcnow
from store.errors import Conflict, NotFound
from store.pages import Key, Order, Page, fetch_page
from store.rows import aware, from_json, to_json

_VERSION = (
    "model, version, created_at, artifact_sha, signature, metrics, run_id, archived, major, "
    "minor, patch, signature_hash, data_key, config_hash, bump_reason"
)


@dataclass(frozen=True)
class Model:
    name: str
    created_at: datetime
    task: str
    description: str | None
    aliases: dict[str, str]
    latest: str | None


@dataclass(frozen=True)
class ModelVersion:
    model: str
    version: str
    created_at: datetime
    artifact_sha: str
    signature: Any
    metrics: Any
    run_id: str | None
    archived: bool
    signature_hash: str | None
    data_key: str | None
    config_hash: str | None
    bump_reason: str | None
    registered_now: bool = False
    """Set by `register_version` when it made this version (not when it found it)."""


@dataclass(frozen=True)
class AliasMove:
    id: int
    model: str
    alias: str
    from_version: str | None
    to_version: str | None
    actor: str
    reason: str | None
    at: datetime
    kind: str = "move"


_MOVE = "id, model, alias, from_version, to_version, actor, reason, moved_at, kind"


def _move(r: tuple) -> AliasMove:
    return AliasMove(*r[:7], aware(r[7]), r[8])


def _version(r: tuple) -> ModelVersion:
    return ModelVersion(r[0], r[1], aware(r[2]), r[3], from_json(r[4]), from_json(r[5]), r[6],
                        r[7], r[11], r[12], r[13], r[14])


def next_version(previous: ModelVersion | None, previous_parts: tuple[int, int, int] | None,
                 *, signature_hash: str, data_key: str) -> tuple[tuple[int, int, int], str]:
    """The semver rule, and the reason for the bump."""
    if previous is None or previous_parts is None:
        return (1, 0, 0), "first version"
    major, minor, patch = previous_parts
    if previous.signature_hash != signature_hash:
        return (major + 1, 0, 0), "the input signature changed"
    if previous.data_key != data_key:
        return (major, minor + 1, 0), "trained on new data"
    return (major, minor, patch + 1), "the same data with new params or code"


def register_version(
    cur: Any,
    *,
    model: str,
    task: str,
    artifact_sha: str,
    signature: Any,
    signature_hash: str,
    data_key: str,
    config_hash: str,
    metrics: Any,
    run_id: str | None,
    description: str | None = None,
    evaluation: Any = None,
) -> ModelVersion:
    """Within the caller's transaction: the next version of `model` by the semver rule (the
    same artifact registered again gives back its existing version). `evaluation`: what a
    model card shows beyond the metrics (intervals, slices, importance), kept apart from
    the version's record (`get_evaluation`) so listings do not carry it."""
    cur.execute(
        "INSERT INTO models (name, created_at, task, description) VALUES (?, ?, ?, ?) "
        "ON CONFLICT DO NOTHING", [model, utcnow(), task, description])
    same = cur.execute(f"SELECT {_VERSION} FROM model_versions WHERE model = ? AND "
                       "artifact_sha = ?", [model, artifact_sha]).fetchone()
    if same is not None:
        return _version(same)
    latest = cur.execute(
        f"SELECT {_VERSION} FROM model_versions WHERE model = ? "
        "ORDER BY major DESC, minor DESC, patch DESC LIMIT 1", [model]).fetchone()
    previous = _version(latest) if latest else None
    parts, reason = next_version(previous, (latest[8], latest[9], latest[10]) if latest else None,
                                 signature_hash=signature_hash, data_key=data_key)
    name = ".".join(map(str, parts))
    row = cur.execute(
        f"INSERT INTO model_versions (model, version, created_at, artifact_sha, signature, "
        f"metrics, run_id, archived, major, minor, patch, signature_hash, data_key, "
        f"config_hash, bump_reason, evaluation) VALUES (?, ?, ?, ?, ?, ?, ?, false, ?, ?, ?, ?, "
        f"?, ?, ?, ?) RETURNING {_VERSION}",
        [model, name, utcnow(), artifact_sha, to_json(signature), to_json(metrics), run_id,
         *parts, signature_hash, data_key, config_hash, reason, to_json(evaluation)],
    ).fetchone()
    return dataclasses.replace(_version(row), registered_now=True)


def get_model(store: Store, name: str) -> Model:
    with store.reading() as cur:
        row = cur.execute("SELECT name, created_at, task, description FROM models "
                          "WHERE name = ?", [name]).fetchone()
        if row is None:
            # Unknown names are refused before the store is asked (mlopsd/services/model_names.py):
            # what reaches here is declared in mlops.toml but not trained or logged yet.
            raise NotFound(f"model {name!r} has no registered version yet")
        aliases = dict(cur.execute("SELECT alias, version FROM model_aliases WHERE model = ?",
                                   [name]).fetchall())
        latest = cur.execute("SELECT version FROM model_versions WHERE model = ? "
                             "ORDER BY major DESC, minor DESC, patch DESC LIMIT 1",
                             [name]).fetchone()
    return Model(row[0], aware(row[1]), row[2], row[3], aliases, latest[0] if latest else None)


def model_names(store: Store) -> list[str]:
    """The registered models' names, sorted."""
    with store.reading() as cur:
        return [r[0] for r in cur.execute("SELECT name FROM models ORDER BY name").fetchall()]


def named_models(store: Store) -> list[str]:
    """Every model name the store knows of, sorted: registered, or named by a run (a run
    can be made for a model before it logs a version of it)."""
    with store.reading() as cur:
        return [r[0] for r in cur.execute(
            "SELECT name FROM models UNION SELECT model FROM runs WHERE model IS NOT NULL "
            "ORDER BY 1").fetchall()]


def list_models(store: Store) -> list[Model]:
    return [get_model(store, n) for n in model_names(store)]


BY_NAME = Order((Key("name", str),))


def page_models(store: Store, *, after: Sequence[Any] | None = None, limit: int = 100
                ) -> Page[Model]:
    """Registered models by name, with their aliases and latest version, a page at a time
    (three queries a page, whatever its size)."""
    with store.reading() as cur:
        page = fetch_page(cur, "name, created_at, task, description", "models", [], [],
                          BY_NAME, after, limit, tuple)
        names = [row[0] for row in page.items]
        aliases: dict[str, dict[str, str]] = {name: {} for name in names}
        for model, alias, version in cur.execute(
                "SELECT model, alias, version FROM model_aliases WHERE list_contains(?, model) "
                "ORDER BY model, alias", [names]).fetchall():
            aliases[model][alias] = version
        latest = dict(cur.execute(
            "SELECT model, arg_max(version, (major, minor, patch)) FROM model_versions "
            "WHERE list_contains(?, model) GROUP BY model", [names]).fetchall())
    return Page([Model(r[0], aware(r[1]), r[2], r[3], aliases[r[0]], latest.get(r[0]))
                 for r in page.items], page.next)


def list_versions(store: Store, model: str, *, include_archived: bool = True
                  ) -> list[ModelVersion]:
    with store.reading() as cur:
        rows = cur.execute(
            f"SELECT {_VERSION} FROM model_versions WHERE model = ? "
            f"{'' if include_archived else 'AND NOT archived'} "
            "ORDER BY major, minor, patch", [model]).fetchall()
    return [_version(r) for r in rows]


OLDEST_VERSION_FIRST = Order((Key("major", int), Key("minor", int), Key("patch", int)))


def page_versions(store: Store, model: str, *, after: Sequence[Any] | None = None,
                  limit: int = 100) -> Page[ModelVersion]:
    """A model's versions, oldest first (by semver), a page at a time."""
    with store.reading() as cur:
        return fetch_page(cur, _VERSION, "model_versions", ["model = ?"], [model],
                          OLDEST_VERSION_FIRST, after, limit, _version)


def get_version(store: Store, model: str, version: str) -> ModelVersion:
    with store.reading() as cur:
        row = cur.execute(f"SELECT {_VERSION} FROM model_versions WHERE model = ? AND "
                          "version = ?", [model, version]).fetchone()
    if row is None:
        raise NotFound(f"model {model!r} has no version {version!r}")
    return _version(row)


def get_evaluation(store: Store, model: str, version: str) -> Any:
    """The version's evaluation as its training recorded it; None when it recorded none."""
    with store.reading() as cur:
        row = cur.execute("SELECT evaluation FROM model_versions WHERE model = ? AND "
                          "version = ?", [model, version]).fetchone()
    if row is None:
        raise NotFound(f"model {model!r} has no version {version!r}")
    return from_json(row[0])


def move_alias(store: Store, model: str, alias: str, to_version: str | None, *, actor: str,
               reason: str | None, kind: str = "move", deploy: str | None = None,
               deploy_detail: Any = None) -> AliasMove:
    """Point `alias` at `to_version` (None removes it), recording the move; with `deploy`
    (a strategy: blue-green, rollback…) the deployment step is recorded in the same
    transaction."""
    with store.transaction() as cur:
        if to_version is not None:
            found = cur.execute("SELECT archived FROM model_versions WHERE model = ? AND "
                                "version = ?", [model, to_version]).fetchone()
            if found is None:
                raise NotFound(f"model {model!r} has no version {to_version!r}")
            if found[0]:
                raise Conflict(f"{model}:{to_version} is archived; it cannot take an alias")
        current = cur.execute("SELECT version FROM model_aliases WHERE model = ? AND alias = ?",
                              [model, alias]).fetchone()
        from_version = current[0] if current else None
        if to_version is None:
            cur.execute("DELETE FROM model_aliases WHERE model = ? AND alias = ?", [model, alias])
        else:
            cur.execute(
                "INSERT INTO model_aliases VALUES (?, ?, ?) ON CONFLICT (model, alias) "
                "DO UPDATE SET version = excluded.version", [model, alias, to_version])
        row = cur.execute(
            "INSERT INTO alias_history (model, alias, from_version, to_version, actor, reason, "
            f"moved_at, kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING {_MOVE}",
            [model, alias, from_version, to_version, actor, reason, utcnow(), kind]).fetchone()
        if deploy is not None and to_version is not None:
            deployments.record(cur, model=model, strategy=deploy, from_version=from_version,
                               to_version=to_version, state="done", actor=actor, reason=reason,
                               detail=deploy_detail)
    return _move(row)


def rollback_target(store: Store, model: str, alias: str) -> str | None:
    """The version `alias` pointed at before its current one: moves are replayed as a stack
    (a move pushes, a rollback pops), so rolling back twice goes two steps back."""
    stack: list[str | None] = []
    for move in reversed(alias_history(store, model, alias)):
        if move.kind == "rollback":
            if stack:
                stack.pop()
        else:
            stack.append(move.to_version)
    return stack[-2] if len(stack) >= 2 else None


def alias_history(store: Store, model: str, alias: str | None = None) -> list[AliasMove]:
    where, args = "model = ?", [model]
    if alias:
        where += " AND alias = ?"
        args.append(alias)
    with store.reading() as cur:
        rows = cur.execute(
            f"SELECT {_MOVE} FROM alias_history WHERE {where} ORDER BY id DESC", args).fetchall()
    return [_move(r) for r in rows]


NEWEST_MOVE_FIRST = Order((Key("id", int, descending=True),))


def page_alias_history(store: Store, model: str, alias: str | None = None, *,
                       after: Sequence[Any] | None = None, limit: int = 100
                       ) -> Page[AliasMove]:
    """Every move of the model's aliases (or of one), newest first, a page at a time."""
    where, args = ["model = ?"], [model]
    if alias:
        where.append("alias = ?")
        args.append(alias)
    with store.reading() as cur:
        return fetch_page(cur, _MOVE, "alias_history", where, args, NEWEST_MOVE_FIRST, after,
                          limit, _move)


def set_archived(store: Store, model: str, version: str, archived: bool = True) -> None:
    with store.transaction() as cur:
        aliases = [r[0] for r in cur.execute(
            "SELECT alias FROM model_aliases WHERE model = ? AND version = ?",
            [model, version]).fetchall()]
        if archived and aliases:
            raise Conflict(f"{model}:{version} is {', '.join(aliases)}; move the alias first")
        row = cur.execute("UPDATE model_versions SET archived = ? WHERE model = ? AND "
                          "version = ? RETURNING version", [archived, model, version]).fetchone()
    if row is None:
        raise NotFound(f"model {model!r} has no version {version!r}")
