"""`mlops predict` as a new user meets it: CSV and Parquet files as the HTTP endpoint takes
them, and a word when the model ignored input columns or never saw a category (the reply's
headers, the prediction log's counters, /metrics and `mlops serving` count them too); and
`mlops data show DATASET@latest`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import orjson
import polars as pl
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests import bikes
from tests.daemon_process import DaemonProcess, run_mlops

CONFIG = """\
[ingest]
settle_s = 0.2

[[dataset]]
name = "bikes"
"""
NOTE_IGNORED = "mlops: note: riders does not use these input columns (ignored): ride_id\n"
NOTE_UNSEEN = ("mlops: note: categories riders:1.0.0 never saw in training, treated as "
               "missing: mnth (2 rows)\n")


@pytest.fixture(scope="module")
def d(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    daemon = DaemonProcess(tmp_path_factory.mktemp("predict") / "home", config=CONFIG).start()
    yield daemon
    assert daemon.stop() == 0


@pytest.fixture(scope="module")
def riders(d: DaemonProcess) -> bikes.Trained:
    assert d.client is not None
    trained = bikes.train(rounds=10)  # trained on January to June
    d.client.promote("riders", bikes.log(d.client, trained, "riders"))
    return trained


def _rows() -> pl.DataFrame:
    """Five rows with an id the model does not use and two months it never saw."""
    rows = bikes.frame(5).select(bikes.FEATURES).with_row_index("ride_id")
    return rows.with_columns(mnth=pl.Series(["Jan", "Dec", "Feb", "Nov", "March"]))


def test_predict_reads_csv_and_parquet_and_says_what_it_could_not_use(
        d: DaemonProcess, riders: bikes.Trained, tmp_path: Path) -> None:
    rows = _rows()
    expected = riders.expected(rows.drop("ride_id")).tolist()
    rows.write_csv(tmp_path / "rows.csv")
    rows.write_parquet(tmp_path / "rows.parquet")
    (tmp_path / "rows.json").write_bytes(orjson.dumps({"rows": rows.to_dicts()}))
    for name in ("rows.csv", "rows.parquet", "rows.json"):
        result = run_mlops(d.home.root, "predict", "riders", str(tmp_path / name), "--json")
        assert result.returncode == 0, result.stderr
        assert orjson.loads(result.stdout)["predictions"] == expected, name
        assert result.stderr == NOTE_IGNORED + NOTE_UNSEEN, name
    table = run_mlops(d.home.root, "predict", "riders", str(tmp_path / "rows.csv"))
    assert table.returncode == 0 and "riders:1.0.0" in table.stdout
    assert table.stderr == NOTE_IGNORED + NOTE_UNSEEN
    # A CSV file without the suffix, told by --format; a clean one gets no note.
    clean = tmp_path / "clean.txt"
    rows.drop("ride_id").slice(0, 1).write_csv(clean)
    quiet = run_mlops(d.home.root, "predict", "riders", str(clean), "--format", "csv")
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr


def test_the_reply_the_log_and_the_metrics_count_them(d: DaemonProcess,
                                                      riders: bikes.Trained) -> None:
    assert d.client is not None
    before = d.client.serving().prediction_log.input_issues.get("riders", {})
    with httpx.Client(base_url=d.client.base_url) as http:
        reply = http.post("/v1/models/riders/predict", json={"rows": _rows().to_dicts()})
        assert reply.status_code == 200, reply.text
        assert reply.headers["x-ignored-columns"] == "ride_id"
        assert reply.headers["x-unseen-categories"] == "mnth=2"
        clean = http.post("/v1/models/riders/predict",
                          json={"rows": _rows().drop("ride_id").slice(0, 1).to_dicts()})
        assert "x-ignored-columns" not in clean.headers
        assert "x-unseen-categories" not in clean.headers
        after = d.client.serving().prediction_log.input_issues["riders"]
        assert after["ignored_columns"]["ride_id"] == before.get(
            "ignored_columns", {}).get("ride_id", 0) + 1
        assert after["unseen_categories"]["mnth"] == before.get(
            "unseen_categories", {}).get("mnth", 0) + 2
        samples = {(s.name, s.labels.get("model"), s.labels.get("column")): s.value
                   for family in text_string_to_metric_families(http.get("/metrics").text)
                   for s in family.samples}
    assert samples[("mlops_predict_unseen_categories_total", "riders", "mnth")] == after[
        "unseen_categories"]["mnth"]
    assert samples[("mlops_predict_ignored_columns_total", "riders", "ride_id")] == after[
        "ignored_columns"]["ride_id"]
    serving = run_mlops(d.home.root, "serving")
    assert serving.returncode == 0
    assert "unseen category (rows)" in serving.stdout and "mnth" in serving.stdout


def test_parquet_predictions_equal_booster_predict_on_many_rows(
        d: DaemonProcess, riders: bikes.Trained, tmp_path: Path) -> None:
    rows = bikes.frame(1000).select(bikes.FEATURES)
    rows.write_parquet(tmp_path / "many.parquet")
    result = run_mlops(d.home.root, "predict", "riders", str(tmp_path / "many.parquet"),
                       "--json")
    assert result.returncode == 0, result.stderr
    got = np.array(orjson.loads(result.stdout)["predictions"])
    assert np.array_equal(got, riders.expected(rows))
    assert result.stderr == ""


def test_data_show_latest(d: DaemonProcess, tmp_path: Path) -> None:
    for n, part in enumerate((bikes.frame(100), bikes.frame(300).slice(100)), start=1):
        path = tmp_path / f"part-{n}.csv"
        part.write_csv(path)
        ingest = run_mlops(d.home.root, "data", "ingest", str(path), "--dataset", "bikes",
                           "--wait")
        assert ingest.returncode == 0 and f"accepted: bikes@{n}" in ingest.stdout, (
            ingest.stdout, ingest.stderr)
    latest = run_mlops(d.home.root, "data", "show", "bikes@latest", "--json")
    assert latest.returncode == 0, latest.stderr
    shown = orjson.loads(latest.stdout)
    assert (shown["version"], shown["n_rows"]) == (2, 200)
    by_number = run_mlops(d.home.root, "data", "show", "bikes@2", "--json")
    assert orjson.loads(by_number.stdout) == shown
