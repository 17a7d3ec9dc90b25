"""`mlops tui`: open the app on the daemon of the home (starting one unless --no-start),
or serve it to a browser on loopback (--web). Imports Textual only once it runs the app."""
# With --web the daemon is found or started here, once; each browser tab's UI then runs
# with --no-start.

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
    parser.add_argument("--web", action="store_true",
                        help="serve the UI to a browser on 127.0.0.1 (a token is printed)")
    parser.add_argument("--port", type=int, default=8766,
                        help="with --web: the port (default 8766)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    home = resolve_home(args.home)
    from tui.daemon_start import ensure_daemon

    found = ensure_daemon(home, start=not args.no_start)
    if not found.running and found.started_pid is None:
        print(f"mlops tui: {found.message}", file=sys.stderr)
        return 1
    if args.web:
        from tui.web import serve

        return serve(home, args.port)
    from tui.app import MlopsApp
    from tui.settings import load_settings

    app = MlopsApp(home, settings=load_settings(home.config), started_here=found.message)
    app.run()
    return 0
