"""Micro-batching: concurrent requests for the same version predicted in one call.

A LightGBM predict call costs ~20 µs before its first row (the Python wrapper, the C
predictor set-up) and ~1.5 µs a row after it, so eight one-row requests answered in one
call cost a fifth of eight calls. Requests join a batch only on the event loop, which
keeps the batch free of locks:

- A request that finds no batch open for its version opens one and leads it. It lets the
  loop run once (`sleep(0)`: microseconds, no timer), so that requests already read from
  other connections join. After 8 leaders in a row found nobody, only one in 16 looks:
  a lone client predicts at once, and the first company seen turns looking back on.
- If requests for the same version are still on their way (their bodies arriving, or
  being decoded), the leader waits for them, at most `wait_s` and until the batch holds
  `max_rows`. uvloop's timers count whole milliseconds: a wait under 1 ms ends after the
  loop's next look at the sockets.
- The leader predicts the rows of all members in one call and hands each member its own
  slice, in its own order. If that call raises, each member is predicted alone, so a
  failure stays with the request that causes it.

Everything else stays per request: the reply, its statistics, its prediction log entry.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import numpy as np

from mlopsd.serving.loaded import LoadedModel
from mlopsd.serving.stats import BatchingStats

QUIET_LEADERS = 8
PROBE_EVERY = 16


@dataclass
class _Batch:
    model: LoadedModel
    matrices: list[np.ndarray]
    waiters: list[asyncio.Future[np.ndarray] | None]
    """Per member its future (None for the leader, who predicts)."""
    rows: int
    wake: asyncio.Future[None] | None = None
    """Set while the leader waits for members still on their way."""


class MicroBatcher:
    def __init__(self, *, wait_s: float, max_rows: int,
                 stats: BatchingStats | None = None) -> None:
        self.wait_s, self.max_rows = wait_s, max_rows
        self.stats = stats or BatchingStats()
        self._open: dict[int, _Batch] = {}
        """Per version (the loaded model's id): the batch that takes members now."""
        self._coming: dict[int, int] = {}
        """Per version: requests routed to it that have not reached the batcher yet."""
        self._alone_in_a_row = 0
        """Leaders whose pass of the loop brought nobody, one after another: past
        QUIET_LEADERS, only one leader in PROBE_EVERY looks (a lone client pays nothing)."""

    def expect(self, model: LoadedModel) -> None:
        """A request for `model` is on its way (its body arriving or being decoded): a
        leader waits for it (within `wait_s`) until it joins or `leave`s."""
        key = id(model)
        self._coming[key] = self._coming.get(key, 0) + 1

    def leave(self, model: LoadedModel) -> None:
        """An expected request will not join (refused, too big, explained, drilled)."""
        key = id(model)
        left = self._coming.get(key, 0) - 1
        if left > 0:
            self._coming[key] = left
            return
        self._coming.pop(key, None)
        found = self._open.get(key)
        if found is not None:
            _wake(found)

    async def predict(self, model: LoadedModel, matrix: np.ndarray) -> np.ndarray:
        """`model.predict(matrix)`, made together with concurrent requests' rows."""
        self.leave(model)
        key = id(model)
        rows = matrix.shape[0]
        joined = self._open.get(key)
        if joined is not None and joined.rows + rows <= self.max_rows:
            future: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
            joined.matrices.append(matrix)
            joined.waiters.append(future)
            joined.rows += rows
            if joined.rows >= self.max_rows or key not in self._coming:
                _wake(joined)
            return await future
        if self._alone_in_a_row >= QUIET_LEADERS and key not in self._coming:
            self._alone_in_a_row += 1
            if self._alone_in_a_row % PROBE_EVERY:
                self.stats.alone += 1
                return model.predict(matrix)
        batch = _Batch(model, [matrix], [None], rows)
        self._open[key] = batch
        try:
            await asyncio.sleep(0)  # one pass of the loop: requests already read join now
            self._alone_in_a_row = self._alone_in_a_row + 1 if len(batch.matrices) == 1 else 0
            if key in self._coming and batch.rows < self.max_rows:
                loop = asyncio.get_running_loop()
                batch.wake = loop.create_future()
                timer = loop.call_later(self.wait_s, _wake, batch)
                try:
                    await batch.wake
                finally:
                    timer.cancel()
        finally:
            # Closed first: a request arriving from here on opens the next batch. Members
            # are answered even when the leader was cancelled meanwhile.
            if self._open.get(key) is batch:
                del self._open[key]
            own = self._predict(batch)
        return own

    def _predict(self, batch: _Batch) -> np.ndarray:
        model, matrices, waiters = batch.model, batch.matrices, batch.waiters
        if len(matrices) == 1:
            self.stats.alone += 1
            return model.predict(matrices[0])
        self.stats.batches += 1
        self.stats.requests += len(matrices)
        self.stats.largest = max(self.stats.largest, len(matrices))
        try:
            raw = model.predict(np.concatenate(matrices))
        except Exception:
            return self._one_by_one(batch)
        offsets = np.cumsum([m.shape[0] for m in matrices])[:-1]
        parts = np.split(raw, offsets)
        for waiter, part in zip(waiters[1:], parts[1:], strict=True):
            if waiter is not None and not waiter.done():
                waiter.set_result(part)
        return parts[0]

    def _one_by_one(self, batch: _Batch) -> np.ndarray:
        """The batch's call raised: each member is predicted alone, and gets its own
        answer or its own error (the leader's error is raised here)."""
        for matrix, waiter in zip(batch.matrices[1:], batch.waiters[1:], strict=True):
            if waiter is None or waiter.done():
                continue
            try:
                waiter.set_result(batch.model.predict(matrix))
            except Exception as exc:
                waiter.set_exception(exc)
        return batch.model.predict(batch.matrices[0])


def _wake(batch: _Batch) -> None:
    if batch.wake is not None and not batch.wake.done():
        batch.wake.set_result(None)
