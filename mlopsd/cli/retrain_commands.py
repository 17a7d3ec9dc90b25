"""`mlops retrain`, `mlops pipelines`, `mlops approve`, `mlops reject`, `mlops schedules`,
`mlops reload`."""

from __future__ import annotations

import argparse
import time
from typing import Any

from mlopsd.cli.common import UsageError, add_command, client_for
from mlopsd.cli.output import print_fields, print_json, print_table
from mlopsd.client import all_items
from mlopsd.client.wire import PipelineOut


def cmd_retrain(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        started = client.retrain(args.model, dry_run=args.dry_run, reason=args.reason)
        pipeline = started.pipeline
        if pipeline is not None and args.wait and not started.merged:
            pipeline = _wait(client, pipeline.id, args.timeout)
    if args.json:
        print_json(pipeline if args.wait and pipeline is not None else started)
        return 0 if pipeline is not None else 1
    if pipeline is None or started.skipped:
        print(f"not started now: {started.skipped}")
        return 0 if pipeline is not None else 1
    if started.merged:
        print(f"merged into the running pipeline {pipeline.id} of {pipeline.model} "
              f"({pipeline.state}): one training per model at a time")
        return 0
    if not args.wait:
        print(f"pipeline {pipeline.id} of {pipeline.model} started"
              f"{' (dry run)' if pipeline.dry_run else ''}: mlops pipelines show {pipeline.id}")
        return 0
    _show(pipeline)
    if pipeline.state == "running":
        print(f"\nstill running after {args.timeout:g} s: mlops pipelines show {pipeline.id}")
    return 0 if pipeline.state in ("deployed", "dry_run", "awaiting_approval") else 1


def _wait(client: Any, pipeline_id: int, timeout: float) -> PipelineOut:
    deadline = time.monotonic() + timeout
    while True:
        pipeline = client.pipeline(pipeline_id)
        if pipeline.state != "running" or time.monotonic() > deadline:
            return pipeline
        time.sleep(0.5)


def cmd_pipelines(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        if args.action == "show":
            pipeline = client.pipeline(_id(args))
        elif args.action == "cancel":
            pipeline = client.cancel_pipeline(_id(args), note=args.note)
        else:
            found = client.pipelines(model=args.model, state=args.state, limit=args.limit)
            if args.json:
                print_json(found)
            else:
                print_table([[p.id, p.model, p.state, p.trigger + (" (dry run)" if p.dry_run
                                                                   else ""),
                              p.challenger, p.champion, p.created_at, p.reason]
                             for p in found],
                            ["id", "model", "state", "trigger", "challenger", "champion",
                             "started", "outcome"])
            return 0
    if args.json:
        print_json(pipeline)
    else:
        _show(pipeline)
    return 0


def _id(args: argparse.Namespace) -> int:
    if args.id is None:
        raise UsageError(f"pipelines {args.action}: give the pipeline's id, e.g. "
                         f"mlops pipelines {args.action} 12")
    return args.id


def cmd_decide(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        pipeline = client.decide(args.id, args.approve, note=args.note)
    if args.json:
        print_json(pipeline)
    else:
        _show(pipeline)
    return 0


def cmd_schedules(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        found = list(all_items(client.schedules))
    if args.json:
        print_json(found)
    else:
        print_table([[s.model, s.cron, "dry run" if s.dry_run else "retrain", s.last_run_at,
                      s.next_run_at] for s in found],
                    ["model", "cron", "kind", "last run", "next run"])
    return 0


def cmd_reload(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        outcome = client.reload()
    if args.json:
        print_json(outcome)
        return 0
    print(f"models changed: {', '.join(outcome.models_changed) or 'none'}")
    added, removed = outcome.schedules.get("added", []), outcome.schedules.get("removed", [])
    print(f"schedules: {len(added)} added, {len(removed)} removed")
    if outcome.restart_needed:
        print(f"not applied, restart the daemon for: {', '.join(outcome.restart_needed)}")
    return 0


def _show(p: PipelineOut) -> None:
    print_fields([("pipeline", p.id), ("model", p.model), ("state", p.state),
                  ("trigger", f"{p.trigger} by {p.actor}" + (" (dry run)" if p.dry_run else "")),
                  ("challenger", p.challenger), ("champion", p.champion),
                  ("started", p.created_at), ("ended", p.ended_at), ("outcome", p.reason)])
    for merged in p.merged:
        print(f"  merged: {merged.get('trigger')} by {merged.get('actor')} at {merged.get('at')}")
    print()
    print_table([[s["step"], s["state"], s.get("started_at"), s.get("ended_at"),
                  _step_summary(s)] for s in p.steps],
                ["step", "state", "started", "ended", "what"], max_width=100)


def _step_summary(step: dict[str, Any]) -> str:
    d = step.get("detail") or {}
    name = step["step"]
    if name == "materialise":
        return f"{d.get('resolved')} ({d.get('rows')} rows)"
    if name == "train":
        return f"job {d.get('job_id')} -> {d.get('version') or '…'} ({d.get('bump_reason')})"
    if name == "evaluate":
        return f"metric {d.get('metric')}"
    if name == "compare" and d.get("ci"):
        low, high, gain = (v + 0.0 for v in (*d["ci"], d["improvement"]))  # no "-0"
        return (f"{d['metric']}: challenger {d['challenger']['value']:.5g}, champion "
                f"{d['champion']['value']:.5g}, improvement {gain:.5g}, "
                f"{d['confidence']:.0%} CI [{low:.5g}, {high:.5g}]")
    if name == "gate":
        return "; ".join(f"{v['gate']}: {'pass' if v['passed'] else 'FAIL'}"
                         for v in d.get("verdicts", []))
    if name == "approval":
        return d.get("why") or (f"{d.get('decision')} by {d.get('by')}" if d.get("decision")
                                else "waiting: mlops approve/reject")
    if name == "deploy":
        return f"{d.get('strategy')} {d.get('from_version') or ''} -> {d.get('to_version') or ''}"
    if name == "watch":
        return d.get("rollback") or d.get("result") or d.get("why") or d.get("note") or (
            f"{d.get('checks', 0)} checks")
    return d.get("why") or ""


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    def add(name: str, handler: Any, help: str) -> argparse.ArgumentParser:
        return add_command(sub, name, handler, help, common)

    p = add("retrain", cmd_retrain, "start a retraining pipeline now (train, compare, gate, "
            "deploy, watch by the model's [model.retrain] policy)")
    p.add_argument("model", help="the model's name, as in mlops.toml")
    p.add_argument("--dry-run", action="store_true",
                   help="stop after the gate's decision; deploy nothing")
    p.add_argument("--reason", help="why, kept with the pipeline and in the audit log")
    p.add_argument("--wait", action="store_true", help="wait until it ends or waits")
    p.add_argument("--timeout", type=float, default=3600.0,
                   help="with --wait: stop waiting after this many seconds (default 3600)")

    p = add("pipelines", cmd_pipelines, "retraining pipelines: list, show ID, cancel ID")
    p.add_argument("action", nargs="?", choices=("list", "show", "cancel"), default="list",
                   help="list (default), show one, or cancel one")
    p.add_argument("id", nargs="?", type=int, help="the pipeline's id (for show and cancel)")
    p.add_argument("--model", help="only this model's pipelines")
    p.add_argument("--state", help="running, awaiting_approval, active, deployed, …")
    p.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    p.add_argument("--note", help="with cancel: why, for the audit log")

    for name, approve in (("approve", True), ("reject", False)):
        p = add(name, cmd_decide, f"{name} a challenger awaiting approval"
                + (" (it is deployed)" if approve else " (it is archived)"))
        p.add_argument("id", type=int, help="the pipeline's id")
        p.add_argument("--note", help="a note for the pipeline's record and the audit log")
        p.set_defaults(approve=approve)

    add("schedules", cmd_schedules, "retraining schedules with their next run")
    add("reload", cmd_reload, "read mlops.toml again: models, policies and schedules")
