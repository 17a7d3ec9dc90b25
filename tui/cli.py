"""`mlops tui`: open the app on the daemon of the home (starting one unless --no-start),
or serve it to a browser on loopback (--web). Imports Textual only once it runs the app."""

from __future__ import annotations

import argparse
import sys

from mlopsd.home import resolve_home


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlops tui",
                                     description="The terminal UI of the mlops daemon.")
    parser.add_argument("--home", help="the home folder (default: $MLOPS_HOME or "
                        "./mlops-home)")
    parser.add_argument("--no-start", action="store_true",
                        help="do not start a daemon when none runs for the home")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    home = resolve_home(args.home)
    from tui.daemon_start import ensure_daemon

    found = ensure_daemon(home, start=not args.no_start)
    if not found.running and found.started_pid is None:
        print(f"mlops tui: {found.message}", file=sys.stderr)
        return 1
    from tui.app import MlopsApp
    from tui.settings import load_settings

    app = MlopsApp(home, settings=load_settings(home.config), started_here=found.message)
    app.run()
    return 0
