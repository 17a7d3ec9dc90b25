"""CI gates (issue 15, part 2) on a real daemon with real training: `mlops check data` and
`mlops check model` exit 0 / 1 / 2, print their table and write JUnit XML (parsed here,
counts checked) and Markdown; the checks store, move and deploy nothing. And
examples/ci/gate.sh, the script the GitHub Actions and GitLab CI examples run, run as they
run it on a temp home."""

from __future__ import annotations

import os
import signal
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import orjson
import polars as pl
import pytest
import yaml

from mlopsd.cli.check_reports import junit_xml
from mlopsd.client import Client
from mlopsd.client.wire import CheckItem, CheckReport
from mlopsd.retraining import signatures
from tests.daemon_process import BIN, DaemonProcess, pid_alive, run_mlops, wait_until
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


def _junit(path: Path) -> tuple[ET.Element, dict[str, ET.Element]]:
    """The testsuite and its testcases by name (the XML is parsed: it must be well formed)."""
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 1
    cases = {case.get("name", ""): case for case in suites[0].findall("testcase")}
    assert int(suites[0].get("tests", "-1")) == len(cases) == int(root.get("tests", "-2"))
    return suites[0], cases


def _counts(suite: ET.Element) -> dict[str, int]:
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
    suite, cases = _junit(junit)
    assert _counts(suite) == {"failures": 0, "errors": 0, "skipped": 0}
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
    suite, cases = _junit(junit)
    assert _counts(suite) == {"failures": 2, "errors": 0, "skipped": 0}
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
    suite, cases = _junit(junit)
    assert _counts(suite)["failures"] >= 1
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
    suite, cases = _junit(junit)
    assert _counts(suite) == {"failures": 0, "errors": 1, "skipped": 0}
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
    suite, cases = _junit(junit)
    assert sorted(cases) == ["floor rmse", "latency single row", "signature inputs",
                             "significance rmse"]
    # no floor is set for riders: said, not passed
    assert _counts(suite) == {"failures": 0, "errors": 0, "skipped": 1}
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
    suite, cases = _junit(junit)
    assert _counts(suite) == {"failures": 1, "errors": 0, "skipped": 0}
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
        suite, _ = _junit(junit)
        assert _counts(suite)["errors"] == 1


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


def test_junit_stays_xml_when_a_message_quotes_control_characters() -> None:
    """A value quoted from the file (here a terminal colour code, ESC, in a category) was
    written into the XML as it was: XML 1.0 cannot hold it, and a CI's reader refused the
    whole report."""
    found = "column 'weathersit' has 1 values not in its allowed list: row 3 '\x1b[31mred\x01'"
    report = CheckReport(kind="data", subject="bikes", file="bad\x02.csv", verdict="fail",
                         summary="1 failed", checks=[CheckItem(
                             name="allowed", target="weathersit", status="failed",
                             level="error", rule="one of the allowed values", message=found)])
    root = ET.fromstring(junit_xml(report))
    failure = root.find("testsuite/testcase/failure")
    assert failure is not None
    assert "row 3 '\\x1b[31mred\\x01'" in failure.get("message", "")
    assert root.find("testsuite/properties/property[@name='file']").get("value") == \
        "bad\\x02.csv"  # type: ignore[union-attr]


# Slow (41-66 s: two trainings and both checks, as a CI runner runs them); the checks
# themselves are tested above in the default run.
@pytest.mark.slow
def test_the_ci_examples_run_the_gate_script_and_it_passes(tmp_path: Path) -> None:
    """The GitHub Actions and GitLab CI files are valid YAML and run examples/ci/gate.sh;
    the script, run as they run it (a daemon on a temp home, the repository's data, two
    trainings, both checks), exits 0, writes its reports and leaves no daemon behind."""
    github = yaml.safe_load((CI / "github-actions.yml").read_text())
    steps = github["jobs"]["gate"]["steps"]
    assert any("examples/ci/gate.sh" in step.get("run", "") for step in steps)
    uploads = [s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact")]
    assert uploads and uploads[0]["if"] == "always()"
    gitlab = yaml.safe_load((CI / "gitlab-ci.yml").read_text())
    job = gitlab["mlops-gate"]
    assert any("examples/ci/gate.sh" in line for line in job["script"])
    assert job["artifacts"]["when"] == "always"
    assert job["artifacts"]["reports"]["junit"] == "ci-reports/*.xml"

    # As a CI runner runs it: no home named (the script makes a temp one, under TMPDIR).
    scratch, reports = tmp_path / "tmp", tmp_path / "ci-reports"
    scratch.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("MLOPS_HOME", "MLOPS_TOKEN")}
    env.update(TMPDIR=str(scratch), PATH=f"{BIN}:{os.environ['PATH']}")
    with open(tmp_path / "gate.out", "wb") as out:
        gate = subprocess.Popen([str(CI / "gate.sh"), str(reports)], cwd=tmp_path, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            code = gate.wait(timeout=600)
        finally:
            if gate.poll() is None:
                os.killpg(gate.pid, signal.SIGKILL)
    text = (tmp_path / "gate.out").read_text()
    assert code == 0, text
    assert "gate: exit 0 (data 0, model 0)" in text
    data, data_cases = _junit(reports / "data.xml")
    assert _counts(data) == {"failures": 0, "errors": 0, "skipped": 0}
    assert "out_of_range temp" in data_cases and "allowed weathersit" in data_cases
    model, model_cases = _junit(reports / "model.xml")
    assert _counts(model) == {"failures": 0, "errors": 0, "skipped": 0}
    assert sorted(model_cases) == ["floor rmse", "latency single row", "signature inputs",
                                   "significance rmse"]
    assert "**✅ PASS**" in (reports / "data.md").read_text()
    assert "**✅ PASS**" in (reports / "model.md").read_text()
    # the daemon it started (named by its log) is stopped, and its temp home removed
    first = (reports / "daemon.log").read_text().splitlines()[0]
    assert not pid_alive(orjson.loads(first)["pid"])
    assert list(scratch.iterdir()) == []


def test_a_signature_difference_names_the_version_it_was_checked_against() -> None:
    """`--against staging` said "production's callers" all the same."""
    candidate = {"task": "regression", "inputs": [{"name": "temp", "dtype": "float64"}]}
    staging = {"task": "regression", "inputs": [{"name": "temp", "dtype": "int64"},
                                                {"name": "hr", "dtype": "int64"}]}
    found = signatures.differences(candidate, staging, against="staging (1.1.0)")
    assert found == ["input 'hr' (int64) is not taken any more: staging (1.1.0)'s callers "
                     "send it, the candidate ignores it",
                     "input 'temp' is float64 (staging (1.1.0): int64)"]
    assert signatures.differences(candidate, candidate) == []
