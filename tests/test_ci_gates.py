"""CI gates (issue 15, part 2) on a real daemon with real training: `mlops check data` and
`mlops check model` exit 0 / 1 / 2, print their table and write JUnit XML (parsed here,
counts checked) and Markdown; the checks store, move and deploy nothing. The example
CI script and the reports' parts: tests/test_ci_gate_parts.py."""

from __future__ import annotations

import os
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from mlopsd.client import Client
from tests.daemon_process import BIN, DaemonProcess, run_mlops, wait_until
from tests.test_drift_daemon import _drop
from tests.test_ingest_daemon import EXAMPLE

ROOT = Path(__file__).resolve().parents[1]
CI = ROOT / "examples" / "ci"

MODEL = """
[[model]]
name = "{name}"
data = "bikes@all"
target = "bikers"
exclude = ["casual", "registered"]
rounds = 30
early_stopping = 10
"""
CONFIG = """\
[daemon]
workers = 2            # two long jobs keep a check queued (a kill while it waits)

[ingest]
settle_s = 0.2

[[dataset]]
name = "bikes"
target = "bikers"

[dataset.columns.temp]
min = 0.0
max = 1.0

[dataset.columns.weathersit]
allowed = ["clear", "cloudy/misty", "light rain/snow", "heavy rain/snow"]
""" + MODEL.format(name="riders") + MODEL.format(name="floored") + """
[model.retrain.gates]
maximum = 1.0          # an rmse no model of riders reaches: the floor fails
"""


@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    return pl.read_csv(EXAMPLE)


@pytest.fixture(scope="module")
def d(tmp_path_factory: pytest.TempPathFactory, frame: pl.DataFrame
      ) -> Iterator[DaemonProcess]:
    """Both models: 1.0.0 trained on January and February (bikes@1) in production, 1.1.0
    trained on the whole year (bikes@1 and @2) registered beside it."""
    daemon = DaemonProcess(tmp_path_factory.mktemp("gates") / "home", config=CONFIG).start()
    client = daemon.client
    assert client is not None

    def train(model: str, version: str) -> None:
        job = client.wait_job(client.train(model).id, timeout=300)
        assert job.state == "succeeded", job.error
        assert job.result["version"] == version

    try:
        _drop(daemon, frame.head(1400), "first.csv", 1)
        for model in ("riders", "floored"):
            train(model, "1.0.0")
            client.promote(model, "1.0.0")
        _drop(daemon, frame.slice(1400), "rest.csv", 2)
        for model in ("riders", "floored"):
            train(model, "1.1.0")
        # The drift checks bikes@2 queued for both production versions end before the
        # tests compare what the daemon holds before and after a check.
        wait_until(lambda: not any(client.list_jobs(state=state, limit=1)
                                   for state in ("queued", "running")),
                   timeout=120, what="the daemon's own jobs to end")
        yield daemon
    finally:
        daemon.kill()


