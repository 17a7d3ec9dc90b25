"""Which dtype each column should have, and how a file's columns differ from the dataset's."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Plan:
    expected: dict[str, str] | None
    """The dataset's schema (declared, or fixed by its first file); None for a new dataset."""
    wanted: dict[str, str] = field(default_factory=dict)
    """The dtype each column is read as when it is known before reading."""
    declared: frozenset[str] = frozenset()
    """Columns whose dtype the config declares: values that do not fit it are errors."""
    flexible: bool = False
    """on_schema_change = accept: other columns may take the dtype their data has."""
    time_column: str | None = None
    """The dataset's time column: read as text, it is parsed as ISO-8601 (jobs.ingest.times)."""

    def is_declared(self, column: str) -> bool:
        return column in self.declared

    def order(self, names: list[str]) -> list[str]:
        """The dataset's column order, with columns new to it after, in the file's order."""
        known = [c for c in (self.expected or {}) if c in names]
        return known + [c for c in names if c not in known]


def plan(spec: dict[str, Any]) -> Plan:
    expected = spec["schema"]
    wanted = dict(expected or {})
    declared = set(wanted) if spec["schema_declared"] else set()
    for column, rule in spec["columns"].items():
        if rule.get("dtype"):
            wanted[column] = rule["dtype"]
            declared.add(column)
    return Plan(expected, wanted, frozenset(declared), spec["on_schema_change"] == "accept",
                spec["time_column"])


def change(expected: dict[str, str] | None, got: dict[str, str]) -> dict[str, Any] | None:
    if expected is None:
        return None
    added = [c for c in got if c not in expected]
    removed = [c for c in expected if c not in got]
    retyped = {c: [expected[c], got[c]] for c in got if c in expected and expected[c] != got[c]}
    if not (added or removed or retyped):
        return None
    return {"added": added, "removed": removed, "retyped": retyped}


def describe(change: dict[str, Any]) -> str:
    parts = []
    if change["added"]:
        parts.append("added " + ", ".join(f"'{c}'" for c in change["added"]))
    if change["removed"]:
        parts.append("removed " + ", ".join(f"'{c}'" for c in change["removed"]))
    for column, (old, new) in change["retyped"].items():
        parts.append(f"'{column}' changed from {old} to {new}")
    return "; ".join(parts)


def schema_hash(schema: dict[str, str]) -> str:
    """sha256 of the schema's canonical JSON (keys sorted: column order does not count)."""
    text = json.dumps(schema, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()
