"""`mlops`: the command line client. Every command talks to the daemon over HTTP, except
`init`, which creates a home. Every listing has --json."""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

import orjson

from mlopsd import __version__
from mlopsd.cli import (
    audit_commands,
    check_commands,
    data_commands,
    event_lines,
    export_commands,
    home_commands,
    model_commands,
    retrain_commands,
    serving_commands,
    token_commands,
)
from mlopsd.cli.common import (
    USAGE_ERROR,
    CommandParser,
    Handler,
    UsageError,
    add_command,
    client_for,
)
from mlopsd.cli.output import print_fields, print_json, print_table
from mlopsd.client import ApiError, MlopsError
from mlopsd.client.errors import BadPathName
from mlopsd.client.wire import UNKNOWN_MODEL
from mlopsd.home import HomeError, init_home, resolve_home


def cmd_init(args: argparse.Namespace) -> int:
    home = resolve_home(args.home)
    created = init_home(home)
    if args.json:
        print_json({"home": str(home.root), "created": [str(p) for p in created]})
    elif created:
        print(f"initialised {home.root}")
        for path in created:
            print(f"  created {path.relative_to(home.root.parent)}")
        print(f"start the daemon with: mlopsd --home {home.root}")
    else:
        print(f"{home.root} is already initialised; nothing changed")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        status = client.status()
    if args.json:
        print_json(status)
        return 0
    next_runs = ", ".join(f"{e.name} at {e.next_run_at}" for e in status.scheduler.entries)
    print_fields([
        ("daemon", f"mlopsd {status.version}, pid {status.pid}"),
        ("listening", f"http://{status.host}:{status.port} (token needed for: {status.auth})"),
        ("home", status.home),
        ("uptime", f"{status.uptime_s:.0f} s (since {status.started_at:%Y-%m-%d %H:%M:%S} UTC)"),
        ("store", f"schema version {status.schema_version}"),
        ("scheduler", ("running" if status.scheduler.running else "stopped")
         + (f"; next: {next_runs}" if next_runs else "; nothing scheduled")),
        ("workers", f"{status.workers.size} process(es), running jobs "
         f"{status.workers.running or 'none'}, {status.workers.queued} queued"),
        ("jobs", ", ".join(f"{k} {v}" for k, v in sorted(status.jobs.items())) or "none yet"),
        ("watched dirs", ", ".join(status.watched_dirs) or "none"),
        ("serving", "every production version serves" if not status.unservable else
         "; ".join(f"! {name}: {why}" for name, why in sorted(status.unservable.items()))),
    ])
    return 0


def _job_rows(jobs: list[Any]) -> list[list[Any]]:
    return [
        [j.id, j.kind, j.state, j.attempt, j.actor, j.created_at,
         _duration(j), j.error or ""]
        for j in jobs
    ]


def _duration(job: Any) -> str:
    if not job.started_at:
        return "-"
    end = job.ended_at or None
    if end is None:
        return "running"
    return f"{(end - job.started_at).total_seconds():.2f}s"


