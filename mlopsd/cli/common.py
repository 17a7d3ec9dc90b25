"""What every `mlops` command module shares: the client for --home, adding a subcommand,
the parser that answers bad input in one line, and the checks of files named on the
command line."""

from __future__ import annotations

import argparse
import difflib
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from mlopsd.atomic import write_text_atomic
from mlopsd.client import Client
from mlopsd.client.wire import NAME

Handler = Callable[[argparse.Namespace], int]

USAGE_ERROR = 2
"""The exit code of a command given bad input (as argparse's own usage errors)."""


VERSION = re.compile(r"\d+\.\d+\.\d+")
"""How the registry numbers versions (MAJOR.MINOR.PATCH)."""


def name_and_version(text: str) -> tuple[str, str]:
    """NAME:VERSION as a model's name and one of its versions, checked before they go into
    a request's path."""
    name, _, version = text.partition(":")
    if not re.fullmatch(NAME, name) or not VERSION.fullmatch(version):
        raise UsageError(f"expected NAME:VERSION (e.g. riders:1.0.0), got {text!r}")
    return name, version


class UsageError(Exception):
    """Bad input on the command line: `mlops` prints it in one line and exits 2."""


class CommandParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line that says where to read more, and a
    misspelled command or choice names the closest one."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_ERROR, f"{self.prog}: {message} (see: {self.prog} --help)\n")

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        if action.choices is None or value in action.choices:
            return
        choices = [str(c) for c in action.choices]
        what = "command" if isinstance(action, argparse._SubParsersAction) else "choice"
        close = difflib.get_close_matches(str(value), choices, n=1, cutoff=0.5)
        hint = (f"did you mean {close[0]!r}?" if close
                else f"choose from {', '.join(choices)}")
        # No action named: the message reads "unknown command 'x'; …", not "argument …: …".
        raise argparse.ArgumentError(None, f"unknown {what} {value!r}; {hint}")


def client_for(args: argparse.Namespace) -> Client:
    return Client.from_home(args.home)


def add_command(parent: Any, name: str, handler: Handler, help: str,
                common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """A subcommand that takes the common options (--home, --json) wherever they are put."""
    p = parent.add_parser(name, parents=[common], help=help, description=help)
    p.set_defaults(handler=handler)
    return p


def readable_file(path: str, what: str) -> Path:
    """`path` as a file to read, or a UsageError saying why it cannot be (checked before
    anything is sent, so a typo costs nothing)."""
    file = Path(path)
    if not file.exists():
        raise UsageError(f"{what} {path}: no such file")
    if file.is_dir():
        raise UsageError(f"{what} {path}: is a folder, not a file")
    if not os.access(file, os.R_OK):
        raise UsageError(f"{what} {path}: cannot be read (permission denied)")
    return file


def _shared_mode() -> int:
    """A report is for sharing: the mode a new file gets under the user's umask."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def write_report(path: Path, text: str) -> None:
    """A report page (`--html`, `--md`) whole or not at all: a temp file of its own beside
    it, synced, then renamed over it."""
    write_text_atomic(path, text, mode=_shared_mode())


def writable_file(path: str, what: str) -> Path:
    """`path` as a file to write (its folder must exist: a typo in it should not make
    folders), or a UsageError saying why it cannot be."""
    file = Path(path)
    folder = file.parent
    if file.is_dir():
        raise UsageError(f"{what} {path}: is a folder; name a file in it")
    if not folder.is_dir():
        raise UsageError(f"{what} {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise UsageError(f"{what} {path}: cannot write in {folder} (permission denied)")
    return file
