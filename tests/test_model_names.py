"""A misspelled model name gets one message from every command and every endpoint: "no model
named 'ridres' (known: …)", HTTP 404 with code unknown_model, exit code 2 — never "no
report yet", never a service's own wording."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mlopsd.cli.main import build_parser
from tests import bikes
from tests.daemon_process import DaemonProcess, run_mlops, wait_until

CONFIG = """\
[[dataset]]
name = "bikes"
target = "bikers"

[[model]]
name = "churn"          # declared, never trained: known all the same
data = "bikes@all"
target = "bikers"
"""
TYPO = "ridres"
MESSAGE = f"no model named '{TYPO}' (known: churn, riders)"


@pytest.fixture(scope="module")
def d(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    daemon = DaemonProcess(tmp_path_factory.mktemp("names") / "home", config=CONFIG).start()
    assert daemon.client is not None
    daemon.client.promote("riders", bikes.log(daemon.client, bikes.train(rounds=5), "riders"))
    yield daemon
    assert daemon.stop() == 0


def _leaves(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
            ) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    subcommands = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subcommands:
        yield path, parser
    for action in subcommands:
        for name, child in action.choices.items():
            yield from _leaves(child, (*path, name))


def _commands_naming_a_model(files: dict[str, Path]) -> list[list[str]]:
    """Every command of `mlops` that takes a model name, found in its own parser (a new
    command that takes one is looped over without editing this test), with the model
    misspelled and the other arguments filled in."""
    commands = []
    for path, parser in _leaves(build_parser()):
        positionals = [a for a in parser._actions if not a.option_strings]
        takes_model = any(a.dest in ("model", "name") or a.metavar == "MODEL:VERSION"
                          for a in positionals)
        filter_option = any("--model" in a.option_strings for a in parser._actions)
        if not (takes_model or filter_option):
            continue
        argv = list(path)
        for action in positionals:
            if action.dest in ("model", "name"):
                argv.append(TYPO)
            elif action.metavar == "MODEL:VERSION":
                argv.append(f"{TYPO}:1.0.0")
            elif action.dest == "version":
                argv.append("1.0.0")
            elif action.dest in files:
                argv.append(str(files[action.dest]))
            elif action.nargs == "?":
                continue
            else:
                raise AssertionError(f"mlops {' '.join(path)}: what to give {action.dest}?")
        if not takes_model:
            argv += ["--model", TYPO]
        commands.append(argv)
    return commands


def test_every_command_says_the_same_for_a_misspelled_model(d: DaemonProcess,
                                                             tmp_path: Path) -> None:
    rows = tmp_path / "rows.json"
    rows.write_text('{"rows": [{"temp": 0.3}]}')
    data = tmp_path / "march.csv"
    data.write_text("temp\n0.3\n")
    commands = _commands_naming_a_model({"rows": rows, "file": data})
    # Each way into the commands that take options instead of a version.
    commands += [["deploy", TYPO, "1.0.0", "--canary", "10"], ["deploy", TYPO, "--promote"],
                 ["deploy", TYPO, "--abort"], ["deploy", TYPO, "1.0.0", "--shadow"],
                 ["drift", TYPO, "--now"], ["drift", TYPO, "--window", "1h"],
                 ["drift", TYPO, "--against", "bikes@1"], ["retrain", TYPO, "--dry-run"],
                 ["predict", TYPO, str(rows), "--alias", "staging"],
                 ["predict", TYPO, str(rows), "--version", "1.0.0"]]
    names = {c[0] if c[0] not in ("models", "runs") else " ".join(c[:2]) for c in commands}
    assert {"train", "reproduce", "models show", "promote", "rollback", "predict", "score",
            "deploy", "drill", "drift", "deployments", "predictions", "retrain", "pipelines",
            "runs list"} <= names, names
    for argv in commands:
        result = run_mlops(d.home.root, *argv)
        assert (result.returncode, result.stdout, result.stderr) == (
            2, "", f"mlops: {MESSAGE}\n"), f"mlops {' '.join(argv)}"


def test_every_endpoint_says_the_same_for_a_misspelled_model(d: DaemonProcess) -> None:
    """Every route of the OpenAPI document that names a model in its path or filters by
    one, and the prediction endpoints (which FastAPI does not route)."""
    assert d.client is not None
    with httpx.Client(base_url=d.client.base_url,
                      headers={"authorization": f"Bearer {d.home.read_token()}"}) as http:
        calls = []
        for path, methods in http.get("/openapi.json").json()["paths"].items():
            for method, operation in methods.items():
                params = {p["name"] for p in operation.get("parameters", [])}
                if path.startswith("/api/v1/models/{name}"):
                    calls.append((method, path.format(name=TYPO, version="1.0.0",
                                                      alias="production"), {}))
                elif "model" in params:
                    calls.append((method, path, {"model": TYPO}))
        assert len(calls) >= 20, calls
        calls += [("get", f"/v1/models/{TYPO}", {}),
                  ("post", f"/v1/models/{TYPO}/predict", {}),
                  ("post", f"/v1/models/{TYPO}@staging/predict", {}),
                  ("post", f"/v1/models/{TYPO}/versions/1.0.0/predict", {}),
                  ("post", f"/v1/models/{TYPO}/predict/stream", {}),
                  ("post", f"/v1/models/{TYPO}/feedback", {})]
        for method, path, params in calls:
            body = [{"request_id": "r", "label": 1}] if path.endswith("feedback") else {
                "rows": [{"temp": 0.3}]}
            reply = http.request(method, path, params=params,
                                 json=body if method == "post" else None)
            assert reply.status_code == 404, (method, path, reply.text)
            error = reply.json()["error"]
            assert (error["code"], error["message"]) == ("unknown_model", MESSAGE), (
                method, path)
        # The right name still gets its own answers.
        assert http.get("/api/v1/models/riders").status_code == 200
        assert http.get("/api/v1/drift", params={"model": "churn"}).json() == {
            "items": [], "next": None}


def test_a_declared_model_without_versions_is_told_so(d: DaemonProcess) -> None:
    shown = run_mlops(d.home.root, "models", "show", "churn")
    assert shown.returncode == 1
    assert shown.stderr == "mlops: model 'churn' has no registered version yet\n"
    drift = run_mlops(d.home.root, "drift", "churn")
    assert drift.returncode == 0 and "no drift report for churn yet" in drift.stdout


def test_a_file_dropped_for_a_misspelled_model_is_kept_with_the_same_reason(
        d: DaemonProcess) -> None:
    folder = d.home.score / TYPO
    folder.mkdir(parents=True)
    (folder / ".march.csv.part").write_text("temp\n0.3\n")
    (folder / ".march.csv.part").rename(folder / "march.csv")
    reason = wait_until(lambda: next(iter((folder / ".quarantine").glob("*.reason.json")),
                                     None), what="the quarantined drop")
    assert MESSAGE in reason.read_text()
