"""Run search expressions, e.g. `metrics.auc > 0.8 and params.num_leaves = 31 and
tags.purpose = "Q4 churn model"`, compiled to SQL with bound parameters.

One language for our API and MLflow's `search_runs` (whose filters it takes as written):
clauses joined by `and`. Names: `metrics.K` (a run's last value of K), `params.K`,
`tags.K` (K as a word with dots, or quoted with backticks or double quotes), and the
attributes `state` (`status`, compared without case: MLflow's FINISHED is our finished),
`experiment`, `model`, `id` (`run_id`), `run_name` (the tag `mlflow.runName`), `user_id`
(the tag `mlflow.user`), `start_time` / `end_time` (ms since the epoch, as MLflow counts)
and `started_at` / `ended_at` (ISO text), each bare or after `attributes.`. Operators:
= != <> > >= < <= like ilike, and `in` / `not in` with a list `('a', 'b')`. Params and
tags are text: compared with a number, they are compared as numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from store.pages import Key, Order
from store.rows import MAX_MS

_NAME = r"(?:[A-Za-z_]+\.(?:`[^`]+`|\"[^\"]+\"|[\w.-]+)|[A-Za-z_]\w*)"
_VALUE = (r"'[^']*'|\"[^\"]*\"|\((?:[^()'\"]|'[^']*'|\"[^\"]*\")*\)"
          r"|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|[\w.:-]+")
_CLAUSE = re.compile(
    rf"\s*(?P<name>{_NAME})\s*(?P<op>=|!=|<>|>=|<=|>|<|not\s+in\b|in\b|ilike\b|like\b)"
    rf"\s*(?P<value>{_VALUE})\s*", re.IGNORECASE)
_AND = re.compile(r"and\b\s*", re.IGNORECASE)
_ITEM = re.compile(r"\s*('[^']*'|\"[^\"]*\"|[^,\s'\"]+)\s*(?:,\s*|$)")
_OPS = {"=": "=", "!=": "<>", "<>": "<>", ">=": ">=", "<=": "<=", ">": ">", "<": "<",
        "like": "LIKE", "ilike": "ILIKE", "in": "IN", "not in": "NOT IN"}
_KINDS = {"metrics": "metrics", "metric": "metrics", "params": "params", "param": "params",
          "parameters": "params", "parameter": "params", "tags": "tags", "tag": "tags",
          "attributes": "attribute", "attribute": "attribute", "attr": "attribute",
          "run": "attribute"}
_ATTRIBUTES = {"state": "state", "status": "state", "experiment": "experiment",
               "model": "model", "id": "id", "run_id": "id", "start_time": "start_time",
               "end_time": "end_time", "started_at": "started_at", "ended_at": "ended_at"}
_AS_TAGS = {"run_name": "mlflow.runName", "user_id": "mlflow.user"}
"""MLflow attributes that are tags here."""
_TIMES = {"start_time": "started_at", "end_time": "ended_at", "started_at": "started_at",
          "ended_at": "ended_at"}


class FilterError(ValueError):
    """A search expression that does not parse; the message says where."""


@dataclass(frozen=True)
class Clause:
    kind: str  # metrics | params | tags | attribute
    key: str
    op: str
    value: Any
    """A number, a text, or a list of them (in, not in)."""


def _value(text: str) -> Any:
    if text[:1] in "'\"":
        return text[1:-1]
    if text[:1] == "(":
        inner, items, position = text[1:-1].strip(), [], 0
        while position < len(inner):
            item = _ITEM.match(inner, position)
            if item is None:
                raise FilterError(f"cannot read the list {text!r}: write ('a', 'b')")
            items.append(_value(item[1]))
            position = item.end()
        if not items:
            raise FilterError(f"the list {text!r} is empty")
        return items
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _clause(name: str, op: str, value: Any) -> Clause:
    kind, _, key = name.partition(".")
    if key:
        if kind.lower() not in _KINDS:
            raise FilterError(f"cannot filter by {name!r}: names are metrics.K, params.K, "
                              "tags.K or an attribute")
        kind, key = _KINDS[kind.lower()], key.strip("`\"")
    else:
        kind, key = "attribute", name
    if kind == "attribute":
        if key.lower() in _AS_TAGS:
            kind, key = "tags", _AS_TAGS[key.lower()]
        elif key.lower() in _ATTRIBUTES:
            key = _ATTRIBUTES[key.lower()]
        else:
            known = ", ".join(sorted({*_ATTRIBUTES, *_AS_TAGS}))
            raise FilterError(f"unknown attribute {key!r} (known: {known})")
    listed = op in ("IN", "NOT IN")
    if listed != isinstance(value, list):
        raise FilterError(f"{name} {op.lower()} takes " + ("a list ('a', 'b')" if listed
                                                            else "one value, not a list"))
    values = value if listed else [value]
    if kind == "metrics" and not all(isinstance(v, int | float) for v in values):
        raise FilterError(f"metrics.{key} compares with a number, not {value!r}")
    if key in ("start_time", "end_time") and not all(
            isinstance(v, int | float) and float(v).is_integer() and abs(v) <= MAX_MS
            for v in values):
        raise FilterError(f"{key} compares with milliseconds since the epoch (a whole number "
                          f"up to {MAX_MS}, the year 9999), not {value!r}")
    if key in ("started_at", "ended_at"):
        for v in values:
            try:
                datetime.fromisoformat(str(v))
            except ValueError:
                raise FilterError(f"{key} compares with an ISO-8601 time ('2026-11-01' or "
                                  f"'2026-11-01T12:00:00'), not {v!r}") from None
    if kind == "attribute" and key == "state":
        value = [str(v).lower() for v in value] if listed else str(value).lower()
    return Clause(kind, key, op, value)


def parse(expression: str) -> list[Clause]:
    clauses: list[Clause] = []
    position, expression = 0, expression.strip()
    while position < len(expression):
        if clauses:
            joined = _AND.match(expression, position)
            if joined is None:
                raise FilterError(f"cannot read {expression[position:]!r}: clauses are "
                                  "joined by 'and'")
            position = joined.end()
        match = _CLAUSE.match(expression, position)
        if match is None:
            raise FilterError(
                f"cannot read {expression[position:].strip()!r}: write NAME OP VALUE (NAME: "
                "metrics.K, params.K, tags.K, state, experiment, model; OP: = != > >= < <= "
                "like ilike in), clauses joined by 'and'")
        op = _OPS[" ".join(match["op"].lower().split())]
        clauses.append(_clause(match["name"], op, _value(match["value"])))
        position = match.end()
    return clauses


def _placeholders(value: Any) -> str:
    return f"({', '.join('?' for _ in value)})" if isinstance(value, list) else "?"


def _each(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _time_sql(c: Clause) -> tuple[str, list[Any]]:
    column = f"r.{_TIMES[c.key]}"
    if c.key in ("start_time", "end_time"):  # MLflow's milliseconds
        slots = ", ".join("make_timestamp(CAST(? AS BIGINT) * 1000)" for _ in _each(c.value))
        return (f"{column} {c.op} ({slots})" if isinstance(c.value, list)
                else f"{column} {c.op} {slots}"), [int(v) for v in _each(c.value)]
    slots = ", ".join("CAST(? AS TIMESTAMP)" for _ in _each(c.value))
    return (f"{column} {c.op} ({slots})" if isinstance(c.value, list)
            else f"{column} {c.op} {slots}"), [str(v) for v in _each(c.value)]


def to_sql(clauses: list[Clause]) -> tuple[str, list[Any]]:
    """A WHERE fragment over `runs r` (and the CTE `last_metrics`), with its parameters."""
    parts, args = [], []
    for c in clauses:
        values = _each(c.value)
        numeric = all(isinstance(v, int | float) for v in values) and c.op not in (
            "LIKE", "ILIKE")
        if c.kind == "attribute" and c.key in _TIMES:
            part, more = _time_sql(c)
            parts.append(part)
            args += more
        elif c.kind == "attribute":
            parts.append(f"r.{c.key} {c.op} {_placeholders(c.value)}")
            args += [str(v) for v in values]
        elif c.kind == "metrics":
            # NaN compares above every number in DuckDB: a NaN is no value, never a match.
            parts.append(f"r.id IN (SELECT run_id FROM last_metrics WHERE key = ? AND "
                         f"value {c.op} {_placeholders(c.value)} AND NOT isnan(value))")
            args += [c.key, *(float(v) for v in values)]
        else:
            table = "run_params" if c.kind == "params" else "run_tags"
            column = "try_cast(value AS DOUBLE)" if numeric else "value"
            parts.append(f"r.id IN (SELECT run_id FROM {table} WHERE key = ? AND "
                         f"{column} {c.op} {_placeholders(c.value)})")
            args += [c.key, *(float(v) if numeric else str(v) for v in values)]
    return " AND ".join(parts), args


_NEWEST = (Key("r.started_at", datetime, descending=True), Key("r.id", str, descending=True))
_NULLABLE = {"ended_at", "model"}
_ORDER = re.compile(rf"^\s*(?P<name>{_NAME})(?:\s+(?P<direction>\w+))?\s*$")
_ORDER_ATTRIBUTES = {"state": "state", "status": "state", "experiment": "experiment",
                     "model": "model", "id": "id", "run_id": "id", "started_at": "started_at",
                     "start_time": "started_at", "ended_at": "ended_at",
                     "end_time": "ended_at"}


def order_of(order_by: str | None) -> tuple[Order, list[Any], str]:
    """(the order, its join's parameters, the join) for e.g. `metrics.rmse asc`. Each
    order ends with the run id, so it is total and pages by keyset (store.pages); runs
    without the metric (param, tag) come last."""
    if not order_by:
        return Order(_NEWEST), [], ""
    match = _ORDER.match(order_by)
    direction = (match["direction"] or "ASC").upper() if match else ""
    if match is None or direction not in ("ASC", "DESC"):
        raise FilterError(f"order by {order_by!r}: write NAME [asc|desc]")
    descending = direction == "DESC"
    kind, _, key = match["name"].partition(".")
    kind = _KINDS.get(kind.lower(), kind) if key else "attribute"
    key = key.strip("`\"") if key else match["name"]
    if kind == "attribute" and key.lower() in _AS_TAGS:
        kind, key = "tags", _AS_TAGS[key.lower()]
    if kind == "metrics":
        # A NaN sorts with the runs without the metric (last), not above every number.
        join = ("LEFT JOIN (SELECT run_id, CASE WHEN isnan(value) THEN NULL ELSE value END "
                "AS sort_value FROM last_metrics WHERE key = ?) s ON s.run_id = r.id")
        return (Order((Key("s.sort_value", float, descending, nullable=True), *_NEWEST)),
                [key], join)
    if kind in ("params", "tags"):
        table = "run_params" if kind == "params" else "run_tags"
        join = (f"LEFT JOIN (SELECT run_id, value AS sort_value FROM {table} WHERE key = ?) "
                "s ON s.run_id = r.id")
        return (Order((Key("s.sort_value", str, descending, nullable=True), *_NEWEST)),
                [key], join)
    column = _ORDER_ATTRIBUTES.get(key.lower()) if kind == "attribute" else None
    if column is None:
        raise FilterError(f"cannot order by {match['name']!r}: use metrics.K, params.K, "
                          "tags.K, started_at, ended_at, state, experiment or model")
    value_type = datetime if column.endswith("_at") else str
    first = Key(f"r.{column}", value_type, descending, nullable=column in _NULLABLE)
    return Order((first,) if column == "id" else (first, Key("r.id", str))), [], ""
