"""The experiment-tracking SDK for notebooks and scripts, on the client:

    with client.start_run(experiment="churn", tags={"purpose": "Q4 churn model"}) as run:
        run.log_params({"num_leaves": 31})
        for step, loss in enumerate(losses):
            run.log_metric("loss", loss, step=step)

Metric points are buffered and sent in batches (when the buffer fills, every
`flush_interval_s`, and at the end), so a call costs microseconds, not a round trip. The
run id is made by the SDK and the run reaches the daemon with its first batch; a run shorter
than the flush interval is sent whole, as one request (200 short runs take ~1 s, not ~10). A
background heartbeat keeps the run alive; a run whose process dies stops beating and the
daemon marks it failed after its timeout. An exception inside the `with` ends the run as
failed, with the error.
"""

from __future__ import annotations

import threading
import time
import traceback
import uuid
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

from mlopsd.client.errors import ApiError, MlopsError
from mlopsd.client.signature import signature_from_example
from mlopsd.client.wire import MetricColumnsIn, ModelVersionOut, RunOut

if TYPE_CHECKING:
    from mlopsd.client.client import Client


@dataclass(frozen=True)
class _Batch:
    """What one request carries: params, tags and metric points (as parallel lists)."""

    params: dict[str, Any]
    tags: dict[str, Any]
    metrics: MetricColumnsIn


class ActiveRun:
    """A run being logged into. Its id is made here; the daemon learns of the run with its
    first batch: at the first flush (at most `flush_interval_s` after the start) or, for a
    run shorter than that, at its end, when the whole run goes as one request."""

    def __init__(self, client: Client, *, experiment: str, tags: dict[str, str] | None = None,
                 note: str | None = None, model: str | None = None,
                 max_buffer: int = 20_000, flush_interval_s: float = 1.0) -> None:
        self.client, self.experiment = client, experiment
        self.id = uuid.uuid4().hex
        self._note, self._model = note, model
        self._started_at = datetime.now(UTC)
        self._created = False
        """Whether the daemon has the run (it learns of it with the first batch)."""
        self._keys: list[str] = []
        self._values: list[float] = []
        self._steps: list[int] = []
        self._at: list[float] = []
        self._params: dict[str, Any] = {}
        self._tags: dict[str, Any] = dict(tags or {})
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._sent_at = 0.0
        self._max_buffer = max_buffer
        self._interval = flush_interval_s
        self._next_beat = time.monotonic() + flush_interval_s
        self._ended = False
        _heartbeat().add(self)

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
        """NaN and ±inf are kept (a diverging loss is worth seeing); JSON carries them as
        null, stored as NaN."""
        value, at = float(value), time.time()
        with self._lock:
            self._keys.append(key)
            self._values.append(value)
            self._steps.append(step)
            self._at.append(at)
            full = len(self._keys) >= self._max_buffer
        if full:
            self.flush()

    def log_metrics(self, metrics: dict[str, float], step: int = 0) -> None:
        for key, value in metrics.items():
            self.log_metric(key, value, step)

    def flush(self) -> int:
        """Send what is buffered now; returns how many metric points went."""
        return self._send(None)

    def _take(self) -> _Batch:
        with self._lock:
            batch = _Batch(self._params, self._tags, MetricColumnsIn.model_construct(
                key=self._keys, value=self._values, step=self._steps, at=self._at))
            self._params, self._tags = {}, {}
            self._keys, self._values, self._steps, self._at = [], [], [], []
        return batch

    def _put_back(self, batch: _Batch) -> None:
        """A batch that did not reach the daemon goes back in front, for the next try."""
        with self._lock:
            m = batch.metrics
            self._keys[:0], self._values[:0] = m.key, m.value
            self._steps[:0], self._at[:0] = m.step, m.at
            self._params = {**batch.params, **self._params}
            self._tags = {**batch.tags, **self._tags}

    def _send(self, end: tuple[str, str | None] | None) -> Any:
        """One request: create the run (with the batch) if the daemon has not seen it yet,
        else log the batch, or end the run with it (`end`: its state and error). Returns
        the metric count, or the ended run's record."""
        with self._send_lock:
            batch = self._take()
            count = len(batch.metrics.key)
            if end is None and not (count or batch.params or batch.tags) and self._created:
                return 0
            try:
                reply = self._post(batch, end)
            except ApiError as exc:
                if exc.status >= 500:
                    self._put_back(batch)
                    raise
                # Refused (a param set again with another value, a bad name): sending the
                # same batch again would be refused for ever and hold back everything after
                # it. The params go; the metric points and tags are tried once without them.
                if batch.params and exc.status in (409, 422):
                    warnings.warn(f"run {self.id}: params refused ({exc.message}); the "
                                  "rest of the batch is sent without them", stacklevel=3)
                    reply = self._post(_Batch({}, batch.tags, batch.metrics), end)
                else:
                    raise
            except Exception:
                self._put_back(batch)  # not delivered (the daemon may be restarting)
                raise
            self._sent_at = time.monotonic()
            return reply if end is not None else count

    def _post(self, batch: _Batch, end: tuple[str, str | None] | None) -> Any:
        state, error = end if end is not None else ("running", None)
        if not self._created:
            reply = self.client.create_run(
                self.experiment, run_id=self.id, note=self._note, model=self._model,
                started_at=self._started_at, params=batch.params, tags=batch.tags,
                metrics=batch.metrics, state=state, error=error)
            self._created = True
            return reply
        if end is not None:
            return self.client.end_run(self.id, state, error=error, params=batch.params,
                                       tags=batch.tags, metrics=batch.metrics)
        return self.client.log_batch(self.id, params=batch.params, tags=batch.tags,
                                     metrics=batch.metrics)

    def _beat(self) -> None:
        """Called by the heartbeat thread when this run's interval has passed."""
        if self._ended:
            return
        try:
            sent_before = self._sent_at
            self.flush()
            if self._sent_at == sent_before and not self._ended:
                # Nothing went this interval: an empty batch is the heartbeat that keeps the
                # run alive.
                self.client.log_batch(self.id)
                self._sent_at = time.monotonic()
        except Exception:
            pass  # the daemon may be restarting; the next beat retries
        self._next_beat = time.monotonic() + self._interval

    # --- models ---------------------------------------------------------------------------

    def log_model(self, booster: Any, *, model: str, input_example: Any = None,
                  categorical: Iterable[str] = (), task: str | None = None,
                  target: str | None = None, classes: list[Any] | None = None,
                  threshold: float | None = None, metrics: dict[str, float] | None = None,
                  data: list[str] | None = None, description: str | None = None
                  ) -> ModelVersionOut:
        """Register `booster` (a lightgbm.Booster or a fitted LGBMModel) as the next version
        of `model`, made by this run. Its input signature comes from `input_example` (a polars
        frame or a dict of columns, e.g. the training rows: dtypes and categories) or, without
        one, from the booster (every feature a float). The version bump follows the registry's
        rule; name the training data with `data=` (e.g. data version hashes) so that the same
        data gives a patch, not a minor version."""
        booster = getattr(booster, "booster_", booster)
        text = booster.model_to_string()
        names = booster.feature_name()
        if input_example is not None:
            signature = signature_from_example(input_example, names, categorical)
        else:
            categorical_features = _categorical_in_text(text, names)
            if categorical_features:
                raise ValueError(
                    f"feature {categorical_features[0]!r} is categorical in the model: pass "
                    "input_example= (the training rows) so its categories are recorded")
            signature = {"inputs": [{"name": n, "dtype": "float64", "categorical": False,
                                     "categories": None} for n in names]}
        signature["target"] = {"name": target, "dtype": None, "classes": classes}
        signature["threshold"] = threshold if threshold is not None else (
            0.5 if (task or _objective(text)).startswith("binary") else None)
        self.flush()  # the run must exist on the daemon before a model can name it
        job = self.client.log_model_text(
            self.id, model=model, model_text=text, signature=signature, task=task,
            metrics=metrics, data=data, description=description)
        done = self.client.wait_job(job.id)
        if done.state != "succeeded":
            raise MlopsError(f"log_model: job {job.id} {done.state}: {done.error}")
        return self.client.model_version(model, done.result["version"])

    # --- ending ---------------------------------------------------------------------------

    def end(self, state: str = "finished", error: str | None = None) -> RunOut:
        self._ended = True
        _heartbeat().remove(self)
        ended: RunOut = self._send((state, error))
        return ended

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