def cmd_jobs_list(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        jobs = client.list_jobs(state=args.state, kind=args.kind, limit=args.limit)
    if args.json:
        print_json(jobs)
    else:
        print_table(_job_rows(jobs),
                    ["id", "kind", "state", "try", "actor", "created", "took", "error"])
    return 0


def cmd_jobs_show(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        job = client.get_job(args.id)
    if args.json:
        print_json(job)
        return 0
    print_fields([(k, v) for k, v in job.model_dump().items()])
    return 0


def _parse_param(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, orjson.loads(raw)
    except orjson.JSONDecodeError:
        return key, raw


def cmd_jobs_submit(args: argparse.Namespace) -> int:
    params = dict(args.param or [])
    with client_for(args) as client:
        job = client.submit_job(args.kind, params)
        if args.wait:
            job = client.wait_job(job.id, timeout=args.timeout)
    if args.json:
        print_json(job)
    else:
        print(f"job {job.id} ({job.kind}) {job.state}" + (f": {job.error}" if job.error else ""))
    return 0 if job.state in ("queued", "running", "succeeded") else 1


def cmd_jobs_cancel(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        job = client.cancel_job(args.id, args.reason)
    if args.json:
        print_json(job)
    else:
        print(f"job {job.id}: cancel requested (was {job.state})")
    return 0


def cmd_jobs_log(args: argparse.Namespace) -> int:
    offset = 0
    with client_for(args) as client:
        while True:
            chunk = client.job_log(args.id, offset)
            sys.stdout.write(chunk.text)
            sys.stdout.flush()
            offset = chunk.next_offset
            if not args.follow or (chunk.complete and not chunk.text):
                return 0
            if not chunk.text:
                time.sleep(0.3)


def cmd_jobs_kinds(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        kinds = client.job_kinds()
    if args.json:
        print_json(kinds)
    else:
        print_table([[k.name, k.queued_by, ", ".join(k.params) or "-", k.description]
                     for k in kinds], ["kind", "queued by", "params", "description"],
                    max_width=100)
    return 0


def cmd_events(args: argparse.Namespace) -> int:
    if args.list:
        print("\n".join(event_lines.catalogue_lines()))
        return 0
    with client_for(args) as client:
        for event in client.events(types=args.type, after=args.after, timeout=args.timeout):
            if args.json:
                sys.stdout.write(orjson.dumps(event.model_dump(mode="json")).decode() + "\n")
            else:
                print(event_lines.line(event.at, event.id, event.type, event.data,
                                       event.audit_id))
            sys.stdout.flush()
    return 0


def cmd_tui(args: argparse.Namespace) -> int:
    """The terminal UI is its own program (`python -m tui`): the CLI sits below it in the
    layers and never imports it, so it hands the process over."""
    argv = [sys.executable, "-m", "tui"]
    if args.home:
        argv += ["--home", str(args.home)]
    if getattr(args, "no_start", False):
        argv.append("--no-start")
    if getattr(args, "web", False):
        argv += ["--web", "--port", str(args.port)]
    sys.stdout.flush()
    os.execv(sys.executable, argv)
    return 0  # not reached


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--home", default=argparse.SUPPRESS,
                        help="the home folder (default: $MLOPS_HOME or ./mlops-home)")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print JSON instead of a table")

    parser = CommandParser(prog="mlops", parents=[common],
                           description="Talk to the mlops daemon.")
    parser.add_argument("--version", action="version", version=f"mlops {__version__}",
                        help="print the version of mlops and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                help="what to do (mlops COMMAND --help for its options)")

    def add(name: str, handler: Handler, help: str, parent: Any = sub) -> argparse.ArgumentParser:
        return add_command(parent, name, handler, help, common)

    add("init", cmd_init, "create a home: folders, mlops.toml with defaults, token")
    add("status", cmd_status, "the daemon's version, uptime, port, scheduler, workers")

    jobs = sub.add_parser("jobs", parents=[common], help="list, queue, cancel jobs; read logs",
                          description="list, queue, cancel jobs; read logs")
    jobs_sub = jobs.add_subparsers(dest="jobs_command", metavar="JOBS_COMMAND",
                                   help="default: list")
    jobs.set_defaults(handler=cmd_jobs_list, state=None, kind=None, limit=50)
    p = add("list", cmd_jobs_list, "jobs, newest first", jobs_sub)
    p.add_argument("--state", help="only jobs in this state: queued, running, succeeded, "
                   "failed, interrupted, cancelled")
    p.add_argument("--kind", help="only jobs of this kind (mlops jobs kinds)")
    p.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    p = add("show", cmd_jobs_show, "one job, all fields", jobs_sub)
    p.add_argument("id", type=int, help="the job's id")
    p = add("submit", cmd_jobs_submit, "queue a job of a kind", jobs_sub)
    p.add_argument("kind", help="the kind of job (mlops jobs kinds)")
    p.add_argument("--param", "-p", action="append", type=_parse_param, metavar="KEY=VALUE",
                   help="a parameter (VALUE is read as JSON when it parses, else as text)")
    p.add_argument("--wait", action="store_true", help="wait until the job ends")
    p.add_argument("--timeout", type=float, default=600.0,
                   help="with --wait: give up after this many seconds (default 600)")
    p = add("cancel", cmd_jobs_cancel, "cancel a queued or running job", jobs_sub)
    p.add_argument("id", type=int, help="the job's id")
    p.add_argument("--reason", help="why, for the audit log")
    p = add("log", cmd_jobs_log, "print a job's log", jobs_sub)
    p.add_argument("id", type=int, help="the job's id")
    p.add_argument("--follow", "-f", action="store_true", help="keep printing until it ends")
    add("kinds", cmd_jobs_kinds, "the kinds of job the daemon runs", jobs_sub)

    data_commands.add_commands(sub, common)
    model_commands.add_commands(sub, common)
    export_commands.add_commands(sub, common)
    serving_commands.add_commands(sub, common)
    retrain_commands.add_commands(sub, common)
    check_commands.add_commands(sub, common)

    audit_commands.add_commands(sub, common)
    home_commands.add_commands(sub, common)
    token_commands.add_commands(sub, common)

    p = add("tui", cmd_tui, "the terminal UI (also: mlops with no command, in a terminal)")
    p.add_argument("--no-start", action="store_true",
                   help="do not start a daemon when none runs for the home")
    p.add_argument("--web", action="store_true",
                   help="serve the UI to a browser on 127.0.0.1 (a token is printed)")
    p.add_argument("--port", type=int, default=8766, help="with --web: the port (default 8766)")

    p = add("events", cmd_events, "follow the daemon's event stream")
    p.add_argument("--type", action="append", help="only this type or prefix (repeatable)")
    p.add_argument("--after", type=int, help="replay recent events after this id first")
    p.add_argument("--timeout", type=float, help="stop after this many quiet seconds")
    p.add_argument("--list", action="store_true",
                   help="print the event catalogue (every name and its fields) and exit")
    return parser


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if not argv and sys.stdin.isatty() and sys.stdout.isatty():
        argv = ["tui"]  # `mlops` alone in a terminal opens the UI
    args = build_parser().parse_args(argv)
    args.home = getattr(args, "home", None)
    args.json = getattr(args, "json", False)
    try:
        return args.handler(args)
    except UsageError as exc:
        print(f"mlops: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except ApiError as exc:
        if exc.code == UNKNOWN_MODEL:
            # Bad input, like a misspelled command; the message says it all, the same
            # whichever command was given the name.
            print(f"mlops: {exc.message}", file=sys.stderr)
            return USAGE_ERROR
        where = f" (field: {exc.field})" if exc.field else ""
        print(f"mlops: {exc.message}{where}", file=sys.stderr)
        return 1
    except BadPathName as exc:  # bad input, refused before it was sent
        print(f"mlops: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except (MlopsError, HomeError, TimeoutError) as exc:
        print(f"mlops: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader stopped reading (`mlops … | head`): not an error of ours. Point stdout
        # at /dev/null so the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except OSError as exc:  # last: TimeoutError and BrokenPipeError are OSErrors too
        # A file named on the command line that the checks before could not foresee (it
        # went away meanwhile, a disk filled up): one line, never a traceback.
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"mlops: {where}{exc.strerror or exc}", file=sys.stderr)
        return USAGE_ERROR


if __name__ == "__main__":
    sys.exit(main())
