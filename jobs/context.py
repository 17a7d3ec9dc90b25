"""What a running job gets from whoever runs it: a logger, progress events, artifacts."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from store.artifacts import ArtifactStore


class JobError(Exception):
    """A job failed for a reason the user can act on; its message is the job's error."""


class InvalidParams(JobError):
    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


@dataclass
class JobContext:
    job_id: int
    log: logging.Logger
    artifacts: ArtifactStore
    emit: Callable[..., None]
    """emit(type, **data): a progress event for the daemon's event stream."""
    home: Path
    """The home's root: every file the job reads or writes lies inside it (jobs.paths)."""


def take_number(
    params: dict[str, Any], name: str, default: float, *, low: float, high: float
) -> float:
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidParams(name, f"must be a number, got {value!r}")
    if not low <= value <= high:
        raise InvalidParams(name, f"must be between {low} and {high}, got {value}")
    return float(value)


def reject_unknown(params: dict[str, Any], known: set[str]) -> None:
    unknown = sorted(set(params) - known)
    if unknown:
        allowed = ", ".join(sorted(known)) or "none"
        raise InvalidParams(unknown[0], f"unknown parameter (allowed: {allowed})")


class Timings(dict):
    """`with timings("load", ctx):` records the step's seconds as `load_s` and logs them."""

    @contextmanager
    def __call__(self, step: str, ctx: JobContext) -> Iterator[None]:
        started = time.perf_counter()
        yield
        took = time.perf_counter() - started
        self[f"{step}_s"] = round(took, 4)
        ctx.log.info("%s in %.3f s", step, took)