class _Heartbeat:
    """One thread for every active run of the process (a thread per run cost ~0.5 ms to
    start and join, a tenth of a short run's whole cost): it flushes each run when its
    interval has passed, or sends an empty batch to keep it alive."""

    def __init__(self) -> None:
        self._runs: set[ActiveRun] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="mlops-runs", daemon=True)
        self._thread.start()

    def add(self, run: ActiveRun) -> None:
        with self._lock:
            self._runs.add(run)

    def remove(self, run: ActiveRun) -> None:
        with self._lock:
            self._runs.discard(run)

    def _loop(self) -> None:
        while True:
            with self._lock:
                runs = list(self._runs)
            now = time.monotonic()
            for run in runs:
                if now >= run._next_beat:
                    run._beat()
            wait = min((r._next_beat for r in runs), default=now + 0.2) - time.monotonic()
            time.sleep(min(0.2, max(0.01, wait)))


_HEARTBEAT: _Heartbeat | None = None
_HEARTBEAT_LOCK = threading.Lock()


def _heartbeat() -> _Heartbeat:
    global _HEARTBEAT
    with _HEARTBEAT_LOCK:
        if _HEARTBEAT is None:
            _HEARTBEAT = _Heartbeat()
        return _HEARTBEAT


def _objective(model_text: str) -> str:
    return next((line.split("=", 1)[1] for line in model_text.splitlines()
                 if line.startswith("objective=")), "")


def _categorical_in_text(model_text: str, names: list[str]) -> list[str]:
    """Features LightGBM treats as categorical: their `feature_infos` entry lists category
    values (1:2:3) where a numeric feature has a range ([0:1]) or none."""
    infos = next((line.split("=", 1)[1].split() for line in model_text.splitlines()
                  if line.startswith("feature_infos=")), [])
    return [name for name, info in zip(names, infos, strict=False)
            if info != "none" and not info.startswith("[")]
