"""CSV: header and shape checked by hand, then polars' parser given the whole schema.

Only when that parse fails are the values read as text and parsed one by one, to name the
column, the first bad rows and their values, or to find the byte or row that broke it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl

from jobs.ingest import infer, text
from jobs.ingest.dtypes import parse_text, to_polars
from jobs.ingest.issues import Issue, Rejected, examples, issue
from jobs.ingest.schema import Plan
from jobs.ingest.table import ROW, Finish, Table, first_line, normalized


def read(path: Path, plan: Plan, delimiter: str, finish: Finish) -> Table:
    text.check_not_binary(path)
    header = text.read_header(path, delimiter)
    if problem := text.last_row_issue(path, delimiter, len(header)):
        raise Rejected(problem)
    options = {"separator": delimiter, "quote_char": '"', "has_header": True}
    unknown = [c for c in header if c not in plan.wanted]
    guessed = infer.csv_sample(path, delimiter) if unknown else {}
    dtypes = {c: plan.wanted.get(c) or guessed.get(c) for c in header}
    attempts: list[Callable[[], pl.LazyFrame]] = []
    if all(dtypes.values()):
        schema = {c: to_polars(d) for c, d in dtypes.items() if d}
        attempts.append(lambda: pl.scan_csv(path, schema=schema, **options))
    if unknown:
        # the sample guessed wrong (or saw only empty values): let polars see every row
        overrides = {c: to_polars(plan.wanted[c]) for c in header if c in plan.wanted}
        attempts.append(lambda: normalized(pl.scan_csv(
            path, schema_overrides=overrides, infer_schema_length=None, try_parse_dates=True,
            **options)))
    for attempt in attempts:
        try:
            return finish(attempt())
        except (FileNotFoundError, Rejected):
            raise
        except Exception:  # polars' parse errors, and whatever else it raises
            continue
    return _csv_diagnose(path, plan, header, options, finish)


def _csv_diagnose(
    path: Path, plan: Plan, header: list[str], options: dict, finish: Finish
) -> Table:
    """The slow path: find what polars tripped on, and where; else read text and parse it.

    When every value parses one by one although polars' reader failed (formats its parser
    does not take), the parsed text is the result.
    """
    if problem := text.find_invalid_utf8(path):
        raise Rejected(problem)
    raw = pl.scan_csv(path, infer_schema=False, **options)
    try:
        counts = raw.select(_parse_counts(header)).collect()
    except (FileNotFoundError, Rejected):
        raise
    except Exception as exc:  # not even text in rows and columns: find out why
        raise Rejected(
            text.unclosed_quote_issue(path)
            or text.ragged_row_issue(path, options["separator"], len(header))
            or issue("read", f"the file could not be read as CSV: {first_line(exc)}")
        ) from exc
    chosen: dict[str, str] = {}
    problems: list[Issue] = []
    for i, column in enumerate(header):
        nulls = counts[f"{i}"].item()
        fits = [d for d in infer.TEXT_CANDIDATES if counts[f"{i}:{d}"].item() == nulls]
        natural = fits[0] if fits else "string"
        want = plan.wanted.get(column)
        if want is None:
            chosen[column] = natural
        elif want == "string" or counts[f"{i}:{want}"].item() == nulls:
            chosen[column] = want
        elif plan.flexible and not plan.is_declared(column):
            chosen[column] = natural  # reported as retyped by the schema comparison
        else:
            bad = counts[f"{i}:{want}"].item() - nulls
            problems.append(_bad_values(raw, column, want, bad, plan.is_declared(column)))
    if problems:
        raise Rejected(*problems)
    return finish(raw.select(parse_text(pl.col(c), d).alias(c) for c, d in chosen.items()))


def _parse_counts(header: list[str]) -> list[pl.Expr]:
    exprs = []
    for i, column in enumerate(header):
        col = pl.col(column)
        exprs.append(col.null_count().alias(f"{i}"))
        exprs += [parse_text(col, d).null_count().alias(f"{i}:{d}") for d in infer.TEXT_CANDIDATES]
    return exprs


def _bad_values(raw: pl.LazyFrame, column: str, dtype: str, count: int, declared: bool) -> Issue:
    col = pl.col(column)
    found = (
        raw.with_row_index(ROW, offset=1)
        .filter(col.is_not_null() & parse_text(col, dtype).is_null())
        .select(ROW, column)
        .head(5)
        .collect()
    )
    rows, values = found[ROW].to_list(), found[column].to_list()
    return issue(
        "dtype",
        f"column '{column}' has values that are not {dtype}: {examples(rows, values)}"
        + (f" ({count} values in all)" if count > len(rows) else ""),
        column=column, rows=rows, values=values,
        rule={"dtype": dtype, "declared": declared, "bad_count": count})
