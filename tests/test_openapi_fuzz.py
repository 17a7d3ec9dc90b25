"""The OpenAPI document, fuzzed against a real daemon: schemathesis generates requests for
every operation (valid and invalid, with the token) and checks that none is a server error,
every status is documented and every 405 names the allowed methods.

A short run here; `scripts/fuzz-api [SECONDS]` runs a long one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests import bikes
from tests.configs import bikes_config
from tests.daemon_process import DaemonProcess

ROOT = Path(__file__).resolve().parents[1]
CHECKS = "not_a_server_error,status_code_conformance,allow_header_conformance"
CONFIG = bikes_config(rounds=10)


def fuzz(d: DaemonProcess, *, max_examples: int, max_time_s: int, report: Path
         ) -> subprocess.CompletedProcess[str]:
    """schemathesis against the daemon; the JUnit report lists every failure."""
    assert d.client is not None
    return subprocess.run(
        [str(Path(sys.executable).parent / "schemathesis"), "run",
         f"{d.client.base_url}/openapi.json",
         "-H", f"Authorization: Bearer {d.home.read_token()}",
         "--checks", CHECKS, "--max-examples", str(max_examples),
         "--max-time", str(max_time_s), "--seed", "11", "--workers", "1",
         "--generation-database", "none", "--no-color",
         # the event stream answers for as long as a client listens, and a drill makes
         # predictions slow or fail on purpose (both tested on their own)
         "--exclude-path", "/api/v1/events",
         "--exclude-path", "/api/v1/models/{name}/drill",
         "--report", "junit", "--report-junit-path", str(report)],
        # One worker: two generating threads once tripped CPython 3.11's AST recursion check
        # inside hypothesis ("AST constructor recursion depth mismatch"), a fuzzer's error.
        capture_output=True, text=True, timeout=max_time_s + 300, cwd=report.parent,
        env={**os.environ, "SCHEMATHESIS_HOOKS": "tests.schemathesis_hooks",
             "PYTHONPATH": str(ROOT)})


def test_no_server_error_and_no_undocumented_status(tmp_path: Path) -> None:
    d = DaemonProcess(tmp_path / "home", config=CONFIG).start()
    try:
        assert d.client is not None
        trained = bikes.train()
        d.client.promote("riders", bikes.log(d.client, trained, "riders"))
        # scripts/fuzz-api sets a longer run; the default run is a short pass (under a minute)
        run = fuzz(d, max_examples=int(os.environ.get("MLOPS_FUZZ_EXAMPLES", "4")),
                   max_time_s=int(os.environ.get("MLOPS_FUZZ_SECONDS", "20")),
                   report=tmp_path / "junit.xml")
        assert d.proc is not None and d.proc.poll() is None, "the daemon died"
        found = run.stdout[run.stdout.find("ERRORS"):] if "ERRORS" in run.stdout else (
            run.stdout[run.stdout.find("FAILURES"):])
        assert run.returncode == 0, found[:8000] + run.stderr[-2000:]
        print(run.stdout[run.stdout.rfind("Test cases:"):])  # shown by scripts/fuzz-api
    finally:
        d.stop()
    log = (d.home.logs / "daemon.log").read_text()
    assert "unhandled error" not in log and "Traceback" not in log, log[-3000:]
