"""`mlops check data|model`: CI gates with exit codes.

0: every rule or gate passed; 1: one failed (with `--strict`, a warning too); 2: the check
could not be made — an unknown dataset, model or version, no daemon, a file that cannot be
read, a job that failed — with one line saying what and where. `--junit FILE` and
`--summary FILE` are written in every case (an error is a testcase in <error>), so a CI
job that uploads them always has something to show.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlopsd.cli.check_reports import exit_status, print_report, write_reports
from mlopsd.cli.common import (
    USAGE_ERROR,
    UsageError,
    add_command,
    client_for,
    name_and_version,
    readable_file,
    writable_file,
)
from mlopsd.cli.output import print_json
from mlopsd.client import Client
from mlopsd.client.errors import ApiError, MlopsError
from mlopsd.client.wire import UNKNOWN_MODEL, CheckItem, CheckReport, JobOut
from mlopsd.home import HomeError

EXIT = {"pass": 0, "fail": 1, "error": USAGE_ERROR}


def cmd_check_data(args: argparse.Namespace) -> int:
    def submit(client: Client) -> JobOut:
        readable_file(args.file, "the file to check")
        return client.check_data(args.dataset, args.file)

    subject = {"kind": "data", "subject": args.dataset, "file": Path(args.file).name}
    return _check(args, submit, subject, strict=args.strict)


def cmd_check_model(args: argparse.Namespace) -> int:
    subject = {"kind": "model", "subject": args.version, "against": args.against}

    def submit(client: Client) -> JobOut:
        name, version = name_and_version(args.version)
        return client.check_model(name, version, against=args.against,
                                  max_latency_ms=args.max_latency_ms,
                                  latency_rows=args.latency_rows)

    return _check(args, submit, subject, strict=False)


def _check(args: argparse.Namespace, submit: Callable[[Client], JobOut],
           subject: dict[str, Any], *, strict: bool) -> int:
    junit = writable_file(args.junit, "--junit") if args.junit else None
    summary = writable_file(args.summary, "--summary") if args.summary else None
    try:
        report = _run(args, submit)
    except (UsageError, MlopsError, HomeError, OSError, ValueError) as exc:
        # ApiError and DaemonNotRunning are MlopsErrors, TimeoutError an OSError; a
        # ValueError is a result that is not a report (pydantic's ValidationError).
        message = _message(exc)
        print(f"mlops: {message}", file=sys.stderr)
        report = CheckReport(**subject, verdict="error", summary=f"1 error: {message}",
                             checks=[CheckItem(name="check", target=None, status="error",
                                               level="error", rule=None, message=message)])
        write_reports(report, junit=junit, summary=summary)
        if args.json:
            print_json(report)
        return USAGE_ERROR
    write_reports(report, junit=junit, summary=summary, strict=strict)
    if args.json:
        print_json(report)
    else:
        print_report(report, strict=strict)
    return EXIT[exit_status(report, strict=strict)]


def _run(args: argparse.Namespace, submit: Callable[[Client], JobOut]) -> CheckReport:
    with client_for(args) as client:
        job = submit(client)
        job = client.wait_job(job.id, timeout=args.timeout)
    if job.state != "succeeded":
        raise MlopsError(f"the check (job {job.id}, {job.kind}) {job.state}: {job.error} "
                         f"(mlops jobs log {job.id})")
    return client.check_report(job)


def _message(exc: BaseException) -> str:
    if isinstance(exc, ApiError):
        # A misspelled model reads as every other command says it (tests/test_model_names.py).
        where = f" (field: {exc.field})" if exc.field and exc.code != UNKNOWN_MODEL else ""
        return exc.message + where
    if isinstance(exc, OSError) and not isinstance(exc, TimeoutError) and exc.filename:
        return f"{exc.filename}: {exc.strerror or exc}"
    return str(exc)


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    check = sub.add_parser("check", parents=[common],
                           help="CI gates: check a data file or a model version; exit 0 "
                                "pass, 1 fail, 2 error",
                           description="CI gates: check a data file against its dataset's "
                           "rules, or a model version against production's gates, without "
                           "ingesting or deploying anything. Exit 0 pass, 1 fail, 2 error.")
    check_sub = check.add_subparsers(dest="check_command", metavar="CHECK_COMMAND",
                                     required=True, help="data or model")

    def reports(p: argparse.ArgumentParser) -> None:
        p.add_argument("--junit", metavar="FILE",
                       help="write JUnit XML (one testcase per rule or gate) for CI")
        p.add_argument("--summary", metavar="FILE",
                       help="write a Markdown summary (for a pull request comment)")
        p.add_argument("--timeout", type=float, default=600.0,
                       help="give up after this many seconds (default 600)")

    p = add_command(check_sub, "data", cmd_check_data,
                    "check a file against a dataset's contract and learned rules, as an "
                    "ingest would, storing nothing", common)
    p.add_argument("file", help="the file (CSV, Parquet, NDJSON; .gz/.zst), uploaded")
    p.add_argument("--dataset", required=True, help="the dataset whose rules apply")
    p.add_argument("--strict", action="store_true",
                   help="warnings fail too (learned ranges, unseen categories, null shares "
                        "and duplicates only warn at ingest)")
    reports(p)

    p = add_command(check_sub, "model", cmd_check_model,
                    "judge a registered version by its retrain policy's gates against "
                    "production, deploying nothing", common)
    p.add_argument("version", metavar="MODEL:VERSION", help="the version to judge")
    p.add_argument("--against", default="production",
                   help="an alias or a version to compare with (default production)")
    p.add_argument("--max-latency-ms", type=float,
                   help="the bound on a single prediction's p95 (default: the model's "
                        "[model.monitoring] latency_p95_ms, else [monitoring]'s)")
    p.add_argument("--latency-rows", type=int, default=200,
                   help="single-row predictions timed (default 200)")
    reports(p)
