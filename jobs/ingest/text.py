"""Checks on text files (CSV, NDJSON) that polars does not make, or makes without saying where.

The cheap ones (binary, header, last row) run on every CSV; the scans over the whole file
(UTF-8, quotes, field counts) only after polars has failed, to say what and where.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from pathlib import Path

from jobs.ingest.issues import Issue, Rejected, issue

_CHUNK = 1 << 20
_HEAD = 64 << 10
_TAIL = 64 << 10
_BOM = b"\xef\xbb\xbf"
OTHER_DELIMITERS = (";", "\t", "|", ",")


def _name(delimiter: str) -> str:
    return {"\t": "\\t (tab)"}.get(delimiter, delimiter)


def check_not_binary(path: Path) -> None:
    with path.open("rb") as f:
        head = f.read(_HEAD)
    if b"\x00" in head:
        at = head.index(b"\x00")
        raise Rejected(issue(
            "binary", f"the file is not text: it has a NUL byte at byte offset {at} "
            "(binary data, or a text encoding other than UTF-8 such as UTF-16)",
            values=[head[max(0, at - 8): at + 8].hex(" ")]))


def read_header(path: Path, delimiter: str) -> list[str]:
    """The CSV's column names (BOM removed); Rejected when they cannot make a table."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            names = next(csv.reader(f, delimiter=delimiter, quotechar='"'), None)
    except UnicodeDecodeError:
        raise Rejected(find_invalid_utf8(path) or issue("encoding", "not UTF-8")) from None
    except csv.Error as exc:
        raise Rejected(issue("header", f"the header line cannot be read as CSV: {exc}")) from exc
    if not names:
        raise Rejected(issue("empty", "empty file: there is no header line"))
    if len(names) == 1:
        seen = [d for d in OTHER_DELIMITERS if d != delimiter and d in names[0]]
        if seen:
            guess = max(seen, key=names[0].count)
            raise Rejected(issue(
                "delimiter",
                f"only one column found; the file seems to use '{_name(guess)}' as delimiter, "
                f"not '{_name(delimiter)}' (set delimiter in the dataset's config)",
                values=[names[0]], rule={"delimiter": delimiter}))
    problems = []
    empty = [i + 1 for i, n in enumerate(names) if not n.strip()]
    if empty:
        where = ", ".join(str(i) for i in empty[:5])
        problems.append(issue(
            "header", f"empty column name at position {where} (of {len(names)} columns); "
            "every column needs a name", rows=[], values=[], rule={"position": empty[:5]}))
    dupes = [n for n, c in Counter(n for n in names if n.strip()).items() if c > 1]
    if dupes:
        problems.append(issue(
            "header", "duplicate column names: " + ", ".join(f"'{d}'" for d in dupes[:5])
            + "; each column must have its own name", values=dupes))
    if problems:
        raise Rejected(*problems)
    return names


def last_row_issue(path: Path, delimiter: str, n_fields: int) -> Issue | None:
    """A file cut mid-row: polars fills the missing fields with nulls without a word."""
    with path.open("rb") as f:
        f.seek(max(0, f.seek(0, io.SEEK_END) - _TAIL))
        tail = f.read()
    body = tail.rstrip(b"\r\n")
    if b"\n" not in body:
        return None  # the header is the only line (or the last row is longer than the tail)
    line = body.rsplit(b"\n", 1)[1]
    if line.count(b'"') % 2:
        return None  # the end of a quoted field spanning lines: cannot count it from here
    fields = next(csv.reader([line.decode("utf-8", "replace")], delimiter=delimiter), [])
    if len(fields) >= n_fields:
        return None
    return issue(
        "truncated",
        f"truncated: the last row has {len(fields)} of {n_fields} fields "
        "(the file seems cut off mid-row; was it still being written?)",
        values=[line.decode("utf-8", "replace")], rule={"fields": n_fields})


def find_invalid_utf8(path: Path) -> Issue | None:
    """Where the first byte that is not UTF-8 is (polars only says that there is one)."""
    offset, line, carry = 0, 1, b""
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            data = carry + chunk
            carry = b""
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as exc:
                if exc.end == len(data) and "unexpected end" in exc.reason:
                    carry = data[exc.start:]  # a character split between two chunks
                    data = data[: exc.start]
                else:
                    return _utf8_issue(offset + exc.start, line + data[: exc.start].count(
                        b"\n"), data[exc.start: exc.start + 4])
            line += data.count(b"\n")
            offset += len(data)
    if carry:
        return _utf8_issue(offset, line, carry)
    return None


def _utf8_issue(offset: int, line: int, sample: bytes) -> Issue:
    return issue(
        "encoding",
        f"the file is not valid UTF-8: invalid byte 0x{sample[0]:02x} at byte offset "
        f"{offset} (line {line}); save the file as UTF-8",
        values=[sample.hex(" ")], rule={"encoding": "utf-8", "byte_offset": offset, "line": line})


def unclosed_quote_issue(path: Path) -> Issue | None:
    """An odd number of quote characters means the file ends inside a quoted field."""
    count = 0
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            count += chunk.count(b'"')
    if count % 2 == 0:
        return None
    return issue("quotes", "unbalanced quotes: a '\"' is never closed, so the file ends inside "
                 "a quoted field (cut off while being written, or a value with a stray '\"' "
                 "that should be doubled)")


def ragged_row_issue(path: Path, delimiter: str, n_fields: int) -> Issue | None:
    """The first data row whose field count differs from the header's (slow: Python csv)."""
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as f:
        reader = csv.reader(f, delimiter=delimiter)
        try:
            next(reader, None)
            for row_number, fields in enumerate(reader, start=1):
                if fields and len(fields) != n_fields:
                    return issue(
                        "fields",
                        f"row {row_number} has {len(fields)} fields but the header has "
                        f"{n_fields}", rows=[row_number], values=[delimiter.join(fields)],
                        rule={"fields": n_fields})
        except csv.Error:  # e.g. a field over the csv module's size limit: no verdict
            return None
    return None


def bad_json_line_issue(path: Path) -> Issue | None:
    """The first line that is not a JSON object, or no_rows when no line holds anything."""
    seen = False
    with path.open(encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            seen = True
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                return issue("json", f"line {number} is not valid JSON: {exc.msg} at column "
                             f"{exc.colno}", rows=[number], values=[line.strip()])
            if not isinstance(value, dict):
                return issue("json", f"line {number} is not a JSON object (one record per line "
                             "is expected)", rows=[number], values=[line.strip()])
    return None if seen else issue("no_rows", "no data rows: the file holds no records")
