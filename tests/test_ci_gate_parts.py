"""The CI gates' parts that need no daemon of the module's: JUnit XML a CI's reader takes,
the signature check's words, and examples/ci/gate.sh, the script the GitHub Actions and
GitLab CI examples run, run as they run it on a temp home (slow: it trains twice)."""

from __future__ import annotations

import os
import signal
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import orjson
import pytest
import yaml

from mlopsd.cli.check_reports import junit_xml
from mlopsd.client.wire import CheckItem, CheckReport
from mlopsd.retraining import signatures
from tests.daemon_process import BIN, pid_alive
from tests.test_ci_gates import junit_counts, read_junit

CI = Path(__file__).resolve().parents[1] / "examples" / "ci"


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
    data, data_cases = read_junit(reports / "data.xml")
    assert junit_counts(data) == {"failures": 0, "errors": 0, "skipped": 0}
    assert "out_of_range temp" in data_cases and "allowed weathersit" in data_cases
    model, model_cases = read_junit(reports / "model.xml")
    assert junit_counts(model) == {"failures": 0, "errors": 0, "skipped": 0}
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
