"""`mlops drift MODEL`: the model's latest drift report (its drift stream), or a check now:
`--now` (the newest data it was not trained on), `--against SELECTOR`, `--window 6h` (what
it was asked lately). A check is ad hoc — stored and shown, no alert moved, not the
latest — unless `--record`. `--json`, `--html FILE` for the full report with plots."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import orjson

from mlopsd.cli.common import UsageError, client_for, writable_file, write_report
from mlopsd.cli.drift_html import render, statistic_text
from mlopsd.cli.output import print_json, print_table
from mlopsd.client.wire import DriftReportOut


def cmd_drift(args: argparse.Namespace) -> int:
    if args.html:
        writable_file(args.html, "--html")
    window_s = seconds(args.window) if args.window else None
    with client_for(args) as client:
        if args.against or args.now or args.window:
            job = client.wait_job(client.drift_check(
                args.model, args.against, window_s=window_s, record=args.record).id,
                timeout=args.timeout)
            if job.state != "succeeded":
                print(f"drift check of {args.model} {job.state}: {job.error}")
                return 1
            report: DriftReportOut | None = client.drift_report(job.result["report_id"])
        else:
            found = client.drift_reports(model=args.model, recorded=True, limit=1)
            report = found[0] if found else None
            production = report and client.get_model(args.model).aliases.get("production")
            if report is not None and production not in (None, report.model_version) \
                    and not args.json:
                print(f"production is {args.model}:{production} now; no data newer than its "
                      f"training data has been checked yet (the latest report below is about "
                      f"{args.model}:{report.model_version})")
    if report is None:
        print(f"no drift report for {args.model} yet (mlops drift {args.model} --now)")
        return 0
    if args.html:
        return _write_html(args, report)
    if args.json:
        print_json(report)
        return 0
    print_report(report)
    return 0


def _write_html(args: argparse.Namespace, report: DriftReportOut) -> int:
    with tempfile.TemporaryDirectory() as tmp, client_for(args) as client:
        full = Path(tmp) / "report.json"
        client.download_artifact(report.report_sha, full)
        page = render(orjson.loads(full.read_bytes()),
                      title=f"Drift of {report.model}: {report.current}",
                      recorded=report.recorded)
    target = Path(args.html)
    write_report(target, page)
    print(f"wrote {target} (report {report.id}: {report.current} against "
          f"{report.reference})")
    return 0


def verdict_text(report: DriftReportOut) -> str:
    if report.status == "not_enough_data":
        return "not enough data, no verdict"
    return (f"{'DRIFT' if report.dataset_drift else 'no dataset drift'} "
            f"({report.drift_share:.0%} of columns drifted)")


def print_report(report: DriftReportOut) -> None:
    kind = "" if report.recorded else " [ad hoc: no alert moved, not the latest]"
    print(f"report {report.id}{kind}")
    print(f"{report.model}:{report.model_version}: {report.current} "
          f"({_rows(report.rows_current)}) against its training data {report.reference} "
          f"({_rows(report.rows_reference)}): {verdict_text(report)}")
    detail = report.detail or {}
    for key in ("note", "not_recorded"):
        if detail.get(key):
            print(f"  {detail[key]}")
    if detail.get("excluded"):
        print(f"  left out of drift: {', '.join(detail['excluded'])}")
    if detail.get("not_inputs"):
        print(f"  warning: [model.monitoring] exclude names {', '.join(detail['not_inputs'])}"
              f", not an input of {report.model}:{report.model_version}")
    print_table([[c["column"], c["kind"], c["test"], statistic_text(c), _p(c),
                  c["threshold"], _verdict(c)] for c in report.columns],
                ["column", "kind", "test", "statistic", "p-value", "threshold", ""])
    if any(c.get("approximate") for c in report.columns):
        print("~ an estimate from the reference's profile (its bounds in brackets); the "
              "verdict is exact (computed exactly where the bounds straddle the threshold)")
    if report.prediction:
        p = report.prediction
        print(f"\npredictions: {p['test']} {statistic_text(p)} (threshold {p['threshold']})"
              f" {_verdict(p)}".rstrip())


def _p(column: dict[str, Any]) -> str:
    p = column.get("p_value")
    if p is None:
        return "-"
    at_most = "≤" if column.get("p_at_most") else ""
    return f"{at_most}{p:.3g}" + (f" ({column['p_test']})" if column.get("p_test") not in (
        None, column.get("test")) else "")


def _verdict(column: dict[str, Any]) -> str:
    if column.get("drifted") is None:
        return column.get("note") or "no verdict"
    return "DRIFT" if column["drifted"] else ""


def _rows(n: int | None) -> str:
    return "? rows" if n is None else f"{n:,} row{'s' if n != 1 else ''}"


def seconds(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        return float(text[:-1]) * units[text[-1]] if text[-1] in units else float(text)
    except (ValueError, IndexError):
        raise UsageError(f"--window {text!r} is not a duration (e.g. 90s, 30m, 6h, 2d)") \
            from None
