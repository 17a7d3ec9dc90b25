"""check_data: a file checked as ingest would check it, nothing stored.

The same steps as an ingest (`pipeline.run`: read, coerce, profile, validate against the
dataset's schema, declared rules and the rules learned from its data) with `keep=False`:
no snapshot is written, and the daemon records no data version, moves no file and
quarantines nothing. The result is a report of every rule that applied, passed or not:

- `error`: the checks could not run on the file (it cannot be read as CSV, Parquet or
  NDJSON, it is empty, it went away) — `mlops check data` exits 2;
- `failed`: a rule whose breach would quarantine the file (an error-level issue) — exit 1;
- `warning`: a rule whose breach an ingest would accept with a data-quality alert (learned
  ranges and categories, null shares, duplicates); `--strict` fails on these too;
- `passed`, and `skipped` for a rule the file did not get to (it failed before).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jobs.context import JobContext
from jobs.ingest.issues import Issue
from jobs.ingest.params import check_params
from jobs.ingest.validate import Ran

CONTRACT = {"missing_columns": "schema", "schema_change": "schema", "dtype": "schema",
            "target": "target", "time_column": "time_column", "null_share": "null_share",
            "out_of_range": "out_of_range", "non_finite": "non_finite",
            "unseen_categories": "unseen_categories", "allowed": "allowed",
            "duplicates": "duplicates"}
"""Issue checks that are the dataset's rules (a breach is a failure), and the rule each
counts against; any other issue (unreadable, empty, truncated…) means no rule could run."""

_RANK = {"error": 4, "failed": 3, "warning": 2, "passed": 1, "skipped": 0}


def run(params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    from jobs.ingest.pipeline import run as examine

    params = check_params(params)
    ran: Ran = []
    result = examine(params, ctx, keep=False, ran=ran)
    found = report(params, result, ran)
    ctx.log.info("check of %s against dataset %s: %s (%s)", found["file"], params["dataset"],
                 found["verdict"], found["summary"])
    return found


def _rules(spec: dict[str, Any], ran: Ran) -> list[dict[str, Any]]:
    """Every rule that applies to the file, in the order a person reads them."""
    columns = spec["schema"] or {}
    declared = sorted(c for c, r in spec["columns"].items() if r.get("dtype"))
    if columns:
        schema = (f"the dataset's schema: {len(columns)} columns with their dtypes"
                  + ("" if spec["on_schema_change"] == "quarantine"
                     else " (other columns accepted: on_schema_change = accept)"))
    elif declared:
        schema = "the declared columns present with their dtypes: " + ", ".join(declared)
    else:
        schema = "no schema fixed yet (the dataset's first accepted file fixes it)"
    rules = [
        {"check": "read", "column": None, "level": "error",
         "rule": "readable as CSV, Parquet or NDJSON (optionally .gz/.zst)"},
        {"check": "schema", "column": None, "level": "error", "rule": schema},
    ]
    if spec["target"]:
        rules.append({"check": "target", "column": spec["target"], "level": "error",
                      "rule": "the target column present, with values"})
    if spec["time_column"]:
        rules.append({"check": "time_column", "column": spec["time_column"], "level": "error",
                      "rule": "the time column present, as ISO-8601 dates or datetimes"})
    return rules + [dict(r) for r in ran]


def _rule_of(found: Issue) -> tuple[str, str | None]:
    check = CONTRACT.get(found["check"], "read")
    return check, None if check in ("read", "schema") else found.get("column")


def report(params: dict[str, Any], result: dict[str, Any], ran: Ran) -> dict[str, Any]:
    """The ingest's result as one verdict per rule."""
    rules = _rules(params["spec"], ran)
    by_key = {(r["check"], r["column"]): r for r in rules}
    for level, issues in (("error", result["errors"]), ("warning", result["warnings"])):
        for found in issues:
            key = _rule_of(found)
            rule = by_key.get(key)
            if rule is None:  # a rule that was not listed beforehand: shown all the same
                rule = {"check": key[0], "column": key[1], "level": level, "rule": None}
                by_key[key] = rule
                rules.append(rule)
            status = ("error" if key[0] == "read" else "failed") if level == "error" \
                else "warning"
            if _RANK[status] > _RANK[rule.get("status", "skipped")]:
                rule["status"] = status
            rule.setdefault("messages", []).append(found["message"])
    # The profile is made just before validation: without one, the file stopped earlier
    # and the rules it did not reach were not checked.
    validated = result["profile"] is not None
    for rule in rules:
        if "status" not in rule:
            rule["status"] = "passed" if validated or rule["check"] == "read" else "skipped"
        rule["message"] = "; ".join(rule.pop("messages", [])) or None
    statuses = [r["status"] for r in rules]
    verdict = ("error" if "error" in statuses else "fail" if "failed" in statuses
               else "pass")
    counts = {s: statuses.count(s) for s in ("passed", "warning", "failed", "error",
                                              "skipped") if s in statuses}
    reference = params["reference"] or {}
    return {
        "kind": "data",
        "subject": params["dataset"],
        "file": Path(params["path"]).name,
        "verdict": verdict,
        "summary": ", ".join(f"{n} {s}" for s, n in counts.items()),
        "rows": result["n_rows"],
        "columns": result["n_columns"],
        "content_hash": result["content_hash"],
        "reference": reference.get("label") or (
            f"version {reference['version']}" if reference.get("version") else None),
        "checks": [{"name": r["check"], "target": r["column"], "status": r["status"],
                    "level": r["level"], "rule": r["rule"], "message": r["message"]}
                   for r in rules],
        "timings": result["timings"],
    }
