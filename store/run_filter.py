"""Run search expressions, e.g. `metrics.auc > 0.8 and params.num_leaves = 31 and
tags.purpose = "Q4 churn model"`, compiled to SQL with bound parameters.

Clauses are joined by `and` (as in MLflow). Names: `metrics.K` (a run's last value of K),
`params.K`, `tags.K`, and the attributes `state`, `experiment`, `model`, `id`. Params and
tags are text: compared with a number, they are compared as numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from store.pages import Key, Order

_TOKEN = re.compile(
    r"\s*(?:(?P<name>(?:metrics|params|tags|attributes)\.(?:`[^`]+`|[\w.-]+)|[A-Za-z_]\w*)"
    r"\s*(?P<op>=|!=|<>|>=|<=|>|<|like)\s*"
    r"(?P<value>'[^']*'|\"[^\"]*\"|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|[\w.:-]+))\s*",
    re.IGNORECASE,
)
_AND = re.compile(r"\s+and\s+", re.IGNORECASE)
_ATTRIBUTES = {"state", "experiment", "model", "id"}
_OPS = {"=": "=", "!=": "<>", "<>": "<>", ">=": ">=", "<=": "<=", ">": ">", "<": "<",
        "like": "LIKE"}


class FilterError(ValueError):
    """A search expression that does not parse; the message says where."""


@dataclass(frozen=True)
class Clause:
    kind: str  # metrics | params | tags | attribute
    key: str
    op: str
    value: Any


def _value(text: str) -> Any:
    if text[:1] in "'\"":
        return text[1:-1]
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def parse(expression: str) -> list[Clause]:
    expression = expression.strip()
    if not expression:
        return []
    clauses = []
    for part in _AND.split(expression):
        match = _TOKEN.fullmatch(part)
        if not match:
            raise FilterError(
                f"cannot read {part.strip()!r}: write NAME OP VALUE (NAME: metrics.K, "
                "params.K, tags.K, state, experiment, model; OP: = != > >= < <= like), "
                "clauses joined by 'and'")
        name, op, value = match["name"], match["op"].lower(), _value(match["value"])
        if "." in name and name.split(".", 1)[0].lower() in ("metrics", "params", "tags",
                                                              "attributes"):
            kind, key = name.split(".", 1)
            kind = "attribute" if kind.lower() == "attributes" else kind.lower()
            key = key.strip("`")
        else:
            kind, key = "attribute", name
        if kind == "attribute" and key not in _ATTRIBUTES:
            known = ", ".join(sorted(_ATTRIBUTES))
            raise FilterError(f"unknown attribute {key!r} (known: {known})")
        if kind == "metrics" and not isinstance(value, int | float):
            raise FilterError(f"metrics.{key} compares with a number, not {value!r}")
        clauses.append(Clause(kind, key, _OPS[op], value))
    return clauses


def to_sql(clauses: list[Clause]) -> tuple[str, list[Any]]:
    """A WHERE fragment over `runs r` (and the CTE `last_metrics`), with its parameters."""
    parts, args = [], []
    for c in clauses:
        numeric = isinstance(c.value, int | float)
        if c.kind == "attribute":
            parts.append(f"r.{c.key} {c.op} ?")
            args.append(str(c.value))
        elif c.kind == "metrics":
            # NaN compares above every number in DuckDB: a NaN is no value, never a match.
            parts.append(f"r.id IN (SELECT run_id FROM last_metrics WHERE key = ? AND "
                         f"value {c.op} ? AND NOT isnan(value))")
            args += [c.key, float(c.value)]
        else:
            table = "run_params" if c.kind == "params" else "run_tags"
            column = "try_cast(value AS DOUBLE)" if numeric and c.op != "LIKE" else "value"
            parts.append(f"r.id IN (SELECT run_id FROM {table} WHERE key = ? AND "
                         f"{column} {c.op} ?)")
            args += [c.key, float(c.value) if numeric and c.op != "LIKE" else str(c.value)]
    return " AND ".join(parts), args


_NEWEST = (Key("r.started_at", datetime, descending=True), Key("r.id", str, descending=True))
_NULLABLE = {"ended_at", "model"}


def order_of(order_by: str | None) -> tuple[Order, list[Any], str]:
    """(the order, its join's parameters, the join) for e.g. `metrics.rmse asc`. Each
    order ends with the run id, so it is total and pages by keyset (store.pages); runs
    without the metric come last."""
    if not order_by:
        return Order(_NEWEST), [], ""
    words = order_by.split()
    name = words[0]
    direction = words[1].upper() if len(words) > 1 else "ASC"
    if direction not in ("ASC", "DESC") or len(words) > 2:
        raise FilterError(f"order by {order_by!r}: write NAME [asc|desc]")
    descending = direction == "DESC"
    if name.startswith("metrics."):
        # A NaN sorts with the runs without the metric (last), not above every number.
        join = ("LEFT JOIN (SELECT run_id, CASE WHEN isnan(value) THEN NULL ELSE value END "
                "AS sort_value FROM last_metrics WHERE key = ?) s ON s.run_id = r.id")
        return (Order((Key("s.sort_value", float, descending, nullable=True), *_NEWEST)),
                [name[8:]], join)
    column = name.removeprefix("attributes.")
    if column not in {*_ATTRIBUTES, "started_at", "ended_at"}:
        raise FilterError(f"cannot order by {name!r}: use metrics.K, started_at, ended_at, "
                          "state, experiment or model")
    kind = datetime if column.endswith("_at") else str
    first = Key(f"r.{column}", kind, descending, nullable=column in _NULLABLE)
    return Order((first,) if column == "id" else (first, Key("r.id", str))), [], ""
