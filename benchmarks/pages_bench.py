"""Pages of the listings the UI shows, on a large home.

    scripts/bench pages [--runs 10000] [--versions 1000] [--alerts 100000]

The store is seeded directly before the daemon starts (it is the only one to open it while
running): RUNS runs in 20 experiments with 10 params and 5 metrics each, VERSIONS versions
of one model, ALERTS alerts (a third resolved). Each listing is timed for its first page of
100 and for a page of 100 deep in it (after all but the last 100 items: keyset pages cost
the same wherever they start), over the API, median of 20 (target <= 50 ms a page).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.common import daemon, median
from benchmarks.report import Row, at_most, header, render, steady
from mlopsd.client import Client, PagedList
from store import models as model_repo
from store import runs as run_repo
from store.db import open_store
from tests.daemon_process import DaemonProcess


def seed_store(db: Path, runs: int, versions: int, alerts: int) -> None:
    store = open_store(db)
    with store.transaction() as cur:
        for i in range(runs):
            run_id = run_repo.new_run_id()
            run_repo.insert_run(cur, run_id=run_id, experiment=f"exp{i % 20}",
                                state="finished")
            run_repo.insert_batch(cur, run_id, params={f"p{k}": (i + k) % 64 for k in range(10)},
                                  tags={"team": f"t{i % 5}"},
                                  metrics=[(f"m{k}", (i % 997) / 997 + k, 0, None)
                                           for k in range(5)])
        for v in range(versions):
            model_repo.register_version(
                cur, model="big", task="regression", artifact_sha=f"{v:064x}",
                signature={"inputs": []}, signature_hash="s", data_key=f"d{v}",
                config_hash="c", metrics={"rmse": v}, run_id=None)
        cur.execute(
            "INSERT INTO alerts (rule, subject, severity, state, message, detail, count, "
            "opened_at, last_seen_at, updated_at) SELECT 'rule' || (i % 20), 'subject:' || i, "
            "'warning', CASE WHEN i % 3 = 0 THEN 'resolved' ELSE 'open' END, 'seeded', NULL, "
            "1, now()::TIMESTAMP - to_seconds(i), now()::TIMESTAMP - to_seconds(i), "
            "now()::TIMESTAMP FROM range(?) t(i)", [alerts])
    store.checkpoint()
    store.close()


def timed(call: Callable[[], object], repeat: int = 20) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return median(times)


def deep_cursor(fetch: Callable[..., PagedList], total: int, **filters: object) -> str | None:
    """The cursor after all but the last 100 items (walked 10,000 at a time)."""
    after, seen = None, 0
    while seen < total - 100:
        page = fetch(after=after, limit=min(10_000, total - 100 - seen), **filters)
        seen += len(page)
        after = page.next
    return after


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--versions", type=int, default=1_000)
    parser.add_argument("--alerts", type=int, default=100_000)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "big"
        DaemonProcess(home).home.root.mkdir(parents=True)
        started = time.perf_counter()
        seed_store(home / "meta.duckdb", args.runs, args.versions, args.alerts)
        seeded = time.perf_counter() - started
        d = daemon(home, "")
        try:
            client: Client = d.client  # type: ignore[assignment]
            listings: list[tuple[str, Callable[..., PagedList], int, dict[str, object]]] = [
                ("runs, newest first", client.list_runs, args.runs, {}),
                ("runs by metrics.m1 desc", client.list_runs, args.runs,
                 {"order_by": "metrics.m1 desc"}),
                ("runs, filter metrics.m0 > 0.5", client.list_runs, None,
                 {"filter": "metrics.m0 > 0.5"}),
                ("model versions", lambda **kw: client.model_versions("big", **kw),
                 args.versions, {}),
                ("alerts, most recently seen first", client.alerts, args.alerts, {}),
                ("alerts, active", client.alerts, None, {"state": "active"}),
                ("experiments", client.list_experiments, 20, {}),
            ]
            for name, fetch, total, filters in listings:
                if total is None:
                    total = sum(1 for _ in _every(fetch, **filters))
                first, first_load = steady(
                    lambda f=fetch, kw=filters: timed(lambda: f(limit=100, **kw)))
                rows.append(Row(f"{name} ({total:,}): first page", first * 1000, "ms",
                                first_load, None, [at_most(50, "ms")], digits=1))
                if total <= 100:
                    continue
                cursor = deep_cursor(fetch, total, **filters)
                deep, deep_load = steady(lambda f=fetch, c=cursor, kw=filters: timed(
                    lambda: f(after=c, limit=100, **kw)))
                rows.append(Row(f"{name} ({total:,}): a page deep in it", deep * 1000, "ms",
                                deep_load, None, [at_most(50, "ms")], digits=1))
        finally:
            d.stop()
    print(header("Pages of 100 on a large home, over the API (no anchor: goals only)",
                 medians="of 20", seeded_in=f"{seeded:.1f} s",
                 deep_page="after all but the last 100 items"))
    print(render(rows, "anchor"))


def _every(fetch: Callable[..., PagedList], **filters: object):
    after = None
    while True:
        page = fetch(after=after, limit=10_000, **filters)
        yield from page
        if page.next is None:
            return
        after = page.next


if __name__ == "__main__":
    main()
