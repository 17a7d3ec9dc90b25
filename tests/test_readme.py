"""The README as a newcomer reads it: every `mlops` command it shows is one the CLI takes,
every command of the CLI is shown, and every endpoint the daemon serves is listed."""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mlopsd.cli.main import build_parser
from tests.daemon_process import DaemonProcess

README = Path(__file__).resolve().parents[1] / "README.md"
PLACEHOLDERS = {"ID": "1", "RUN": "0123abcd", "FILE": "x.csv", "VERSION": "1.0.0"}
"""Words in capitals that the README says stand for what a listing shows."""


def _mlops_lines() -> list[str]:
    text = README.read_text()
    blocks = re.findall(r"```sh\n(.*?)```", text, flags=re.S)
    lines = []
    for block in blocks:
        for line in block.splitlines():
            if line.startswith("mlops ") or line == "mlops":
                lines.append(line)
    return lines


def _argv(line: str) -> list[str]:
    return [PLACEHOLDERS.get(word, word) for word in shlex.split(line, comments=True)[1:]]


def test_every_mlops_command_in_the_readme_parses() -> None:
    lines = _mlops_lines()
    assert len(lines) > 60
    refused = []
    for line in lines:
        argv = _argv(line)
        if argv == ["--version"]:
            continue
        err = io.StringIO()
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                build_parser().parse_args(argv)
        except SystemExit as exc:
            if exc.code != 0:  # --help exits 0
                refused.append(f"{line}: {err.getvalue().strip()}")
    assert refused == []


def _leaf_commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
                   ) -> Iterator[tuple[str, ...]]:
    subcommands = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subcommands:
        yield path
    for action in subcommands:
        for name, child in action.choices.items():
            yield from _leaf_commands(child, (*path, name))


def test_every_command_of_the_cli_is_shown() -> None:
    shown = {tuple(_argv(line)) for line in _mlops_lines()}
    missing = [" ".join(path) for path in _leaf_commands(build_parser())
               if not any(argv[:len(path)] == path for argv in shown)]
    assert missing == []
    for needed in (("drift", "riders", "--now"), ("models", "archive"), ("reject",)):
        assert any(argv[:len(needed)] == needed for argv in shown), needed


@pytest.fixture(scope="module")
def d(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    daemon = DaemonProcess(tmp_path_factory.mktemp("readme") / "home").start()
    yield daemon
    assert daemon.stop() == 0


def test_every_endpoint_is_listed(d: DaemonProcess) -> None:
    assert d.client is not None
    paths = httpx.get(f"{d.client.base_url}/openapi.json").json()["paths"]
    text = README.read_text()
    missing = [path for path in paths if f"`{path.removeprefix('/api/v1')}`" not in text
               and not re.search(rf"`[A-Z]+ {re.escape(path.removeprefix('/api/v1'))}`", text)]
    assert len(paths) > 50
    assert missing == []
    for prediction in ("/v1/models/{name}/predict", "/v1/models/{name}/predict/stream",
                       "/v1/models/{name}/feedback"):
        assert prediction in text
