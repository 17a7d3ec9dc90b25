"""The benchmarks' tables: a figure, its anchor measured in the same run, the ratio, the
goal and whether it is met, and the load the machine was under meanwhile.

An anchor's figure can only be a `Measured` (made by `measure`/`Measured.of` while the
benchmark runs) or `NOT_INSTALLED`: a number typed into the code is refused, because the
anchors' speed drifts from day to day (MLflow serve: 13.7 ms one day, 3.5 ms another).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
NOT_INSTALLED = "not installed"
_TICK = os.sysconf("SC_CLK_TCK")
_MADE_HERE = object()


def _busy_ticks() -> int:
    """CPU ticks the whole machine spent busy since boot (all cores)."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields[:8]) - idle


def _own_ticks() -> int:
    """CPU ticks of this process and every live descendant, with the children they reaped
    (so a finished worker or client still counts, through its parent)."""
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue  # exited meanwhile
        fields = raw[raw.rindex(")") + 2:].split()
        parents[int(entry.name)] = int(fields[1])
        ticks[int(entry.name)] = sum(int(v) for v in fields[11:15])  # utime..cstime
    ours, frontier = {os.getpid()}, [os.getpid()]
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    while frontier:
        for child in children.get(frontier.pop(), []):
            if child not in ours:
                ours.add(child)
                frontier.append(child)
    return sum(ticks.get(pid, 0) for pid in ours)


@dataclass(frozen=True)
class Load:
    """The load around one measurement: the 1-minute load average at its start and end, and
    the cores that processes outside this benchmark kept busy during it."""

    before: float
    after: float
    others_cores: float
    tries: int = 1

    def changed(self) -> bool:
        # Another process took a core, or the load average moved by a whole process: the
        # figure is not the machine's.
        return self.others_cores > 0.5 or abs(self.after - self.before) > 1.0

    def text(self) -> str:
        again = f", {self.tries} tries" if self.tries > 1 else ""
        return f"{self.before:.2f}->{self.after:.2f} (others {self.others_cores:.2f}{again})"


class LoadWatch:
    """Started before a measurement, read after it."""

    def __init__(self) -> None:
        self.load = os.getloadavg()[0]
        self.wall = time.perf_counter()
        self.busy, self.own = _busy_ticks(), _own_ticks()

    def done(self, tries: int = 1) -> Load:
        elapsed = max(time.perf_counter() - self.wall, 1e-6)
        others = (_busy_ticks() - self.busy) - (_own_ticks() - self.own)
        return Load(self.load, os.getloadavg()[0], max(0.0, others / _TICK / elapsed), tries)


def steady(measurement: Callable[[], T], tries: int | None = None) -> tuple[T, Load]:
    """Run a measurement; when the load changed much during it, run it again (up to
    `tries` times, default $MLOPS_BENCH_TRIES or 3) and keep the run that others disturbed
    least."""
    tries = tries or int(os.environ.get("MLOPS_BENCH_TRIES", "3"))
    best: tuple[T, Load] | None = None
    for attempt in range(1, tries + 1):
        watch = LoadWatch()
        value = measurement()
        load = watch.done(attempt)
        if best is None or load.others_cores < best[1].others_cores:
            best = (value, load)
        if not load.changed():
            break
    assert best is not None
    value, load = best
    return value, Load(load.before, load.after, load.others_cores, attempt)


@dataclass(frozen=True)
class Measured:
    """An anchor's or baseline's figure, measured in this run (never typed in)."""

    value: float
    load: Load
    note: str = ""
    token: object = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.token is not _MADE_HERE:
            raise TypeError("an anchor figure is made by measure() or Measured.of(), "
                            "never typed in")

    @classmethod
    def of(cls, value: float, load: Load, note: str = "") -> Measured:
        return cls(float(value), load, note, _MADE_HERE)


def measure(measurement: Callable[[], float], tries: int | None = None,
            note: str = "") -> Measured:
    value, load = steady(measurement, tries)
    return Measured.of(value, load, note)


Anchor = Measured | str | None  # a figure, NOT_INSTALLED, or None: no anchor for this row


@dataclass(frozen=True)
class Goal:
    """A goal on our figure ("ours") or on the ratio ("ratio"), e.g. at most 0.25 ms."""

    text: str
    on: str
    check: Callable[[float], bool]


