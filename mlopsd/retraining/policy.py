"""The text forms of a `[model.retrain]` policy, parsed once and checked at config load.

- durations: `90s`, `10m`, `6h`, `2d` (or a bare number of seconds);
- `retrain_on`: drift, prediction_drift, performance_drop, schema_change, manual,
  `new_rows >= N`;
- `training_window`: `all`, `last K versions`, `last D days` (of the dataset's time column,
  counted back from its newest value);
- `deploy`: `direct`, `canary P% for DURATION`, `canary P% for N requests`,
  `shadow for DURATION`, `shadow for N requests`;
- `schedule`: cron, 5 fields (minute hour day month day-of-week) or 6 with seconds first;
  day-of-week by name (mon…sun) or APScheduler's numbers (0 = Monday, unlike classic cron).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC
from typing import Any

# the compare job's tables, so the config accepts exactly what the job can judge
from jobs.compare.params import DEFAULT_METRIC as DEFAULT_METRIC
from jobs.compare.params import HIGHER_IS_BETTER as HIGHER_IS_BETTER
from jobs.compare.params import METRICS as METRICS_BY_TASK

ALERT_TRIGGERS = {"dataset_drift": "drift", "prediction_drift": "prediction_drift",
                  "performance_drop": "performance_drop", "schema_change": "schema_change"}
"""Alert rule → the `retrain_on` name it fires."""
TRIGGERS = ("drift", "prediction_drift", "performance_drop", "schema_change", "manual")

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
_NEW_ROWS = re.compile(r"^new_rows\s*>=\s*(\d+)$")
_WINDOW = re.compile(r"^last\s+(\d+)\s+(versions?|days?)$")
_DEPLOY = re.compile(r"^(canary)\s+(\d+(?:\.\d+)?)\s*%\s+for\s+(.+)$|^(shadow)\s+for\s+(.+)$")
_REQUESTS = re.compile(r"^(\d+)\s+requests?$")


class PolicyError(ValueError):
    """A policy value that does not parse; the message says what is expected."""


def duration_s(text: str | float | int, what: str = "duration") -> float:
    if isinstance(text, int | float) and not isinstance(text, bool):
        seconds = float(text)
    else:
        found = _DURATION.match(str(text))
        if not found:
            raise PolicyError(f"{what} {text!r} is not a duration: write e.g. 90s, 10m, 6h, 2d")
        seconds = float(found[1]) * _UNITS[found[2]]
    if seconds < 0:
        raise PolicyError(f"{what} must not be negative")
    return seconds


@dataclass(frozen=True)
class Triggers:
    kinds: frozenset[str]
    new_rows: int | None


def triggers(items: list[str]) -> Triggers:
    kinds, new_rows = set(), None
    for item in items:
        text = str(item).strip()
        if text in TRIGGERS:
            kinds.add(text)
        elif found := _NEW_ROWS.match(text):
            new_rows = int(found[1])
            if new_rows < 1:
                raise PolicyError("new_rows >= N needs N of at least 1")
        else:
            raise PolicyError(f"unknown trigger {text!r} (known: {', '.join(TRIGGERS)}, "
                              "new_rows >= N)")
    return Triggers(frozenset(kinds), new_rows)


@dataclass(frozen=True)
class Window:
    kind: str
    """all, versions or days"""
    count: int = 0


def training_window(text: str) -> Window:
    text = text.strip()
    if text == "all":
        return Window("all")
    found = _WINDOW.match(text)
    if not found or int(found[1]) < 1:
        raise PolicyError(f"training_window {text!r}: write all, last K versions or "
                          "last D days")
    return Window("versions" if found[2].startswith("version") else "days", int(found[1]))


@dataclass(frozen=True)
class Deploy:
    strategy: str
    """direct, canary or shadow"""
    percent: float = 0.0
    for_s: float | None = None
    for_requests: int | None = None

    def describe(self) -> str:
        if self.strategy == "direct":
            return "direct (blue-green)"
        span = (f"{self.for_requests} requests" if self.for_requests is not None
                else f"{self.for_s:g} s")
        share = f" {self.percent:g}%" if self.strategy == "canary" else ""
        return f"{self.strategy}{share} for {span}"


def deploy(text: str) -> Deploy:
    text = text.strip()
    if text == "direct":
        return Deploy("direct")
    found = _DEPLOY.match(text)
    if not found:
        raise PolicyError(f"deploy {text!r}: write direct, canary P% for 10m, canary P% for "
                          "500 requests, shadow for 10m or shadow for 500 requests")
    strategy = found[1] or found[4]
    percent = float(found[2]) if found[2] else 0.0
    if strategy == "canary" and not 0 < percent < 100:
        raise PolicyError(f"deploy {text!r}: the canary's share must be in (0, 100) percent")
    span = (found[3] or found[5]).strip()
    if requests := _REQUESTS.match(span):
        count = int(requests[1])
        if count < 1:
            raise PolicyError(f"deploy {text!r}: at least 1 request")
        return Deploy(strategy, percent, None, count)
    return Deploy(strategy, percent, duration_s(span, "deploy's span"), None)


def cron_trigger(text: str) -> Any:
    """An APScheduler CronTrigger (UTC) for a 5- or 6-field cron expression."""
    from apscheduler.triggers.cron import CronTrigger

    parts = text.split()
    try:
        if len(parts) == 5:
            return CronTrigger.from_crontab(text, timezone=UTC)
        if len(parts) == 6:
            second, minute, hour, day, month, day_of_week = parts
            return CronTrigger(second=second, minute=minute, hour=hour, day=day, month=month,
                               day_of_week=day_of_week, timezone=UTC)
    except ValueError as exc:
        raise PolicyError(f"schedule {text!r}: {exc}") from None
    raise PolicyError(f"schedule {text!r}: a cron expression has 5 fields (minute hour day "
                      "month day-of-week) or 6 (seconds first)")


def metric_for(task: str, metric: str | None) -> str:
    chosen = metric or DEFAULT_METRIC[task]
    if chosen not in METRICS_BY_TASK[task]:
        raise PolicyError(f"gates.metric {chosen!r} does not fit a {task} model (one of "
                          f"{', '.join(METRICS_BY_TASK[task])})")
    return chosen
