"""What serving keeps per request: the ring of a version's recent requests gives the same answers
as a list of every request would, across its growth and wrap-around; request ids sort by time
(the prediction log finds them by its row groups' min/max, with no index)."""

from __future__ import annotations

import numpy as np
import pytest

from mlopsd.serving.recent import RecentRequests
from mlopsd.serving.request_ids import new_request_id
from mlopsd.serving.stats import WINDOW, VersionStats


@pytest.mark.parametrize("written", [0, 1, 1023, 1024, 1025, 3000, 5000, 12_345])
def test_the_ring_answers_as_the_full_list_would(written: int) -> None:
    size = 4000
    ring = RecentRequests(size)
    rng = np.random.default_rng(written)
    at = np.cumsum(rng.random(written))
    latency = rng.random(written)
    failed = rng.random(written) < 0.1
    for row in zip(at.tolist(), latency.tolist(), failed.tolist(), strict=True):
        ring.append(*row)
    kept = slice(max(0, written - size), written)
    assert len(ring) == min(written, size)
    np.testing.assert_array_equal(ring.latest(10), latency[kept][-10:])
    np.testing.assert_array_equal(ring.latest(size), latency[kept])
    for since, until in [(-1.0, float(at[-1]) if written else 0.0),
                         (float(np.median(at)) if written else 0.0, float("inf")),
                         (0.5 * written, 0.6 * written)]:
        lat, fail = ring.between(since, until)  # in no particular order
        inside = (at[kept] > since) & (at[kept] <= until)
        order, expected = np.argsort(lat), np.argsort(latency[kept][inside])
        np.testing.assert_array_equal(lat[order], latency[kept][inside][expected])
        np.testing.assert_array_equal(fail[order], failed[kept][inside][expected])


def test_a_version_s_window_counts_failures_and_its_summary_the_newest_latencies() -> None:
    stats = VersionStats()
    for i in range(WINDOW + 100):
        stats.record(0.001 * (i % 7), ok=i % 10 != 0, rows=1)
    requests, failed, p95 = stats.window(3600)
    assert (requests, failed) == (WINDOW + 100, (WINDOW + 100 + 9) // 10)
    assert p95 == pytest.approx(6.0)
    assert stats.summary()["window"] == WINDOW
    assert stats.window(3600, now=0.0) == (0, 0, None)


def test_request_ids_sort_by_the_time_they_were_made() -> None:
    made = [new_request_id(ms) for ms in (999, 1_000, 65_536, 1_764_000_000_000)]
    assert made == sorted(made)
    assert new_request_id() > made[-1]  # now is after Nov 2025
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in made)
    assert len({new_request_id() for _ in range(10_000)}) == 10_000