def _mlops(d: DaemonProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return run_mlops(d.home.root, *args, timeout=300)


def read_junit(path: Path) -> tuple[ET.Element, dict[str, ET.Element]]:
    """The testsuite and its testcases by name (the XML is parsed: it must be well formed)."""
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 1
    cases = {case.get("name", ""): case for case in suites[0].findall("testcase")}
    assert int(suites[0].get("tests", "-1")) == len(cases) == int(root.get("tests", "-2"))
    return suites[0], cases


def junit_counts(suite: ET.Element) -> dict[str, int]:
    return {key: int(suite.get(key, "-1")) for key in ("failures", "errors", "skipped")}


def _state(client: Client, d: DaemonProcess) -> dict[str, object]:
    """What a check must leave as it was."""
    return {
        "versions": [v.version for v in client.list_versions("bikes")],
        "ingests": [i.id for i in client.list_ingests()],
        "quarantine": [q.id for q in client.quarantine()],
        "quarantine files": sorted(p.name for p in d.home.quarantine.rglob("*")),
        "inbox": sorted(p.name for p in (d.home.inbox / "bikes").iterdir()),
        "alerts": [(a.rule, a.count) for a in client.alerts()],
        "models": {m: (client.get_model(m).aliases, [v.version for v in
                                                      client.model_versions(m)])
                   for m in ("riders", "floored")},
        "deployments": [x.id for m in ("riders", "floored") for x in client.deployments(m)],
        "pipelines": [p.id for p in client.pipelines()],
    }


def _checks_folder_empty(d: DaemonProcess) -> bool:
    folder = d.home.run / "checks"
    return not folder.exists() or not any(folder.iterdir())


def test_a_good_file_passes_and_nothing_is_stored_or_moved(
        d: DaemonProcess, frame: pl.DataFrame, tmp_path: Path) -> None:
    client = d.client
    assert client is not None
    good = tmp_path / "december.csv"
    frame.filter(pl.col("mnth") == "Dec").write_csv(good)
    content = good.read_bytes()
    before = _state(client, d)
    junit, summary = tmp_path / "data.xml", tmp_path / "data.md"

    done = _mlops(d, "check", "data", str(good), "--dataset", "bikes", "--junit", str(junit),
                  "--summary", str(summary))

    assert done.returncode == 0, done.stdout + done.stderr
    assert "verdict: PASS" in done.stdout
    suite, cases = read_junit(junit)
    assert junit_counts(suite) == {"failures": 0, "errors": 0, "skipped": 0}
    # the contract's rules and the learned ones, each a testcase
    for name in ("read", "schema", "target bikers", "out_of_range temp", "allowed weathersit",
                 "unseen_categories weathersit", "duplicates"):
        assert name in cases, sorted(cases)
    text = summary.read_text()
    assert text.startswith("### mlops check data bikes (december.csv)")
    assert "**✅ PASS**" in text and "| ✅ passed | allowed | weathersit |" in text

    assert good.read_bytes() == content  # neither moved nor changed
    wait_until(lambda: _checks_folder_empty(d), timeout=10, what="the upload removed")
    assert _state(client, d) == before
    job = client.list_jobs(kind="check_data", limit=1)[0]
    assert job.state == "succeeded" and job.result["verdict"] == "pass"


def test_a_file_breaking_the_contract_fails_naming_the_column_and_the_rule(
        d: DaemonProcess, frame: pl.DataFrame, tmp_path: Path) -> None:
    client = d.client
    assert client is not None
    bad = tmp_path / "broken.csv"
    rows = frame.slice(3000, 500).with_row_index("i").with_columns(
        pl.when(pl.col("i") < 20).then(1.5).otherwise(pl.col("temp")).alias("temp"),
        pl.when(pl.col("i") == 7).then(pl.lit("sunny")).otherwise(pl.col("weathersit"))
        .alias("weathersit")).drop("i")
    rows.write_csv(bad)
    before = _state(client, d)
    junit, summary = tmp_path / "broken.xml", tmp_path / "broken.md"

    done = _mlops(d, "check", "data", str(bad), "--dataset", "bikes", "--junit", str(junit),
                  "--summary", str(summary))

    assert done.returncode == 1, done.stdout + done.stderr
    assert "verdict: FAIL" in done.stdout
    assert ("failed: out_of_range temp: column 'temp' has 20 values (4.0%) outside the "
            "declared range [0, 1]") in done.stdout
    assert "failed: allowed weathersit: column 'weathersit' has 1 values not in its " \
           "allowed list" in done.stdout and "row 8 'sunny'" in done.stdout
    suite, cases = read_junit(junit)
    assert junit_counts(suite) == {"failures": 2, "errors": 0, "skipped": 0}
    failure = cases["out_of_range temp"].find("failure")
    assert failure is not None and "declared range [0, 1]" in failure.get("message", "")
    assert cases["allowed weathersit"].find("failure") is not None
    assert cases["schema"].find("failure") is None
    text = summary.read_text()
    assert "**❌ FAIL** — " in text
    assert "| ❌ failed | out_of_range | temp | within the declared range [0, 1]" in text
    # failures come first in the Markdown table
    assert text.index("❌ failed") < text.index("✅ passed")
    wait_until(lambda: _checks_folder_empty(d), timeout=10, what="the upload removed")
    assert _state(client, d) == before  # not quarantined, no alert, no version


def test_learned_rules_warn_and_fail_only_when_strict(
        d: DaemonProcess, frame: pl.DataFrame, tmp_path: Path) -> None:
    busy = tmp_path / "busy.csv"
    frame.slice(5000, 300).with_columns((pl.col("bikers") * 5).alias("bikers")).write_csv(busy)
    junit = tmp_path / "busy.xml"

    lenient = _mlops(d, "check", "data", str(busy), "--dataset", "bikes")
    strict = _mlops(d, "check", "data", str(busy), "--dataset", "bikes", "--strict",
                    "--junit", str(junit))

    assert lenient.returncode == 0, lenient.stdout + lenient.stderr
    assert "warning: out_of_range bikers:" in lenient.stdout
    assert "range learned from the reference data" in lenient.stdout
    assert strict.returncode == 1, strict.stdout + strict.stderr
    assert "verdict: FAIL (strict: warnings fail)" in strict.stdout
    suite, cases = read_junit(junit)
    assert junit_counts(suite)["failures"] >= 1
    assert cases["out_of_range bikers"].find("failure") is not None


def test_a_check_that_cannot_be_made_exits_2_saying_what_and_where(
        d: DaemonProcess, frame: pl.DataFrame, tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    frame.head(50).write_csv(good)
    missing = _mlops(d, "check", "data", str(tmp_path / "nothere.csv"), "--dataset", "bikes")
    assert missing.returncode == 2
    assert f"{tmp_path / 'nothere.csv'}: no such file" in missing.stderr

    junit = tmp_path / "unknown.xml"
    unknown = _mlops(d, "check", "data", str(good), "--dataset", "bikez", "--junit",
                     str(junit))
    assert unknown.returncode == 2
    assert "no dataset named 'bikez' (known: bikes)" in unknown.stderr
    suite, cases = read_junit(junit)
    assert junit_counts(suite) == {"failures": 0, "errors": 1, "skipped": 0}
    assert "bikez" in cases["check"].find("error").get("message", "")  # type: ignore[union-attr]

    garbage = tmp_path / "garbage.csv"
    garbage.write_bytes(b"season,mnth\n1,Jan\n\x00\x01\x02")
    unreadable = _mlops(d, "check", "data", str(garbage), "--dataset", "bikes")
    assert unreadable.returncode == 2
    assert "error: read: the file is not text: it has a NUL byte at byte offset" in \
        unreadable.stdout

    nobody = tmp_path / "nobody"
    run_mlops(nobody, "init")
    down = run_mlops(nobody, "check", "data", str(good), "--dataset", "bikes")
    assert down.returncode == 2 and "no daemon is running" in down.stderr

    viewer = _mlops(d, "tokens", "create", "vic", "--role", "viewer")
    secret = viewer.stdout.splitlines()[1].strip()
    refused = subprocess.run(
        [str(BIN / "mlops"), "--home", str(d.home.root), "check", "model", "riders:1.1.0"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "MLOPS_TOKEN": secret})
    assert refused.returncode == 2 and "needs an operator's token" in refused.stderr


def test_a_better_version_passes_the_model_gates_and_nothing_moves(
        d: DaemonProcess, tmp_path: Path) -> None:
    client = d.client
    assert client is not None
    before = _state(client, d)
    junit, summary = tmp_path / "model.xml", tmp_path / "model.md"

    done = _mlops(d, "check", "model", "riders:1.1.0", "--against", "production", "--junit",
                  str(junit), "--summary", str(summary))

    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("mlops check model riders:1.1.0 against production (1.0.0)")
    assert "verdict: PASS" in done.stdout
    assert "p95 of single-row predictions <= 200 ms ([monitoring] latency_p95_ms)" in \
        done.stdout
    suite, cases = read_junit(junit)
    assert sorted(cases) == ["floor rmse", "latency single row", "signature inputs",
                             "significance rmse"]
    # no floor is set for riders: said, not passed
    assert junit_counts(suite) == {"failures": 0, "errors": 0, "skipped": 1}
    assert cases["floor rmse"].find("skipped") is not None
    text = summary.read_text()
    assert text.startswith("### mlops check model riders:1.1.0 against production (1.0.0)")
    assert "**✅ PASS**" in text and "| ✅ passed | significance | rmse |" in text
    assert "compatible: the same 12 inputs as 1.0.0" in text
    assert _state(client, d) == before  # no alias moved, no deployment, no pipeline
    job = client.list_jobs(kind="gate_model", limit=1)[0]
    report = client.check_report(job)
    comparison = report.comparison or {}
    assert comparison["holdout_matches_training"] is True
    assert comparison["ci"][0] > 0  # the candidate is better on the same rows
    assert report.latency is not None and report.latency["rows"] == 200


def test_a_version_under_its_metric_floor_fails(d: DaemonProcess, tmp_path: Path) -> None:
    junit, summary = tmp_path / "floor.xml", tmp_path / "floor.md"

    done = _mlops(d, "check", "model", "floored:1.1.0", "--against", "production", "--junit",
                  str(junit), "--summary", str(summary), "--max-latency-ms", "1000")

    assert done.returncode == 1, done.stdout + done.stderr
    assert "verdict: FAIL" in done.stdout
    assert "failed: floor rmse: rmse" in done.stdout and "<= 1: not reached" in done.stdout
    assert "<= 1000 ms (asked for (--max-latency-ms))" in done.stdout
    suite, cases = read_junit(junit)
    assert junit_counts(suite) == {"failures": 1, "errors": 0, "skipped": 0}
    failure = cases["floor rmse"].find("failure")
    assert failure is not None and "[model.retrain.gates] maximum" in failure.get("message", "")
    assert cases["significance rmse"].find("failure") is None
    text = summary.read_text()
    assert "**❌ FAIL** — 3 passed, 1 failed" in text
    assert "| ❌ failed | floor | rmse | rmse <= 1 on its holdout" in text


def test_a_model_check_that_cannot_be_made_exits_2(d: DaemonProcess, tmp_path: Path) -> None:
    cases = [
        (("riders:9.9.9",), "model 'riders' has no version '9.9.9'"),
        (("ridres:1.0.0",), "no model named 'ridres' (known: floored, riders)"),
        (("riders",), "expected NAME:VERSION"),
        (("riders:1.1.0", "--against", "staging"),
         "riders has no alias or version 'staging' (aliases: production=1.0.0)"),
    ]
    for args, said in cases:
        junit = tmp_path / "error.xml"
        done = _mlops(d, "check", "model", *args, "--junit", str(junit))
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert said in done.stderr, (args, done.stderr)
        suite, _ = read_junit(junit)
        assert junit_counts(suite)["errors"] == 1


def _keep_the_workers_busy(client: Client) -> None:
    """Both workers (`[daemon] workers = 2`) on a long job: what is submitted next waits."""
    busy = [client.submit_job("selfcheck", {"seconds": 600}) for _ in range(2)]
    wait_until(lambda: all(client.get_job(j.id).state == "running" for j in busy),
               what="both workers to be busy")


def _free_the_workers(client: Client) -> None:
    for job in client.list_jobs(kind="selfcheck", limit=20):
        if job.state in ("queued", "running"):
            client.cancel_job(job.id, "only there to keep the workers busy")


def test_a_data_check_cancelled_while_queued_leaves_no_upload(
        d: DaemonProcess, frame: pl.DataFrame, tmp_path: Path) -> None:
    client = d.client
    assert client is not None
    good = tmp_path / "december.csv"
    frame.filter(pl.col("mnth") == "Dec").write_csv(good)
    _keep_the_workers_busy(client)
    try:
        check = client.check_data("bikes", good)
        assert client.get_job(check.id).state == "queued"
        assert not _checks_folder_empty(d), "the upload waits with its job"

        assert client.cancel_job(check.id, "not needed").state == "cancelled"

        assert _checks_folder_empty(d), "the cancelled check's upload was left behind"
    finally:
        _free_the_workers(client)


def test_a_model_check_queued_at_a_kill_judges_what_was_asked_after_the_restart(
        d: DaemonProcess) -> None:
    """kill -9 while the gate's job waits for a worker: the job runs after the restart and
    its report keeps the bound and the `against` asked for, not the config's."""
    client = d.client
    assert client is not None
    _keep_the_workers_busy(client)
    gate = client.check_model("riders", "1.1.0", against="production", max_latency_ms=60_000)
    assert client.get_job(gate.id).state == "queued"

    d.kill()
    d.start()
    client = d.client
    assert client is not None
    _free_the_workers(client)
    done = client.wait_job(gate.id, timeout=300)

    assert done.state == "succeeded", done.error
    report = client.check_report(done)
    assert report.against == "production (1.0.0)"
    latency = next(c for c in report.checks if c.name == "latency")
    assert latency.rule == ("p95 of single-row predictions <= 60000 ms "
                            "(asked for (--max-latency-ms))")
    signature = next(c for c in report.checks if c.name == "signature")
    assert signature.rule.endswith("as production (1.0.0)")
