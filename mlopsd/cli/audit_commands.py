"""`mlops audit`: the log, its hash chain checked (by the daemon, or on an exported file
with no daemon), and the export a compliance review reads."""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from mlopsd.cli.common import UsageError, add_command, client_for, readable_file, writable_file
from mlopsd.cli.output import print_json, print_table

if TYPE_CHECKING:
    from store.audit_chain import ChainedEntry, ChainReport


def cmd_audit(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        entries = client.audit(limit=args.limit, action=args.action, subject=args.subject)
    if args.json:
        print_json(entries)
    else:
        print_table([[e.id, e.at, e.actor, e.action, e.subject, e.reason or ""] for e in entries],
                    ["id", "at", "actor", "action", "subject", "reason"])
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    if args.file:
        return _verify_file(readable_file(args.file, "audit export"), args.json)
    with client_for(args) as client:
        found = client.audit_verify()
    if args.json:
        print_json(found)
        return 0 if found.ok else 1
    for problem in found.problems:
        print(f"entry {problem.id}: {problem.problem}")
    for orphan in found.orphan_events:
        print(f"event {orphan.event_id}: names audit entry {orphan.audit_id}, which the log "
              "no longer has (removed?)")
    span = f" (ids {found.first_id}-{found.last_id})" if found.entries else ""
    verdict = "ok" if found.ok else "BROKEN"
    print(f"audit chain: {verdict}, {found.entries:,} entries{span}; head {found.head or '-'}")
    return 0 if found.ok else 1


def cmd_export(args: argparse.Namespace) -> int:
    out = writable_file(args.out, "--out")
    fmt = args.format or ("csv" if out.suffix.lower() == ".csv" else "jsonl")
    since = _time(args.since) if args.since else None
    with client_for(args) as client:
        size = client.audit_export(out, since=since, format=fmt)
    from store.audit_chain import check  # pure hashing; loaded only when a file is checked

    report = check(_read(out, fmt), start=None)
    print(f"wrote {out} ({fmt}, {size:,} bytes): {_summary(report, out, fmt)}",
          file=sys.stderr)
    if report.head:
        print(report.head)
    return 0 if report.ok else 1


def _verify_file(path: Path, as_json: bool) -> int:
    from store.audit_chain import check  # pure hashing; loaded only when a file is checked

    fmt = "csv" if path.suffix.lower() == ".csv" else "jsonl"
    try:
        report = check(_read(path, fmt), start=None)
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"audit export {path}: not an export of `mlops audit export` "
                         f"({exc})") from None
    if as_json:
        print_json({"ok": report.ok, "entries": report.entries, "first_id": report.first_id,
                    "last_id": report.last_id, "head": report.head,
                    "problems": [{"id": i, "problem": p} for i, p in report.problems]})
        return 0 if report.ok else 1
    for entry_id, problem in report.problems:
        print(f"entry {entry_id}: {problem}")
    print(f"{path}: {'ok' if report.ok else 'BROKEN'}, {_summary(report, path, fmt)}")
    return 0 if report.ok else 1


def _summary(report: ChainReport, path: Path, fmt: str) -> str:
    if not report.entries:
        return "no entries"
    from store.audit_chain import GENESIS

    first = next(_read(path, fmt))
    start = ("from the log's first entry" if first.prev_hash == GENESIS
             else f"linking to the entry before it by {first.prev_hash}")
    return (f"{report.entries:,} entries (ids {report.first_id}-{report.last_id}), {start}; "
            f"head {report.head}")


def _read(path: Path, fmt: str) -> Iterator[ChainedEntry]:
    with path.open(encoding="utf-8", newline="") as f:
        if fmt == "csv":
            for number, row in enumerate(csv.DictReader(f), start=2):
                yield _entry(row, orjson.loads(row["details"]), number)
        else:
            for number, line in enumerate(f, start=1):
                if line.strip():
                    record = orjson.loads(line)
                    yield _entry(record, record["details"], number)


def _entry(record: dict[str, Any], details: Any, line: int) -> ChainedEntry:
    from store.audit_chain import ChainedEntry

    try:
        return ChainedEntry(int(record["id"]), datetime.fromisoformat(record["at"]),
                            record["actor"], record["action"], record["subject"],
                            record["reason"] or None, details, record["prev_hash"] or None,
                            record["entry_hash"] or None)
    except (KeyError, ValueError, TypeError) as exc:
        raise ValueError(f"line {line}: {exc!r}") from None


def _time(text: str) -> datetime:
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--since {text!r}: not a time (ISO 8601, e.g. 2026-11-01 or "
                         "2026-11-01T09:30:00+00:00)") from None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    audit = add_command(sub, "audit", cmd_audit, "the audit log, newest first; its hash "
                        "chain verified; exported for a review", common)
    audit.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    audit.add_argument("--action", help="only this action, e.g. model.promote")
    audit.add_argument("--subject", help="only this subject, e.g. model:riders")
    audit_sub = audit.add_subparsers(dest="audit_command", metavar="AUDIT_COMMAND",
                                     help="default: list the newest entries")
    p = add_command(audit_sub, "verify", cmd_verify, "recompute the hash chain: exit 0 when "
                    "intact, 1 naming each entry changed, removed or slipped in", common)
    p.add_argument("--file", help="check an export of `mlops audit export` instead, with no "
                   "daemon")
    p = add_command(audit_sub, "export", cmd_export, "write the log with its hashes, oldest "
                    "first, for a compliance review; prints the chain head", common)
    p.add_argument("--out", required=True, help="the file to write (.csv: CSV, else JSON lines)")
    p.add_argument("--since", help="only entries at or after this time (ISO 8601, UTC when "
                   "no zone is given)")
    p.add_argument("--format", choices=["jsonl", "csv"], help="default: from --out's suffix")
