"""The experiment-tracking SDK for notebooks and scripts, on the client:

    with client.start_run(experiment="churn", tags={"purpose": "Q4 churn model"}) as run:
        run.log_params({"num_leaves": 31})
        for step, loss in enumerate(losses):
            run.log_metric("loss", loss, step=step)

Metric points are buffered and sent in batches (when the buffer fills, every
`flush_interval_s`, and at the end), so a call costs microseconds, not a round trip. A
background heartbeat keeps the run alive; a run whose process dies stops beating and the
daemon marks it failed after its timeout. An exception inside the `with` ends the run as
failed, with the error.
"""

from __future__ import annotations

import threading
import time
import traceback
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlopsd.client import Client
    from mlopsd.wire import RunOut


class ActiveRun:
    def __init__(self, client: Client, run: RunOut, *, max_buffer: int = 20_000,
                 flush_interval_s: float = 1.0) -> None:
        self.client, self.info, self.id = client, run, run.id
        self._buffer: list[dict[str, Any]] = []
        self._params: dict[str, Any] = {}
        self._tags: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._max_buffer = max_buffer
        self._stop = threading.Event()
        self._flusher = threading.Thread(target=self._beat, args=(flush_interval_s,),
                                         name=f"run-{run.id[:8]}", daemon=True)
        self._flusher.start()

    # --- logging --------------------------------------------------------------------------

    def log_param(self, key: str, value: Any) -> None:
        self.log_params({key: value})

    def log_params(self, params: dict[str, Any]) -> None:
        with self._lock:
            self._params.update(params)

    def set_tag(self, key: str, value: Any) -> None:
        self.set_tags({key: value})

    def set_tags(self, tags: dict[str, Any]) -> None:
        with self._lock:
            self._tags.update(tags)

    def log_metric(self, key: str, value: float, step: int = 0) -> None:
        point = {"key": key, "value": float(value), "step": step,
                 "at": datetime.now(UTC).isoformat()}
        with self._lock:
            self._buffer.append(point)
            full = len(self._buffer) >= self._max_buffer
        if full:
            self.flush()

    def log_metrics(self, metrics: dict[str, float], step: int = 0) -> None:
        for key, value in metrics.items():
            self.log_metric(key, value, step)

    def flush(self) -> int:
        """Send what is buffered now; returns how many metric points went."""
        with self._lock:
            points, self._buffer = self._buffer, []
            params, self._params = self._params, {}
            tags, self._tags = self._tags, {}
        if not (points or params or tags):
            return 0
        try:
            self.client._request("POST", f"/api/v1/runs/{self.id}/log",
                                 json={"params": params, "tags": tags, "metrics": points})
        except Exception:
            with self._lock:  # keep them for the next try, in order
                self._buffer[:0] = points
                self._params = {**params, **self._params}
                self._tags = {**tags, **self._tags}
            raise
        return len(points)

    def _beat(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                if not self.flush():
                    self.client._request("POST", f"/api/v1/runs/{self.id}/log", json={})
            except Exception:
                time.sleep(interval)  # the daemon may be restarting; the next beat retries

    # --- ending ---------------------------------------------------------------------------

    def end(self, state: str = "finished", error: str | None = None) -> RunOut:
        from mlopsd.wire import RunOut

        self._stop.set()
        self._flusher.join(timeout=5)
        self.flush()
        return RunOut.model_validate(self.client._request(
            "POST", f"/api/v1/runs/{self.id}/end", json={"state": state, "error": error}))

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc is None:
            self.end("finished")
        elif isinstance(exc, KeyboardInterrupt):
            self.end("killed", "interrupted")
        else:
            last = traceback.format_exception_only(kind, exc)[-1].strip()
            self.end("failed", last)
