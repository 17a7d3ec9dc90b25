"""Data selectors: which data versions (and which time window) a training or a comparison
uses, e.g. `bikeshare@latest`, `bikeshare@3`, `bikeshare@2..5`, `bikeshare@last:3`,
`bikeshare@all[2011-03-01..2011-04-01]`.

A selector is resolved once, against the store, into exact data versions; lineage keeps the
resolved form, so materialising it again (even years later) gives back the same rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from store import data as data_repo
from store.db import Store
from store.errors import NotFound

_SELECTOR = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]*)"
    r"(?:@(?P<versions>latest|all|\d+|\d+\.\.\d+|last:\d+|\d+(?:,\d+)+))?"
    r"(?:\[(?P<start>[^\].]*)\.\.(?P<end>[^\]]*)\])?$"
)


class SelectorError(ValueError):
    """A selector that does not parse or names versions that do not exist."""


@dataclass(frozen=True)
class Selector:
    dataset: str
    versions: str
    start: datetime | None
    end: datetime | None


@dataclass(frozen=True)
class ResolvedSelector:
    dataset: str
    text: str
    versions: list[data_repo.DataVersion]
    time_column: str | None
    start: datetime | None
    end: datetime | None

    @property
    def canonical(self) -> str:
        """The exact form lineage keeps: explicit version numbers, never `latest`."""
        numbers = ",".join(str(v.version) for v in self.versions)
        window = ""
        if self.start or self.end:
            window = f"[{_iso(self.start)}..{_iso(self.end)}]"
        return f"{self.dataset}@{numbers}{window}"

    def job_params(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "selector": self.canonical,
            "versions": [{"version": v.version, "snapshot_sha": v.snapshot_sha}
                         for v in self.versions],
            "time_column": self.time_column,
            "start": _iso(self.start) or None,
            "end": _iso(self.end) or None,
        }


def _iso(ts: datetime | None) -> str:
    return ts.isoformat() if ts else ""


def _parse_time(text: str, which: str) -> datetime | None:
    text = text.strip()
    if not text:
        return None
    try:
        if len(text) == 10:
            d = date.fromisoformat(text)
            return datetime(d.year, d.month, d.day)
        parsed = datetime.fromisoformat(text)
        # Times are stored as UTC without a zone: an offset given here is applied, not dropped.
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(UTC).replace(tzinfo=None)
        return parsed
    except ValueError:
        raise SelectorError(f"the window's {which} {text!r} is not an ISO date or datetime "
                            "(e.g. 2011-03-01 or 2011-03-01T06:00)") from None


MAX_SELECTOR = 1000


def parse(text: str) -> Selector:
    if len(text) > MAX_SELECTOR:
        raise SelectorError(f"a selector has at most {MAX_SELECTOR} characters "
                            f"(this one has {len(text):,})")
    match = _SELECTOR.match(text.strip())
    if not match:
        raise SelectorError(
            f"{text!r} is not a selector; write NAME@latest, NAME@N, NAME@N..M, NAME@last:K, "
            "NAME@all, optionally followed by a time window [START..END]"
        )
    start = _parse_time(match["start"] or "", "start")
    end = _parse_time(match["end"] or "", "end")
    if start and end and start >= end:
        raise SelectorError(f"the window's start {start} is not before its end {end}")
    return Selector(match["name"], match["versions"] or "latest", start, end)


def resolve(store: Store, text: str) -> ResolvedSelector:
    sel = parse(text)
    try:
        dataset = data_repo.get_dataset(store, sel.dataset)
    except NotFound:
        raise SelectorError(f"no dataset named {sel.dataset!r}") from None
    available = data_repo.list_versions(store, sel.dataset)
    if not available:
        raise SelectorError(f"dataset {sel.dataset!r} has no data versions yet")
    by_number = {v.version: v for v in available}
    spec = sel.versions
    if spec == "latest":
        chosen = [available[-1]]
    elif spec == "all":
        chosen = list(available)
    elif spec.startswith("last:"):
        k = int(spec[5:])
        if k < 1:
            raise SelectorError("last:K needs K of 1 or more")
        chosen = available[-k:]
    else:
        first, last = available[0].version, available[-1].version
        if ".." in spec:
            low, high = (int(x) for x in spec.split(".."))
            if low > high:
                raise SelectorError(f"{spec}: the range is empty ({low} > {high})")
            # Bounds first: a range is never expanded past the versions that exist
            # (x@1..30000000 would otherwise build a list of 30 million numbers).
            if low < first or high > last:
                raise SelectorError(
                    f"dataset {sel.dataset!r} has no version "
                    f"{low if low < first else high} (it has {first}..{last})")
            wanted = list(range(low, high + 1))
        else:
            wanted = [int(x) for x in spec.split(",")]
        missing = [n for n in wanted if n not in by_number]
        if missing:
            raise SelectorError(
                f"dataset {sel.dataset!r} has no version {missing[0]} (it has {first}..{last})")
        chosen = [by_number[n] for n in wanted]
    if (sel.start or sel.end) and not dataset.time_column:
        raise SelectorError(
            f"dataset {sel.dataset!r} has no time_column, so it cannot take a time window; "
            "declare one in its [[dataset]] entry"
        )
    return ResolvedSelector(sel.dataset, text, chosen, dataset.time_column, sel.start, sel.end)
