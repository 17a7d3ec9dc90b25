"""Every listing the UI shows comes in pages: `after` (a cursor) and `limit` in, `{"items",
"next"}` out, walked by keyset on a real daemon with real drops, runs, models and
predictions."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import datetime

import httpx
import orjson
import pytest

from mlopsd.client import ApiError, Client, all_items
from tests import bikes
from tests.daemon_process import DaemonProcess, run_mlops, wait_until
from tests.paging import walk

SCHEDULED = "".join(
    f'\n[[model]]\nname = "s{i}"\ndata = "bikes@all"\ntarget = "bikers"\n'
    f'task = "regression"\n\n[model.retrain]\nschedule = ["0 3 1 1 *"]\n'
    f'dry_run_schedule = ["0 4 1 1 *"]\n' for i in range(1, 4))
CONFIG = '[ingest]\nsettle_s = 0.2\n' + SCHEDULED
GOOD = "a,b\n1,2\n3,4\n"
DATASETS = [f"d{i:02}" for i in range(1, 13)]


@pytest.fixture(scope="module")
def d(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    daemon = DaemonProcess(tmp_path_factory.mktemp("pages") / "home", "--workers", "2",
                           config=CONFIG).start()
    client = daemon.client
    assert client is not None
    # Data: twelve datasets, four versions of the first, a rejected file in six.
    for name in DATASETS:
        _drop(daemon, name, "one.csv", GOOD)
    wait_until(lambda: len(list(all_items(client.list_ingests))) == 12, timeout=120,
               what="the first drops")
    for i in range(3):
        _drop(daemon, "d01", f"more{i}.csv", GOOD + f"{i},{i}\n")
    for name in DATASETS[:6]:
        _drop(daemon, name, "bad.csv", "a,b\n1\n")
    wait_until(lambda: len(list(all_items(client.list_ingests))) == 21, timeout=120,
               what="every drop")
    # Runs: 3 experiments, 250 runs; some without the metric, one with NaN.
    for i in range(250):
        with client.start_run(experiment=f"exp{i % 3}") as run:
            run.log_params({"i": i})
            if i % 5:
                run.log_metric("auc", float("nan") if i == 7 else (i * 37 % 101) / 101)
    # Models: five versions of m1, one of m2 and m3; aliases moved; m1 served.
    versions = [bikes.log(client, bikes.train(rounds=5 + i), "m1", data=f"bikes@{i}")
                for i in range(5)]
    for name in ("m2", "m3"):
        bikes.log(client, bikes.train(rounds=4), name)
    for version in versions:
        client.promote("m1", version, to="staging", reason="paging")
    client.promote("m1", versions[0])
    client.promote("m1", versions[1])
    rows = bikes.frame(3).select(bikes.FEATURES).to_dicts()
    for i in range(5):
        client.predict("m1", rows, request_id=f"paged-{i}")
    wait_until(lambda: len(client.predictions(model="m1", limit=100)) == 15,
               what="the prediction log")
    yield daemon
    assert daemon.stop() == 0


def _drop(d: DaemonProcess, dataset: str, name: str, text: str) -> None:
    folder = d.home.inbox / dataset
    folder.mkdir(parents=True, exist_ok=True)
    staged = d.home.root / f".{dataset}-{name}"
    staged.write_text(text)
    staged.rename(folder / name)


def _client(d: DaemonProcess) -> Client:
    assert d.client is not None
    return d.client


@pytest.mark.parametrize(("listing", "args", "filters", "limit", "at_least"), [
    ("list_jobs", (), {}, 3, 7),
    ("list_jobs", (), {"kind": "check_model"}, 2, 7),
    ("audit", (), {}, 7, 10),
    ("list_datasets", (), {}, 5, 12),
    ("list_versions", ("d01",), {}, 3, 4),
    ("list_ingests", (), {}, 4, 21),
    ("list_ingests", (), {"outcome": "rejected"}, 4, 6),
    ("quarantine", (), {}, 4, 6),
    ("alerts", (), {}, 4, 6),
    ("list_experiments", (), {}, 2, 6),
    ("list_runs", (), {}, 37, 250),
    ("list_runs", (), {"order_by": "metrics.auc desc"}, 23, 250),
    ("list_runs", (), {"order_by": "metrics.auc asc", "experiment": "exp1"}, 9, 83),
    ("list_runs", (), {"order_by": "experiment desc"}, 40, 250),
    ("list_runs", (), {"filter": "metrics.auc > 0.5"}, 11, 50),
    ("list_models", (), {}, 2, 3),
    ("model_versions", ("m1",), {}, 2, 5),
    ("alias_history", ("m1",), {}, 3, 7),
    ("alias_history", ("m1", "staging"), {}, 2, 5),
    ("deployments", ("m1",), {}, 1, 2),
    ("predictions", (), {"model": "m1"}, 4, 15),
    ("schedules", (), {}, 4, 6),
    ("drift_reports", (), {}, 3, 0),
    ("pipelines", (), {}, 3, 0),
])
def test_every_listing_walks_page_by_page(d: DaemonProcess, listing: str, args: tuple,
                                          filters: dict, limit: int, at_least: int) -> None:
    pages = walk(getattr(_client(d), listing), *args, limit=limit, **filters)
    assert sum(len(page) for page in pages) >= at_least


def test_runs_come_in_their_order_with_runs_without_the_metric_last(d: DaemonProcess) -> None:
    client = _client(d)
    ours = "experiment like 'exp%'"
    best = list(all_items(client.list_runs, filter=ours, order_by="metrics.auc desc",
                          page_size=17))
    values = [r.metrics.get("auc") for r in best]
    numbers = [v for v in values if v is not None]
    assert numbers == sorted(numbers, reverse=True) and len(numbers) == 199
    assert values[199:] == [None] * 51, "NaN (null on the wire) and no metric come last"
    assert all(best[i].started_at >= best[i + 1].started_at for i in range(199, 249))
    newest = list(all_items(client.list_runs, filter=ours, page_size=13))
    assert [r.started_at for r in newest] == sorted((r.started_at for r in newest),
                                                    reverse=True)


def test_what_happens_meanwhile_neither_repeats_nor_shifts_a_walk(d: DaemonProcess) -> None:
    client = _client(d)
    first = client.list_jobs(limit=3)
    later = client.submit_job("selfcheck")
    rest = list(all_items(client.list_jobs, after=first.next, page_size=3))
    seen = [j.id for j in [*first, *rest]]
    assert later.id not in seen, "newer than the walk's start: on a fresh first page"
    assert seen == sorted(seen, reverse=True) and len(set(seen)) == len(seen)
    assert client.list_jobs(limit=1)[0].id == later.id
    client.wait_job(later.id, timeout=60)


def test_a_cursor_is_checked(d: DaemonProcess) -> None:
    client = _client(d)
    jobs = client.list_jobs(limit=1)
    assert jobs.next is not None
    with pytest.raises(ApiError) as err:
        client.alerts(after=jobs.next)
    assert err.value.status == 422 and err.value.field == "after"
    assert "another listing" in err.value.message
    by_auc = client.list_runs(order_by="metrics.auc desc", limit=1)
    with pytest.raises(ApiError) as err:
        client.list_runs(order_by="started_at asc", after=by_auc.next)
    assert err.value.field == "after" and "same listing and order" in err.value.message
    forged = base64.urlsafe_b64encode(orjson.dumps(["jobs", "x"])).decode()
    for cursor in ("not-a-cursor", forged):
        with pytest.raises(ApiError) as err:
            client.list_jobs(after=cursor)
        assert err.value.status == 422 and err.value.field == "after", cursor


def test_the_reply_is_an_envelope_with_the_next_cursor(d: DaemonProcess) -> None:
    with httpx.Client(base_url=_client(d).base_url) as http:
        ours = {"filter": "experiment like 'exp%'"}
        first = http.get("/api/v1/runs", params={**ours, "limit": 100}).json()
        assert set(first) == {"items", "next"} and len(first["items"]) == 100
        second = http.get("/api/v1/runs", params={**ours, "limit": 200,
                                                  "after": first["next"]}).json()
        assert len(second["items"]) == 150 and second["next"] is None
        ids = [r["id"] for r in first["items"] + second["items"]]
        assert len(set(ids)) == 250


def test_new_endpoints_experiments_one_alert_serving_stats(d: DaemonProcess) -> None:
    client = _client(d)
    exp = client.get_experiment("exp1")
    assert (exp.name, exp.runs, exp.running) == ("exp1", 83, 0)
    assert exp.last_run_at is not None
    with pytest.raises(ApiError) as err:
        client.get_experiment("nope")
    assert err.value.status == 404
    alert = client.alerts(limit=1)[0]
    assert client.get_alert(alert.id) == alert
    with pytest.raises(ApiError) as err:
        client.get_alert(987_654)
    assert err.value.status == 404
    stats = client.serving_stats("m1", bucket_s=3600)
    by_version = {b.version: b for b in stats.buckets}
    live = client.get_model("m1").aliases["production"]
    assert by_version[live].requests == 5 and by_version[live].rows == 15
    assert by_version[live].served_as == "production"
    assert 0 < by_version[live].p50_ms <= by_version[live].p99_ms
    assert by_version[live].start == stats.since, "one bucket: the hour asked about"
    with pytest.raises(ApiError) as err:
        client.serving_stats("m1", bucket_s=0.001)
    assert err.value.field == "bucket_s"
    with pytest.raises(ApiError) as err:
        client.serving_stats("m1", until=datetime(1, 1, 1))  # an hour before: no such time
    assert err.value.status == 422 and err.value.field == "until"
    with pytest.raises(ApiError) as err:
        client.serving_stats("m1", since=datetime(2030, 1, 1), until=datetime(2029, 1, 1))
    assert err.value.field == "since"


def test_cli_listings_still_show_everything(d: DaemonProcess) -> None:
    datasets = run_mlops(d.home.root, "data", "list")
    assert datasets.returncode == 0, datasets.stderr
    assert all(name in datasets.stdout for name in DATASETS)
    versions = run_mlops(d.home.root, "data", "versions", "d01", "--json")
    assert len(orjson.loads(versions.stdout)) == 4
    run_id = _client(d).list_runs(limit=1)[0].id
    shown = run_mlops(d.home.root, "runs", "show", run_id[:8])
    assert shown.returncode == 0 and run_id in shown.stdout, shown.stderr
    bad = run_mlops(d.home.root, "runs", "show", "zz'")
    assert bad.returncode == 2 and "no run id starts with \"zz'\"" in bad.stderr

