"""`mlopsd`: run the daemon for a home in the foreground."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import replace

from mlopsd import __version__
from mlopsd.config import ConfigError
from mlopsd.config_load import load_config
from mlopsd.daemon import Daemon, ExitCode, StartError, bind_socket
from mlopsd.home import (
    PRIVATE_UMASK,
    HomeError,
    check_writable,
    init_home,
    make_private,
    resolve_home,
)
from mlopsd.runtime.lock import DaemonLock, LockHeld
from mlopsd.runtime.logs import setup_daemon_logging, stop_logging
from mlopsd.runtime.memory import fix_mmap_threshold
from store.errors import StoreError

log = logging.getLogger("mlops.daemon")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="mlopsd",
        description="The mlops daemon: runs in the foreground; Ctrl-C or SIGTERM stops it.",
    )
    parser.add_argument("--home", help="the home folder (default: $MLOPS_HOME or ./mlops-home)")
    parser.add_argument("--host", help="address to listen on (default from mlops.toml)")
    parser.add_argument("--port", type=int, help="port (0 picks a free one)")
    parser.add_argument("--workers", type=int, help="job worker processes")
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--version", action="version", version=f"mlopsd {__version__}")
    return parser.parse_args(argv)


def _fail(code: ExitCode, message: str) -> int:
    print(f"mlopsd: {message}", file=sys.stderr)
    return int(code)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    home = resolve_home(args.home)
    # Everything the daemon and its workers create is private, whatever umask it started with.
    os.umask(PRIVATE_UMASK)
    fix_mmap_threshold()
    try:
        created = init_home(home)
        tightened = make_private(home)
        check_writable(home)
    except HomeError as exc:
        return _fail(ExitCode.HOME, str(exc))
    lock = DaemonLock(home.lock, home.daemon_json, home.root)
    try:
        lock.acquire()
    except LockHeld as exc:
        return _fail(ExitCode.ALREADY_RUNNING, str(exc))
    try:
        code = _run_locked(args, home, lock, bool(created), tightened)
    finally:
        lock.release()
    if not stop_logging():
        # stderr is a pipe nobody reads: the interpreter's last flush of it would wait for
        # ever. Everything that matters (store, lock) is closed: leave now.
        os._exit(code)
    return code


def _run_locked(args: argparse.Namespace, home, lock: DaemonLock, initialised: bool,
                tightened: list) -> int:
    try:
        config = load_config(home.config)
    except ConfigError as exc:
        return _fail(ExitCode.CONFIG, f"config error: {exc}")
    d = config.daemon
    setup_daemon_logging(home.logs, args.log_level or d.log_level, d.log_max_bytes, d.log_backups)
    if initialised:
        log.info("initialised a new home at %s", home.root)
    if tightened:
        log.warning("made private (others could read them): %s",
                    ", ".join(str(p.relative_to(home.root.parent)) for p in tightened))
    if lock.took_over_from:
        log.warning("a previous mlopsd (pid %s) ended without cleaning up; taking over",
                    lock.took_over_from)
    if args.workers is not None:
        if args.workers < 0:
            return _fail(ExitCode.CONFIG, "--workers must be 0 (automatic) or more")
        config = replace(config, daemon=replace(d, workers=args.workers))
    host = args.host or d.host
    port = d.port if args.port is None else args.port
    try:
        sock = bind_socket(host, port)
    except StartError as exc:
        return _fail(exc.code, str(exc))
    daemon = Daemon(home, config, host=host, port=port)
    try:
        daemon.open(sock)
    except StoreError as exc:
        sock.close()
        return _fail(ExitCode.STORE, str(exc))
    try:
        daemon.serve(sock)
    finally:
        daemon.close()
        log.info("stopped cleanly")
    return int(ExitCode.OK)


if __name__ == "__main__":
    sys.exit(main())
