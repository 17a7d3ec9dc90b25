"""What trips a new user of `mlops`, run as they run it: a file that is not there, a folder
that is not there, a misspelled command, looking for the version or for what an option
does. Each gets one line on stderr and exit code 2, never a traceback."""

from __future__ import annotations

import argparse
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlopsd import __version__
from mlopsd.cli.main import build_parser
from tests.daemon_process import BIN, DaemonProcess, run_mlops


@pytest.fixture(scope="module")
def d(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    daemon = DaemonProcess(tmp_path_factory.mktemp("usage") / "home").start()
    yield daemon
    assert daemon.stop() == 0


def _one_line_usage_error(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert result.stderr.count("\n") == 1, result.stderr
    return result.stderr


def test_a_missing_input_file_is_named_in_one_line(d: DaemonProcess, tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    for argv, what in ((["predict", "riders", str(missing)], "the rows file"),
                       (["score", "riders", str(missing)], "the file to score"),
                       (["data", "ingest", str(missing), "--dataset", "bikes"],
                        "the file to ingest")):
        error = _one_line_usage_error(run_mlops(d.home.root, *argv))
        assert error == f"mlops: {what} {missing}: no such file\n", argv
    folder = _one_line_usage_error(run_mlops(d.home.root, "predict", "riders", str(tmp_path)))
    assert folder == f"mlops: the rows file {tmp_path}: is a folder, not a file\n"


def test_an_output_into_a_missing_folder_is_refused_before_any_work(d: DaemonProcess,
                                                                     tmp_path: Path) -> None:
    out = tmp_path / "no-such-folder" / "summer.parquet"
    error = _one_line_usage_error(run_mlops(d.home.root, "data", "materialise", "bikes@all",
                                            "--out", str(out)))
    assert error == f"mlops: --out {out}: the folder {out.parent} does not exist\n"
    assert d.client is not None and d.client.list_jobs(kind="materialise") == [], (
        "nothing was queued for an output that cannot be written")
    page = tmp_path / "missing" / "drift.html"
    error = _one_line_usage_error(run_mlops(d.home.root, "drift", "riders", "--html",
                                            str(page)))
    assert error == f"mlops: --html {page}: the folder {page.parent} does not exist\n"


def test_a_misspelled_command_suggests_the_closest(tmp_path: Path) -> None:
    home = tmp_path / "home"
    for argv, expected in (
            (["stauts"], "mlops: unknown command 'stauts'; did you mean 'status'?"),
            (["data", "vesions", "bikes"],
             "mlops data: unknown command 'vesions'; did you mean 'versions'?"),
            (["pipelines", "shwo", "3"],
             "mlops pipelines: unknown choice 'shwo'; did you mean 'show'?"),
            (["modles"], "mlops: unknown command 'modles'; did you mean 'models'?")):
        error = _one_line_usage_error(run_mlops(home, *argv))
        assert error.startswith(expected), error
        assert "--help" in error


def test_other_usage_errors_are_one_line_too(d: DaemonProcess) -> None:
    home = d.home.root
    for argv, expected in (
            (["promote", "riders"],
             "mlops promote: the following arguments are required: version"),
            (["train", "riders", "--tag", "nokey"],
             "mlops train: argument --tag: expected KEY=VALUE, got 'nokey'"),
            (["reproduce", "riders"],
             "mlops: expected NAME:VERSION (e.g. riders:1.0.0), got 'riders'"),
            (["reproduce", "riders:1.0.0?x=1"],
             "mlops: expected NAME:VERSION (e.g. riders:1.0.0), got 'riders:1.0.0?x=1'"),
            (["export", "riders:../1.0.0", "--c", str(home / "out")],
             "mlops: expected NAME:VERSION (e.g. riders:1.0.0), got 'riders:../1.0.0'"),
            # Every call refuses a name that would change its request's path, whichever
            # command took it.
            (["models", "show", "riders?x=1"],
             "mlops: 'riders?x=1' cannot be a name or id: names hold no '?'"),
            (["data", "versions", ".."], "mlops: '..' cannot be a name or id"),
            (["models", "versions", "riders%2F"], "mlops: 'riders%2F' cannot be a name or id"),
            (["data", "show", "bikes"],
             "mlops: expected DATASET@N or DATASET@latest, got 'bikes'"),
            (["drift", "riders", "--window", "soon"],
             "mlops: --window 'soon' is not a duration"),
            (["pipelines", "show"], "mlops: pipelines show: give the pipeline's id"),
            (["runs", "show", "zzzz"], "mlops: no run id starts with 'zzzz'")):
        error = _one_line_usage_error(run_mlops(home, *argv))
        assert error.startswith(expected), (argv, error)


def test_version() -> None:
    result = subprocess.run([str(BIN / "mlops"), "--version"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0 and result.stdout == f"mlops {__version__}\n"


def _parsers(parser: argparse.ArgumentParser, prog: str = "mlops"
             ) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield prog, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _parsers(child, f"{prog} {name}")


def test_every_command_and_option_says_what_it_is_for() -> None:
    undocumented = []
    count = 0
    for prog, parser in _parsers(build_parser()):
        if not parser.description and prog != "mlops":
            undocumented.append(f"{prog} (no description)")
        for action in parser._actions:
            count += 1
            if not (action.help or "").strip() or action.help == argparse.SUPPRESS:
                undocumented.append(f"{prog} {'/'.join(action.option_strings) or action.dest}")
            if isinstance(action, argparse._SubParsersAction):
                helps = {a.dest: a.help for a in action._choices_actions}
                undocumented += [f"{prog} {name} (no help in the list)"
                                 for name in action.choices if not helps.get(name)]
    assert count > 150
    assert undocumented == []
