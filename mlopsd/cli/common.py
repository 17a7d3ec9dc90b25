"""What every `mlops` command module shares: the client for --home, adding a subcommand."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from mlopsd.client import Client

Handler = Callable[[argparse.Namespace], int]


def client_for(args: argparse.Namespace) -> Client:
    return Client.from_home(args.home)


def add_command(parent: Any, name: str, handler: Handler, help: str,
                common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """A subcommand that takes the common options (--home, --json) wherever they are put."""
    p = parent.add_parser(name, parents=[common], help=help, description=help)
    p.set_defaults(handler=handler)
    return p
