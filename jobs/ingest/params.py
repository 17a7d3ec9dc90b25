"""check_params for ingest: every field checked and every default filled, naming the field.

The daemon runs it at submission (a bad field is a 422 naming it) and `run` again, so it is
idempotent: checking checked params changes nothing.
"""

from __future__ import annotations

import re
from typing import Any

from jobs.checks import a_name as _name
from jobs.checks import an_object as _dict
from jobs.checks import no_unknown_keys as _unknown
from jobs.context import InvalidParams
from jobs.ingest.vocab import DTYPES

RULE_DEFAULTS: dict[str, float | None] = {
    "max_null_share": None,
    "max_out_of_range_share": 0.01,
    "max_unseen_share": 0.01,
    "max_duplicate_share": 0.01,
    "range_margin": 0.1,
}
COLUMN_KEYS = {"dtype", "min", "max", "max_null_share", "max_out_of_range_share", "allowed",
               "level"}
SPEC_DEFAULTS: dict[str, Any] = {
    "schema": None, "schema_declared": False, "target": None, "time_column": None,
    "id_column": None, "time_parts": None, "delimiter": ",", "on_schema_change": "quarantine",
}
_SHA256 = re.compile(r"[0-9a-f]{64}")


def _number(value: Any, field: str, *, low: float | None = None, high: float | None = None,
            optional: bool = True) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise InvalidParams(field, f"must be a number, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise InvalidParams(field, f"must be between {low} and {high}, got {value}")
    return value


def _dtype(value: Any, field: str) -> str:
    if value not in DTYPES:
        raise InvalidParams(field, f"unknown dtype {value!r} (one of {', '.join(DTYPES)})")
    return value


def _schema(value: Any, field: str) -> dict[str, str] | None:
    if value is None:
        return None
    return {_name(c, field) or c: _dtype(d, f"{field}.{c}") for c, d in _dict(value, field).items()}


def _column_rule(rule: Any, field: str) -> dict[str, Any]:
    rule = _dict(rule, field)
    _unknown(rule, COLUMN_KEYS, f"{field}.")
    out: dict[str, Any] = {}
    if rule.get("dtype") is not None:
        out["dtype"] = _dtype(rule["dtype"], f"{field}.dtype")
    for key in ("min", "max"):
        if rule.get(key) is not None:
            out[key] = _number(rule[key], f"{field}.{key}")
    if "min" in out and "max" in out and out["min"] > out["max"]:
        raise InvalidParams(f"{field}.min", f"is above max ({out['min']} > {out['max']})")
    for key in ("max_null_share", "max_out_of_range_share"):
        if rule.get(key) is not None:
            out[key] = _number(rule[key], f"{field}.{key}", low=0, high=1)
    if rule.get("allowed") is not None:
        allowed = rule["allowed"]
        if not isinstance(allowed, list) or not allowed or not all(
                isinstance(a, str | int | float | bool) for a in allowed):
            raise InvalidParams(f"{field}.allowed", "must be a non-empty list of values")
        out["allowed"] = allowed
    if rule.get("level") is not None:
        if rule["level"] not in ("error", "warning"):
            raise InvalidParams(f"{field}.level",
                                f"must be error or warning, got {rule['level']!r}")
        out["level"] = rule["level"]
    return out


def _spec(spec: Any) -> dict[str, Any]:
    spec = _dict(spec if spec is not None else {}, "spec")
    _unknown(spec, {*SPEC_DEFAULTS, "rules", "columns"}, "spec.")
    out = {**SPEC_DEFAULTS, **{k: v for k, v in spec.items() if k in SPEC_DEFAULTS}}
    out["schema"] = _schema(out["schema"], "spec.schema")
    if not isinstance(out["schema_declared"], bool):
        raise InvalidParams("spec.schema_declared", "must be true or false")
    if out["schema_declared"] and out["schema"] is None:
        raise InvalidParams("spec.schema_declared", "is true but spec.schema is null")
    for key in ("target", "time_column", "id_column"):
        out[key] = _name(out[key], f"spec.{key}", optional=True)
    if out["time_parts"] is not None:
        if not isinstance(out["time_parts"], list):
            raise InvalidParams("spec.time_parts", "must be a list of column names or null")
        out["time_parts"] = [_name(c, f"spec.time_parts.{i}")
                             for i, c in enumerate(out["time_parts"])]
    delimiter = out["delimiter"]
    if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in '"\r\n':
        raise InvalidParams("spec.delimiter", f"must be one character (not a quote or newline), "
                            f"got {delimiter!r}")
    if out["on_schema_change"] not in ("quarantine", "accept"):
        raise InvalidParams("spec.on_schema_change",
                            f"must be quarantine or accept, got {out['on_schema_change']!r}")
    rules = _dict(spec.get("rules") or {}, "spec.rules")
    _unknown(rules, set(RULE_DEFAULTS), "spec.rules.")
    out["rules"] = {
        key: _number(rules.get(key, default), f"spec.rules.{key}", low=0,
                     high=None if key == "range_margin" else 1)
        for key, default in RULE_DEFAULTS.items()
    }
    columns = _dict(spec.get("columns") or {}, "spec.columns")
    out["columns"] = {c: _column_rule(r, f"spec.columns.{c}") for c, r in columns.items()}
    return out


def _reference(reference: Any) -> dict[str, Any] | None:
    """Learned by the daemon from the reference version: checked for shape, extra keys kept."""
    if reference is None:
        return None
    reference = _dict(reference, "reference")
    columns = _dict(reference.get("columns") or {}, "reference.columns")
    for column, stats in columns.items():
        field = f"reference.columns.{column}"
        stats = _dict(stats, field)
        for key in ("min", "max"):
            if stats.get(key) is not None and not isinstance(stats[key], int | float | str):
                raise InvalidParams(f"{field}.{key}", "must be a number")
        if stats.get("null_share") is not None:
            _number(stats["null_share"], f"{field}.null_share", low=0, high=1)
        categories = stats.get("categories")
        if categories is not None and not isinstance(categories, list | dict):
            raise InvalidParams(f"{field}.categories", "must be a list of values or null")
    return {**reference, "columns": columns}


def _identity(identity: Any) -> dict[str, int] | None:
    """The file as the daemon saw it when it judged it complete (size, mtime_ns, inode)."""
    if identity is None:
        return None
    identity = _dict(identity, "identity")
    _unknown(identity, {"size", "mtime_ns", "inode"}, "identity.")
    for key in ("size", "mtime_ns", "inode"):
        value = identity.get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidParams(f"identity.{key}", f"must be an integer, got {value!r}")
    return dict(identity)


def check_params(params: dict[str, Any]) -> dict[str, Any]:
    _unknown(params, {"dataset", "path", "spec", "reference", "known_hashes", "identity",
                      "received_at", "limits"}, "")
    dataset = _name(params.get("dataset"), "dataset")
    path = _name(params.get("path"), "path")
    if not str(path).startswith("/"):
        raise InvalidParams("path", f"must be an absolute path, got {path!r}")
    known = _dict(params.get("known_hashes") or {}, "known_hashes")
    for sha, version in known.items():
        if not isinstance(sha, str) or not _SHA256.fullmatch(sha):
            raise InvalidParams("known_hashes", f"{sha!r} is not a sha256 hex digest")
        if isinstance(version, bool) or not isinstance(version, int):
            raise InvalidParams(f"known_hashes.{sha}", "must be a version number")
    received_at = params.get("received_at")
    if received_at is not None and not isinstance(received_at, str):
        raise InvalidParams("received_at", "must be an ISO timestamp string")
    return {
        "dataset": dataset,
        "path": path,
        "identity": _identity(params.get("identity")),
        "received_at": received_at,
        "spec": _spec(params.get("spec")),
        "reference": _reference(params.get("reference")),
        "known_hashes": dict(known),
        "limits": _limits(params.get("limits")),
    }


def _limits(value: Any) -> dict[str, float]:
    limits = _dict(value or {}, "limits")
    _unknown(limits, {"max_decompressed_mb", "max_compression_ratio"}, "limits.")
    out = {"max_decompressed_mb": 16384.0, "max_compression_ratio": 200.0}
    for key, (low, high) in {"max_decompressed_mb": (1, 1 << 30),
                             "max_compression_ratio": (2, 1e6)}.items():
        if key in limits:
            out[key] = _number(limits[key], f"limits.{key}", low=low, high=high)
    return out
