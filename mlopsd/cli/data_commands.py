"""`mlops data …` and `mlops alerts`: datasets, versions, profiles, drops, quarantine."""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

from mlopsd.cli.common import UsageError, add_command, client_for, readable_file, writable_file
from mlopsd.cli.output import print_fields, print_json, print_table
from mlopsd.client import all_items


def cmd_list(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        datasets = list(all_items(client.list_datasets))
    if args.json:
        print_json(datasets)
    else:
        print_table(
            [[d.name, d.versions, d.latest_version, d.rows, d.schema_version, d.target,
              d.time_column, d.last_committed_at] for d in datasets],
            ["dataset", "versions", "latest", "rows", "schema v", "target", "time column",
             "last committed"],
        )
    return 0


def cmd_versions(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        versions = list(all_items(client.list_versions, args.dataset))
    if args.json:
        print_json(versions)
    else:
        print_table(
            [[f"{v.dataset}@{v.version}", v.n_rows, v.n_columns, v.schema_version,
              v.source_name, v.received_at, v.committed_at, v.content_hash[:12]]
             for v in versions],
            ["version", "rows", "cols", "schema v", "source", "received", "committed",
             "content"],
        )
    return 0


_AT = re.compile(r"^(?P<name>[^@]+)@(?P<version>\d+|latest)$")


def cmd_show(args: argparse.Namespace) -> int:
    match = _AT.match(args.version)
    if not match:
        raise UsageError(f"expected DATASET@N or DATASET@latest, got {args.version!r}")
    with client_for(args) as client:
        number = match["version"]
        if number == "latest":
            latest = client.get_dataset(match["name"]).latest_version
            if latest is None:
                raise UsageError(f"dataset {match['name']!r} has no version yet")
            number = latest
        v = client.get_version(match["name"], int(number))
    if args.json:
        print_json(v)
        return 0
    print_fields([
        ("version", f"{v.dataset}@{v.version} (schema version {v.schema_version})"),
        ("rows x columns", f"{v.n_rows} x {v.n_columns}"),
        ("source", v.source_name),
        ("received", v.received_at),
        ("committed", v.committed_at),
        ("content sha256", v.content_hash),
        ("snapshot", v.snapshot_sha),
    ])
    print()
    rows = []
    for name, p in (v.profile or {}).items():
        summary = _profile_summary(p)
        rows.append([name, p.get("dtype"), p.get("kind"), p.get("nulls"), p.get("min"),
                     p.get("max"), p.get("mean"), p.get("std"), summary])
    print_table(rows, ["column", "dtype", "kind", "nulls", "min", "max", "mean", "std",
                       "values"], max_width=48)
    return 0


def _profile_summary(p: dict[str, Any]) -> str:
    categories = p.get("categories")
    if isinstance(categories, dict) and categories:
        top = sorted(categories.items(), key=lambda kv: -kv[1])[:4]
        more = f" +{len(categories) - 4}" if len(categories) > 4 else ""
        return ", ".join(f"{k} {n}" for k, n in top) + more
    quantiles = p.get("quantiles")
    if isinstance(quantiles, dict) and "0.5" in quantiles:
        return f"median {quantiles['0.5']:.4g}"
    return ""


def cmd_quarantine(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        rows = list(all_items(client.quarantine, args.dataset))
    if args.json:
        print_json(rows)
        return 0
    table = []
    for r in rows:
        first = (r.issues or [{}])[0].get("message", "") if isinstance(r.issues, list) else ""
        table.append([r.dataset, (r.quarantine_path or "").rsplit("/", 1)[-1], r.finished_at,
                      first])
    print_table(table, ["dataset", "file", "quarantined", "reason"], max_width=90)
    return 0


def cmd_requeue(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        back = client.requeue(args.file)
    if args.json:
        print_json(back)
    else:
        print(f"back in the inbox as {back.path}; it will be ingested again")
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    readable_file(args.file, "the file to ingest")
    with client_for(args) as client:
        upload = client.upload(args.dataset, args.file, args.name)
        job = None
        if args.wait and upload.job_id is not None:
            job = client.wait_job(upload.job_id, timeout=args.timeout)
    if args.json:
        print_json(job if job is not None else upload)
        return 0 if job is None or job.state == "succeeded" else 1
    print(f"dropped as {upload.path}" + (f" (ingest job {upload.job_id})"
                                         if upload.job_id else ""))
    if job is not None:
        result = job.result or {}
        outcome = result.get("outcome", job.state)
        if outcome == "accepted":
            print(f"accepted: {result['dataset']}@{result['version']} ({result['rows']} rows)")
        elif outcome == "duplicate":
            print(f"duplicate of {result['dataset']}@{result['duplicate_of']}; not stored twice")
        elif outcome == "rejected":
            print(f"rejected, quarantined as {result.get('quarantined_as')}:")
            for message in result.get("errors", []):
                print(f"  - {message}")
            return 1
        else:
            print(f"{outcome}: {job.error or ''}")
            return 1
    return 0


def cmd_ingests(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        rows = client.list_ingests(dataset=args.dataset, outcome=args.outcome, limit=args.limit)
    if args.json:
        print_json(rows)
    else:
        print_table([[r.id, r.dataset, r.source_name, r.outcome, r.version, r.finished_at,
                      r.job_id] for r in rows],
                    ["id", "dataset", "file", "outcome", "version", "at", "job"])
    return 0


def cmd_resolve(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        resolved = client.resolve_selector(args.selector)
    if args.json:
        print_json(resolved)
    else:
        print(f"{resolved.selector} = {resolved.canonical} ({resolved.rows} rows before any "
              "time window)")
    return 0


def cmd_materialise(args: argparse.Namespace) -> int:
    if args.out:
        writable_file(args.out, "--out")
    with client_for(args) as client:
        job = client.materialise(args.selector)
        job = client.wait_job(job.id, timeout=args.timeout)
        if job.state != "succeeded":
            print(f"mlops: materialise failed: {job.error}", file=sys.stderr)
            return 1
        if args.out:
            client.download_artifact(job.result["sha"], args.out)
    if args.json:
        print_json(job.result)
    else:
        print(f"{job.result['selector']}: {job.result['rows']} rows, artifact "
              f"{job.result['sha']}" + (f", written to {args.out}" if args.out else ""))
    return 0


def cmd_alerts(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        rows = client.alerts(state="active" if args.open else None, rule=args.rule,
                             limit=args.limit)
    if args.json:
        print_json(rows)
    else:
        print_table([[a.id, a.state, a.severity, a.rule, a.subject, a.count, a.last_seen_at,
                      a.message] for a in rows],
                    ["id", "state", "severity", "rule", "subject", "count", "last seen",
                     "message"], max_width=80)
    return 0


def cmd_alert_state(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        alert = client.set_alert_state(args.id, "acknowledged" if args.alerts_command == "ack"
                                       else "resolved", note=args.note)
    if args.json:
        print_json(alert)
    else:
        print(f"alert {alert.id} ({alert.rule}, {alert.subject}) {alert.state}")
    return 0


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    def add(parent: Any, name: str, handler: Any, help: str) -> argparse.ArgumentParser:
        return add_command(parent, name, handler, help, common)

    data = sub.add_parser("data", parents=[common], help="datasets, versions, drops, quarantine",
                          description="datasets, versions, drops, quarantine")
    data.set_defaults(handler=cmd_list)
    ds = data.add_subparsers(dest="data_command", metavar="DATA_COMMAND", help="default: list")
    add(ds, "list", cmd_list, "datasets with their versions and rows")
    p = add(ds, "versions", cmd_versions, "a dataset's data versions")
    p.add_argument("dataset", help="the dataset's name")
    p = add(ds, "show", cmd_show, "one data version and its per-column profile")
    p.add_argument("version", metavar="DATASET@N", help="e.g. bikeshare@3 or bikeshare@latest")
    p = add(ds, "quarantine", cmd_quarantine, "rejected files and why")
    p.add_argument("--dataset", help="only this dataset's files")
    p = add(ds, "requeue", cmd_requeue, "put a quarantined file back into its inbox")
    p.add_argument("file", help="the quarantined file's name, as `mlops data quarantine` shows")
    p = add(ds, "ingest", cmd_ingest, "drop a file into a dataset's inbox (as a drop would)")
    p.add_argument("file", help="the local file: CSV, Parquet or NDJSON (.gz/.zst too)")
    p.add_argument("--dataset", required=True, help="the dataset it belongs to")
    p.add_argument("--name", help="the file name in the inbox (default: the file's own)")
    p.add_argument("--wait", action="store_true", help="wait for the outcome")
    p.add_argument("--timeout", type=float, default=600.0,
                   help="with --wait: give up after this many seconds (default 600)")
    p = add(ds, "ingests", cmd_ingests, "what became of every dropped file")
    p.add_argument("--dataset", help="only this dataset's files")
    p.add_argument("--outcome", help="only this outcome: accepted, duplicate, rejected, …")
    p.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    p = add(ds, "resolve", cmd_resolve, "the exact versions a selector names")
    p.add_argument("selector", help="e.g. bikeshare@latest, @3, @2..5, @last:3, @all, with "
                   "an optional [START..END] time window")
    p = add(ds, "materialise", cmd_materialise, "write a selector's rows to a Parquet file")
    p.add_argument("selector", help="e.g. 'bikeshare@all[2011-06-01..2011-09-01]'")
    p.add_argument("--out", help="where to write the Parquet file (its folder must exist)")
    p.add_argument("--timeout", type=float, default=600.0,
                   help="give up after this many seconds (default 600)")

    p = add(sub, "alerts", cmd_alerts, "alerts, most recent first; ack or resolve one")
    p.add_argument("--open", action="store_true", help="only those not resolved")
    p.add_argument("--rule", help="only this rule, e.g. dataset_drift, job_failed")
    p.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    alert_commands = p.add_subparsers(dest="alerts_command", metavar="ALERTS_COMMAND",
                                      help="default: list the alerts")
    for name, help in (("ack", "acknowledge an alert: someone is on it"),
                       ("resolve", "resolve an alert")):
        q = add(alert_commands, name, cmd_alert_state, help)
        q.add_argument("id", type=int, help="the alert's id (mlops alerts)")
        q.add_argument("--note", help="a note for the audit log")
