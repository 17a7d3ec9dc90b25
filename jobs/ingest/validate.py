"""Checks of a file's data against its dataset's schema, rules and reference → issues.

Counts for every check come from one pass; the first offending rows are looked up only for
checks that fail. Each issue says what is wrong, where, and which rule it broke.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl

from jobs.ingest.dtypes import to_polars
from jobs.ingest.issues import Issue, examples, issue, percent, share, show
from jobs.ingest.schema import Plan, change, describe
from jobs.ingest.table import ROW, Table
from jobs.ingest.time_parts import time_parts

REFERENCE_NULL_SLACK = 0.05
"""With no null rule, a column may be this much more null than in the reference data."""

Found = list[tuple[str, Issue]]
"""(level, issue) pairs: level "error" or "warning"."""
Ran = list[dict[str, Any]]
"""The checks that ran on a file, each {check, column, level, rule}: `rule` says in words
what it holds the column to (`mlops check data` lists the ones that passed too)."""
Later = Callable[[dict[str, Any]], None] | None
"""What a check does once the shared pass has counted its offending values."""


def schema_issues(plan: Plan, spec: dict, got: dict[str, str]) -> tuple[dict | None, Found]:
    found: Found = []
    # A column whose dtype the config declares is required, whatever the schema's state.
    required = list(spec["schema"]) if spec["schema_declared"] and spec["schema"] else []
    required += [c for c in sorted(plan.declared) if c not in required]
    if required:
        missing = [c for c in required if c not in got]
        if missing:
            found.append(("error", issue(
                "missing_columns", "missing required column(s): "
                + ", ".join(f"'{c}'" for c in missing) + " (declared in the dataset's schema)",
                values=missing, rule={"schema_declared": True})))
    diff = change(plan.expected, got)
    if diff:
        accept = spec["on_schema_change"] == "accept"
        found.append(("warning" if accept else "error", issue(
            "schema_change", f"the columns differ from the dataset's schema: {describe(diff)}"
            + ("; accepted as the new schema (on_schema_change = accept)" if accept else
               " (on_schema_change = quarantine; set it to accept to take the new schema)"),
            values=[*diff["added"], *diff["removed"], *diff["retyped"]],
            rule={"on_schema_change": spec["on_schema_change"], "schema": plan.expected})))
    if spec["target"]:
        found += _target(spec["target"], got)
    return diff, found


def _target(target: str, got: dict[str, str]) -> Found:
    if target in got:
        return []
    return [("error", issue(
        "target", f"the target column '{target}' is missing (columns: "
        + ", ".join(f"'{c}'" for c in list(got)[:20]) + "); unlabelled production inputs "
        "belong in a dataset of their own with target_optional = true, which a model "
        "watches ([model.monitoring] inputs)", column=target, rule={"target": target}))]


class _Checker:
    def __init__(self, table: Table, profile: dict[str, dict], n_rows: int, spec: dict,
                 reference: dict | None, ran: Ran | None = None) -> None:
        self.table, self.data, self.schema = table, table.data, table.schema
        self.profile, self.n_rows, self.engine = profile, n_rows, table.engine
        self.spec, self.rules = spec, spec["rules"]
        self.reference = reference or {}
        self.ref_columns: dict[str, dict] = self.reference.get("columns") or {}
        self.ref_name = self.reference.get("label") or f"version {self.reference.get('version')}"
        # Ids and times grow with every file, and so do calendar parts from one period to
        # the next: a range or categories learned from earlier data would always warn.
        self.unlearned = {c for c in (spec["id_column"], spec["time_column"]) if c} | (
            time_parts(spec, self.schema))
        self.found: Found = []
        self.ran: Ran = ran if ran is not None else []

    def rule(self, column: str) -> dict[str, Any]:
        return self.spec["columns"].get(column) or {}

    def quality(self, column: str) -> dict[str, Any]:
        """The column's quality numbers, kept in its profile whatever the rules say, so the
        data versions make series a client can plot (null, out-of-range, unseen shares)."""
        return self.profile[column].setdefault("quality", {})

    def level(self, default_level: str, column: str | None) -> str:
        return (self.rule(column).get("level") if column else None) or default_level

    def add(self, default_level: str, column: str | None, found: Issue) -> None:
        self.found.append((self.level(default_level, column), found))

    def checked(self, check: str, default_level: str, column: str | None, rule: str) -> None:
        """A check that applies to this file: what it holds the column to, in words."""
        self.ran.append({"check": check, "column": column,
                         "level": self.level(default_level, column), "rule": rule})

    def first(self, condition: pl.Expr, column: str | None) -> tuple[list[int], list[Any]]:
        picked = [ROW] + ([pl.col(column).cast(pl.String)] if column else [])
        rows = (self.data.with_row_index(ROW, offset=1).filter(condition).select(picked)
                .head(5).collect(engine=self.engine))
        return rows[ROW].to_list(), rows[column].to_list() if column else []

    def run(self) -> Found:
        target = self.spec["target"]
        if target in self.schema and self.profile[target]["nulls"] == self.n_rows:
            self.found.append(("error", issue(
                "target", f"the target column '{target}' has no values: all {self.n_rows} rows "
                "are null", column=target, rule={"target": target})))
        counts_exprs: list[pl.Expr] = []
        later: list[Later] = []
        for column, dtype in self.schema.items():
            self.null_share(column)
            if dtype in ("int64", "float64"):
                later.append(self.out_of_range(column, counts_exprs))
            if dtype == "float64":
                self.non_finite(column)
            if dtype == "string":
                later.append(self.unseen(column, counts_exprs))
            later.append(self.allowed(column, dtype, counts_exprs))
        later.append(self.duplicates())
        counts = self.data.select(counts_exprs).collect(engine=self.engine).row(
            0, named=True) if counts_exprs else {}
        for finish in later:
            if finish is not None:
                finish(counts)
        return self.found

    def null_share(self, column: str) -> None:
        own, ref = self.rule(column).get("max_null_share"), self.ref_columns.get(column) or {}
        if own is not None:
            limit, source = own, "column"
        elif self.rules.get("max_null_share") is not None:
            limit, source = self.rules["max_null_share"], "dataset"
        elif ref.get("null_share") is not None:
            limit, source = min(1.0, ref["null_share"] + REFERENCE_NULL_SLACK), "reference"
        else:
            limit, source = None, None
        nulls = self.profile[column]["nulls"]
        got = share(nulls, self.n_rows)
        self.quality(column)["null_share"] = got
        if limit is None:
            return
        self.checked("null_share", "warning", column,
                     f"at most {percent(limit)} null ({_SOURCES[source]})")
        if got <= limit:
            return
        rows, _ = self.first(pl.col(column).is_null(), None)
        self.add("warning", column, issue(
            "null_share", f"column '{column}' is {percent(got)} null ({nulls} of {self.n_rows} "
            f"rows, first at {examples(rows)}), over the limit of {percent(limit)} "
            f"({_SOURCES[source]})", column=column, rows=rows,
            rule={"max_null_share": limit, "from": source}))

    def out_of_range(self, column: str, exprs: list[pl.Expr]) -> Later:
        own, ref = self.rule(column), self.ref_columns.get(column) or {}
        if own.get("min") is not None or own.get("max") is not None:
            low, high, source, level = own.get("min"), own.get("max"), "declared", "error"
        elif column not in self.unlearned and _number(ref.get("min")) and _number(
                ref.get("max")):
            margin = self.rules["range_margin"] * (ref["max"] - ref["min"])
            low, high = ref["min"] - margin, ref["max"] + margin
            source, level = "reference", "warning"
        else:
            return None
        limit = own.get("max_out_of_range_share", self.rules["max_out_of_range_share"])
        if limit is None:
            return None
        where = f"[{_bound(low, '-inf')}, {_bound(high, 'inf')}]"
        what = "declared range" if source == "declared" else (
            f"range learned from the reference data ({self.ref_name}; widened by "
            f"{percent(self.rules['range_margin'])} of its span)")
        self.checked("out_of_range", level, column, (
            f"within the declared range {where}" if source == "declared" else
            f"within the learned range {where} (the reference's, widened by "
            f"{percent(self.rules['range_margin'])} of its span)")
            + f"; up to {percent(limit)} outside")
        col = pl.col(column)
        outside = pl.lit(False)
        if low is not None:
            outside = outside | (col < low)
        if high is not None:
            outside = outside | (col > high)
        exprs.append(outside.sum().alias(f"range:{column}"))

        def finish(counts: dict[str, Any]) -> None:
            count = counts[f"range:{column}"]
            got = share(count, self.profile[column]["count"])
            self.quality(column)["out_of_range_share"] = got
            if not count or got <= limit:
                return
            rows, values = self.first(outside, column)
            self.add(level, column, issue(
                "out_of_range", f"column '{column}' has {count} values ({percent(got)}) outside "
                f"the {what} {where}: {examples(rows, values)} (allowed up to {percent(limit)})",
                column=column, rows=rows, values=values,
                rule={"min": low, "max": high, "from": source, "max_out_of_range_share": limit}))

        return finish

    def non_finite(self, column: str) -> None:
        self.checked("non_finite", "warning", column, "no NaN or infinite values")
        stats = self.profile[column]
        nans, infs = stats["nan_count"], stats["inf_count"]
        if not (nans or infs):
            return
        col = pl.col(column)
        rows, values = self.first(col.is_nan() | col.is_infinite(), column)
        self.add("warning", column, issue(
            "non_finite", f"column '{column}' has {nans} NaN and {infs} infinite values: "
            f"{examples(rows, values)}", column=column, rows=rows, values=values,
            rule={"finite": True}))

    def unseen(self, column: str, exprs: list[pl.Expr]) -> Later:
        known = (self.ref_columns.get(column) or {}).get("categories")
        limit = self.rules["max_unseen_share"]
        if known is None or limit is None or column in self.unlearned:
            return None
        self.checked("unseen_categories", "warning", column,
                     f"categories seen in the reference data; up to {percent(limit)} unseen")
        new = pl.col(column).is_not_null() & ~pl.col(column).is_in([str(k) for k in known])
        exprs.append(new.sum().alias(f"unseen:{column}"))

        def finish(counts: dict[str, Any]) -> None:
            count = counts[f"unseen:{column}"]
            got = share(count, self.profile[column]["count"])
            self.quality(column)["unseen_share"] = got
            if not count or got <= limit:
                return
            rows, _ = self.first(new, column)
            seen = set(map(str, known))
            ranked = self.profile[column].get("categories") or self.profile[column].get("top")
            top = [(v, n) for v, n in ranked.items() if v not in seen][:5]
            self.add("warning", column, issue(
                "unseen_categories", f"column '{column}' has {count} values ({percent(got)}) "
                f"in categories not seen in the reference data ({self.ref_name}): "
                + ", ".join(f"'{show(v)}' ({n})" for v, n in top)
                + f", first at {examples(rows)} (allowed up to {percent(limit)})",
                column=column, rows=rows, values=[v for v, _ in top],
                rule={"max_unseen_share": limit, "reference_version": self.reference.get(
                    "version")}))

        return finish

    def allowed(self, column: str, dtype: str, exprs: list[pl.Expr]) -> Later:
        allowed = self.rule(column).get("allowed")
        if allowed is None:
            return None
        self.checked("allowed", "error", column,
                     f"only its allowed values ({', '.join(show(a) for a in allowed[:10])})")
        col = pl.col(column)
        if dtype in ("int64", "float64", "bool"):
            values = pl.Series(allowed, strict=False).cast(to_polars(dtype), strict=False)
            bad = col.is_not_null() & ~col.is_in(values.drop_nulls().implode())
        else:
            bad = col.is_not_null() & ~col.cast(pl.String).is_in([str(a) for a in allowed])
        exprs.append(bad.sum().alias(f"allowed:{column}"))

        def finish(counts: dict[str, Any]) -> None:
            count = counts[f"allowed:{column}"]
            self.quality(column)["invalid_share"] = share(count, self.profile[column]["count"])
            if not count:
                return
            rows, values = self.first(bad, column)
            self.add("error", column, issue(
                "allowed", f"column '{column}' has {count} values not in its allowed list "
                f"({', '.join(show(a) for a in allowed[:10])}): {examples(rows, values)}",
                column=column, rows=rows, values=values, rule={"allowed": allowed}))

        return finish

    def duplicates(self) -> Later:
        limit = self.rules["max_duplicate_share"]
        if limit is None or self.n_rows < 2 or not self.schema:
            return None
        self.checked("duplicates", "warning", None,
                     f"at most {percent(limit)} of rows repeat an earlier row exactly")
        # 64-bit row hashes: a false match among a million rows is ~1e-8 likely
        if self.table.frame is not None:
            hashes = self.table.frame.hash_rows()
        else:
            hashes = self.data.select(pl.struct(pl.all()).hash()).collect().to_series()
        count = _repeat_count(hashes)

        def finish(counts: dict[str, Any]) -> None:
            got = share(count, self.n_rows)
            if not count or got <= limit:
                return
            rows = _first_repeats(hashes)
            self.add("warning", None, issue(
                "duplicates", f"{count} rows ({percent(got)}) repeat an earlier row exactly, "
                f"first at {examples(rows)} (allowed up to {percent(limit)})",
                rows=rows, rule={"max_duplicate_share": limit}))

        return finish


def _sorted_repeats(hashes: pl.Series) -> tuple[pl.Series, pl.Series]:
    """The sorted hashes after the first, and which equal the one before: several times
    faster than n_unique, and a sorted copy of the hashes is all the memory it takes."""
    ordered = hashes.sort()
    later = ordered.slice(1)
    return later, later == ordered.slice(0, len(ordered) - 1)


def _repeat_count(hashes: pl.Series) -> int:
    return int(_sorted_repeats(hashes)[1].sum())


def _first_repeats(hashes: pl.Series, wanted: int = 5) -> list[int]:
    """1-based numbers of the first rows equal to an earlier row (scanned in chunks)."""
    later, same = _sorted_repeats(hashes)
    repeated = later.filter(same & ~same.shift(1, fill_value=False))  # one per repeated row
    del later, same
    seen: set[int] = set()
    found: list[int] = []
    for start in range(0, len(hashes), 1 << 20):
        chunk = hashes.slice(start, 1 << 20)
        for offset in chunk.is_in(repeated.implode()).arg_true().to_list():
            value = chunk[offset]
            if value in seen:
                found.append(start + offset + 1)
                if len(found) == wanted:
                    return found
            seen.add(value)
    return found


_SOURCES = {"column": "the column's rule", "dataset": "the dataset's rule",
            "reference": f"reference null share + {REFERENCE_NULL_SLACK:.0%}"}


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _bound(value: Any, infinity: str) -> str:
    return infinity if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def validate(table: Table, profile: dict[str, dict], n_rows: int, spec: dict,
             reference: dict | None, ran: Ran | None = None) -> Found:
    """The issues found; `ran`, if given, gets every check that applied (failed or not)."""
    return _Checker(table, profile, n_rows, spec, reference, ran).run()