def at_most(limit: float, unit: str = "") -> Goal:
    return Goal(f"<= {limit:,.4g}{' ' + unit if unit else ''}", "ours", lambda v: v <= limit)


def at_least(limit: float, unit: str = "") -> Goal:
    return Goal(f">= {limit:,.4g}{' ' + unit if unit else ''}", "ours", lambda v: v >= limit)


def ratio_at_most(limit: float) -> Goal:
    return Goal(f"ratio <= {limit:g}x", "ratio", lambda v: v <= limit)


def ratio_at_least(limit: float) -> Goal:
    return Goal(f"ratio >= {limit:g}x", "ratio", lambda v: v >= limit)


@dataclass
class Row:
    """One line of a table. `ratio` says how the ratio is taken: "ours/anchor" (times
    against a baseline, where lower is better), "anchor/ours" (how many times faster than
    the anchor) or "" (none)."""

    measure: str
    ours: float | None
    unit: str
    load: Load | None
    anchor: Anchor = None
    goals: Sequence[Goal] = ()
    ratio: str = "ours/anchor"
    digits: int = 2
    note: str = ""

    def __post_init__(self) -> None:
        if not (self.anchor is None or self.anchor == NOT_INSTALLED
                or isinstance(self.anchor, Measured)):
            raise TypeError(f"{self.measure}: an anchor is Measured or {NOT_INSTALLED!r}, "
                            f"not {self.anchor!r}")

    def ratio_value(self) -> float | None:
        if not isinstance(self.anchor, Measured) or self.ours is None or not self.ratio:
            return None
        if self.ratio == "anchor/ours":
            return self.anchor.value / self.ours if self.ours else None
        return self.ours / self.anchor.value if self.anchor.value else None

    def met(self) -> str:
        if not self.goals:
            return ""
        if self.ours is None:
            return "not measured"
        verdicts = []
        for goal in self.goals:
            value = self.ours if goal.on == "ours" else self.ratio_value()
            if value is None:
                verdicts.append(None)
            else:
                verdicts.append(goal.check(value))
        if False in verdicts:
            return "NOT MET"
        return "unknown (no anchor)" if None in verdicts else "met"

    def cells(self) -> list[str]:
        ours = "-" if self.ours is None else f"{self.ours:,.{self.digits}f} {self.unit}".strip()
        if isinstance(self.anchor, Measured):
            anchor = f"{self.anchor.value:,.{self.digits}f} {self.unit}".strip()
            if self.anchor.note:
                anchor += f" ({self.anchor.note})"
        else:
            anchor = self.anchor or "-"
        ratio_text = _ratio_text(self.ratio_value(), self.ratio)
        loads = [x.text() for x in (self.load, getattr(self.anchor, "load", None)) if x]
        measure = self.measure + (f" [{self.note}]" if self.note else "")
        return [measure, ours, anchor, ratio_text, " and ".join(g.text for g in self.goals)
                or "-", self.met(), " / ".join(loads) or "-"]


def _ratio_text(ratio: float | None, how: str) -> str:
    if ratio is None:
        return "-"
    if how != "anchor/ours":
        return f"{ratio:.2f}x" if ratio < 10 else f"{ratio:.0f}x"
    # How many times faster than the anchor; below 1 it is slower, said so.
    if ratio >= 1:
        return f"{ratio:.2f}x faster" if ratio < 10 else f"{ratio:.0f}x faster"
    return f"{1 / ratio:.2f}x slower"


HEADERS = ["measure", "mlops", "{anchor}, same run", "ratio", "goal", "met", "load (ours / anchor)"]


def render(rows: Sequence[Row], anchor: str) -> str:
    from benchmarks.common import table

    headers = [h.format(anchor=anchor) for h in HEADERS]
    return table([row.cells() for row in rows], headers)


def header(title: str, **facts: Any) -> str:
    """The first line of a benchmark's output: what, on what machine, at what load."""
    extra = "; ".join(f"{k.replace('_', ' ')} {v}" for k, v in facts.items())
    return (f"\n{title} ({os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f} at the "
            f"end{'; ' + extra if extra else ''})\n")
