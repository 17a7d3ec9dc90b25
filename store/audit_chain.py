"""The audit log's hash chain: each entry's hash covers its fields and the previous entry's
hash, so an entry changed, removed or slipped in afterwards breaks every hash after it.

Pure functions over plain values: the store seals and checks its rows with them, and
`mlops audit verify --file` checks an exported file with them, with no daemon. The hashed
form is canonical JSON (sorted keys, orjson) of the entry's id, time (ISO 8601, UTC),
actor, action, subject, reason, details (the parsed JSON value) and the previous hash.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

GENESIS = "0" * 64
"""The previous hash of the first entry."""


@dataclass(frozen=True)
class ChainedEntry:
    """What the chain covers of one entry, with its two hashes as stored."""

    id: int
    at: datetime
    actor: str
    action: str
    subject: str
    reason: str | None
    details: Any
    prev_hash: str | None
    entry_hash: str | None


def _iso(at: datetime) -> str:
    aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat()


def entry_hash(id: int, at: datetime, actor: str, action: str, subject: str,
               reason: str | None, details: Any, prev_hash: str) -> str:
    body = orjson.dumps({"id": id, "at": _iso(at), "actor": actor, "action": action,
                         "subject": subject, "reason": reason, "details": details,
                         "prev": prev_hash}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(body).hexdigest()


def seal(entry: ChainedEntry, prev_hash: str) -> str:
    return entry_hash(entry.id, entry.at, entry.actor, entry.action, entry.subject,
                      entry.reason, entry.details, prev_hash)


@dataclass
class ChainReport:
    """What checking a run of entries found. `head` is the last entry's hash as recomputed
    (what a reviewer compares with a head they were given earlier)."""

    entries: int = 0
    first_id: int | None = None
    last_id: int | None = None
    head: str | None = None
    problems: list[tuple[int, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check(entries: Iterable[ChainedEntry], *, start: str | None = GENESIS,
          max_problems: int = 100) -> ChainReport:
    """Walk `entries` in id order. `start`: the hash the first entry must link to
    (GENESIS for a whole log; None for an export that begins mid-chain: its first entry's
    own `prev_hash` is taken on trust and named in the report's head line by the caller)."""
    report = ChainReport()
    expected_prev = start
    previous_id: int | None = None
    for entry in entries:
        report.entries += 1
        if report.first_id is None:
            report.first_id = entry.id
        report.last_id = entry.id

        def problem(text: str, entry_id: int = entry.id) -> None:
            if len(report.problems) < max_problems:
                report.problems.append((entry_id, text))

        if entry.entry_hash is None or entry.prev_hash is None:
            problem("not sealed: it has no hash, so it was written behind the daemon's back "
                    "(the daemon seals every entry it writes)")
            expected_prev, previous_id = None, entry.id
            continue
        if expected_prev is not None and entry.prev_hash != expected_prev:
            after = f"entry {previous_id}" if previous_id is not None else "the start"
            problem(f"does not link to {after}: an entry between them was removed or "
                    f"{after} was changed (its prev_hash {entry.prev_hash[:12]}… expected "
                    f"{expected_prev[:12]}…)")
        recomputed = seal(entry, entry.prev_hash)
        if recomputed != entry.entry_hash:
            problem("changed after it was written: its fields no longer give its hash "
                    f"(stored {entry.entry_hash[:12]}…, recomputed {recomputed[:12]}…)")
        # The next entry links to the hash as stored: a changed entry is named once, not
        # again as a broken link after it.
        expected_prev, previous_id = entry.entry_hash, entry.id
        report.head = recomputed
    return report


def sealed(entries: Iterable[ChainedEntry], prev_hash: str) -> Iterator[tuple[int, str, str]]:
    """(id, prev_hash, entry_hash) for entries being chained after `prev_hash`, in order."""
    for entry in entries:
        digest = seal(entry, prev_hash)
        yield entry.id, prev_hash, digest
        prev_hash = digest
