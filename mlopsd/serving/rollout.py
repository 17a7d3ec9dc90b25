"""Canary and shadow deploys: a candidate version beside the live one.

Canary: a share of requests goes to the candidate (sticky per client key when the client
sends `X-Client-Key`: the same key always takes the same arm), and both arms keep their
own numbers from the canary's start. The policy rolls the candidate back by itself when,
after a minimum number of its requests, its error rate exceeds the champion's by more than
a margin or its p95 latency exceeds the champion's by more than a ratio.

Shadow: the candidate scores every request after the live answer has gone out; its
answers are logged (served_as = "shadow") and compared with the live ones, never returned.
"""

from __future__ import annotations

import random
import threading
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlopsd.serving.loaded import LoadedModel
from mlopsd.serving.stats import VersionStats


@dataclass(frozen=True)
class CanaryPolicy:
    min_requests: int = 200
    """Candidate requests before the policy judges (fewer: no verdict yet)."""
    error_margin: float = 0.01
    """Roll back when the candidate's error rate exceeds the champion's by more than this."""
    latency_margin: float = 0.5
    """…or its p95 latency exceeds the champion's by more than this share (0.5 = +50%)"""
    latency_floor_ms: float = 5.0
    """…and by more than this many milliseconds (sub-millisecond jitter on a busy machine is
    not a reason to roll back)."""


@dataclass
class Canary:
    model: LoadedModel
    percent: float
    deployment_id: int
    policy: CanaryPolicy
    drill_failure_rate: float = 0.0
    """A failure drill: this share of the candidate's requests fail on purpose, to prove
    that the auto-rollback and the fallback work before a real failure needs them."""
    started: float = field(default_factory=time.time)
    champion: VersionStats = field(default_factory=VersionStats)
    candidate: VersionStats = field(default_factory=VersionStats)

    def takes(self, client_key: str) -> bool:
        """Whether this request goes to the candidate."""
        if client_key:
            return zlib.crc32(client_key.encode()) % 10_000 < self.percent * 100
        return random.random() * 100 < self.percent

    def verdict(self) -> str | None:
        """Why the candidate must be rolled back, or None."""
        cand, champ = self.candidate, self.champion
        if cand.requests < self.policy.min_requests:
            return None
        cand_rate = cand.errors / cand.requests
        champ_rate = champ.errors / champ.requests if champ.requests else 0.0
        if cand_rate > champ_rate + self.policy.error_margin:
            return (f"error rate {cand_rate:.1%} against the champion's {champ_rate:.1%} "
                    f"(margin {self.policy.error_margin:.1%}) over {cand.requests} requests")
        if champ.requests >= self.policy.min_requests:
            cand_p95 = float(np.percentile(cand.latencies_s(), 95))
            champ_p95 = float(np.percentile(champ.latencies_s(), 95))
            if cand_p95 > champ_p95 * (1 + self.policy.latency_margin) and (
                    cand_p95 - champ_p95) * 1000 > self.policy.latency_floor_ms:
                return (f"p95 latency {cand_p95 * 1000:.2f} ms against the champion's "
                        f"{champ_p95 * 1000:.2f} ms (margin +{self.policy.latency_margin:.0%} "
                        f"and {self.policy.latency_floor_ms:g} ms)")
        return None

    def summary(self) -> dict[str, Any]:
        return {"strategy": "canary", "version": self.model.version, "percent": self.percent,
                "deployment_id": self.deployment_id, "started": self.started,
                "drill_failure_rate": self.drill_failure_rate,
                "policy": self.policy.__dict__, "champion": self.champion.summary(),
                "candidate": self.candidate.summary()}


@dataclass
class Drill:
    """Failures (or delays) injected into the live version on purpose, for a number of
    requests: proves that the fallback (the previous version, else the configured default)
    and the alerts work before a real failure needs them."""

    failure_rate: float
    requests: int
    delay_s: float = 0.0
    """A latency drill: each of the drill's requests is answered this much later."""
    started: float = field(default_factory=time.time)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def take(self) -> tuple[float, float]:
        """This request's failure rate and delay (nothing once the drill is used up)."""
        with self._lock:
            if self.requests <= 0:
                return 0.0, 0.0
            self.requests -= 1
            return self.failure_rate, self.delay_s


@dataclass
class Shadow:
    model: LoadedModel
    deployment_id: int
    started: float = field(default_factory=time.time)
    compared: int = 0
    """Requests the shadow answered and was compared on…"""
    compared_rows: int = 0
    """…and their rows."""
    errors: int = 0
    skipped: int = 0
    """Requests not shadowed because the shadow had fallen behind."""
    abs_diff_sum: float = 0.0
    max_abs_diff: float = 0.0
    label_agreements: int = 0
    labelled_rows: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def compare(self, live: dict[str, Any], shadow: dict[str, Any]) -> None:
        ours = np.asarray(live["predictions"], dtype=np.float64)
        theirs = np.asarray(shadow["predictions"], dtype=np.float64)
        diff = np.abs(ours - theirs)
        with self._lock:
            self.compared += 1
            self.compared_rows += len(ours)
            self.abs_diff_sum += float(np.nansum(diff))
            self.max_abs_diff = max(self.max_abs_diff, float(np.nanmax(diff, initial=0.0)))
            if "labels" in live and "labels" in shadow:
                self.labelled_rows += len(live["labels"])
                self.label_agreements += sum(a == b for a, b in zip(
                    live["labels"], shadow["labels"], strict=True))

    def summary(self) -> dict[str, Any]:
        with self._lock:
            rows = self.compared_rows
            return {"strategy": "shadow", "version": self.model.version,
                    "deployment_id": self.deployment_id, "started": self.started,
                    "compared": self.compared, "compared_rows": rows, "errors": self.errors,
                    "skipped": self.skipped,
                    "mean_abs_diff": self.abs_diff_sum / rows if rows else None,
                    "max_abs_diff": self.max_abs_diff if rows else None,
                    "label_agreement": (self.label_agreements / self.labelled_rows
                                        if self.labelled_rows else None)}
