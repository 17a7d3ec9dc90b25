"""`mlops train`, `mlops runs …`, `mlops models …`, `mlops promote`, `mlops rollback`
(`mlops models card` and `mlops runs compare --html`: mlopsd/cli/card_commands.py)."""

from __future__ import annotations

import argparse
import re
from typing import Any

from mlopsd.cli import card_commands
from mlopsd.cli.common import UsageError, add_command, client_for, name_and_version, writable_file
from mlopsd.cli.output import print_fields, print_json, print_table
from mlopsd.client import Client, all_items


def _headline(metrics: dict[str, Any] | None) -> str:
    metrics = metrics or {}
    keys = [k for k in ("auc", "rmse", "accuracy", "macro_f1", "r2", "f1", "log_loss", "mae")
            if isinstance(metrics.get(k), int | float)][:3]
    return ", ".join(f"{k} {metrics[k]:.4g}" for k in keys)


def _parse_tag(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def cmd_train(args: argparse.Namespace) -> int:
    tags = dict(args.tag or [])
    with client_for(args) as client:
        job = client.train(args.model, reason=args.reason, tags=tags)
        if args.wait:
            job = client.wait_job(job.id, timeout=args.timeout)
    if args.json:
        print_json(job)
    elif not args.wait:
        print(f"training {args.model}: job {job.id} {job.state}")
    elif job.state == "succeeded":
        r = job.result
        print(f"{r['model']}:{r['version']} registered ({r['bump_reason']}); run {r['run_id']}; "
              f"{_headline(r['metrics'])}")
    else:
        print(f"training {args.model} {job.state}: {job.error}")
    return 0 if job.state in ("queued", "running", "succeeded") else 1


def cmd_reproduce(args: argparse.Namespace) -> int:
    name, version = name_and_version(args.version)
    with client_for(args) as client:
        job = client.wait_job(client.reproduce(name, version).id, timeout=args.timeout)
    if args.json:
        print_json(job)
        return 0 if job.state == "succeeded" and job.result["identical"] else 1
    if job.state != "succeeded":
        print(f"reproducing {args.version} {job.state}: {job.error}")
        return 1
    r = job.result
    if r.get("repaired"):
        print(f"{args.version}: its stored model was corrupt; the retrained bytes match its "
              f"recorded hash {r['registered_sha'][:12]}, so they replaced it"
              + (" (it serves again)" if r.get("serves_again") else ""))
    if r["identical"]:
        print(f"{args.version} reproduced bit for bit: model text {r['model_sha'][:12]} and "
              "holdout predictions identical")
        return 0
    print(f"{args.version} did NOT reproduce:")
    for difference in r["differences"]:
        print(f"  - {difference}")
    return 1


def cmd_models(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        models = list(all_items(client.list_models))
    if args.json:
        print_json(models)
    else:
        print_table([[m.name, m.task, m.latest, ", ".join(f"{a}={v}" for a, v in
                                                         sorted(m.aliases.items()))]
                     for m in models], ["model", "task", "latest", "aliases"])
    return 0


def cmd_model_show(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        model = client.get_model(args.name)
        versions = list(all_items(client.model_versions, args.name))
    if args.json:
        print_json({"model": model.model_dump(mode="json"),
                    "versions": [v.model_dump(mode="json") for v in versions]})
        return 0
    print_fields([("model", model.name), ("task", model.task), ("latest", model.latest),
                  ("aliases", ", ".join(f"{a} -> {v}" for a, v in sorted(model.aliases.items()))
                   or "none")])
    print()
    _print_versions(versions, model.aliases)
    return 0


def _print_versions(versions: list[Any], aliases: dict[str, str]) -> None:
    by_version: dict[str, list[str]] = {}
    for alias, version in aliases.items():
        by_version.setdefault(version, []).append(alias)
    print_table([[v.version, ",".join(sorted(by_version.get(v.version, []))), v.created_at,
                  _headline(v.metrics), v.bump_reason, "archived" if v.archived else "",
                  (v.run_id or "")[:12]] for v in versions],
                ["version", "aliases", "created", "metrics", "why this number", "", "run"])


def cmd_model_versions(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        versions = list(all_items(client.model_versions, args.name))
        aliases = client.get_model(args.name).aliases
    if args.json:
        print_json(versions)
    else:
        _print_versions(versions, aliases)
    return 0


def cmd_archive(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        version = client.archive(args.name, args.version)
    if args.json:
        print_json(version)
    else:
        print(f"{version.model}:{version.version} archived")
    return 0


def cmd_promote(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        move = client.promote(args.name, args.version, to=args.to, reason=args.reason)
    if args.json:
        print_json(move)
    else:
        print(f"{move.model}@{move.alias}: {move.from_version or '(none)'} -> {move.to_version}")
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        move = client.rollback(args.name, alias=args.alias, reason=args.reason)
    if args.json:
        print_json(move)
    else:
        print(f"{move.model}@{move.alias} rolled back: {move.from_version} -> {move.to_version}")
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        runs = client.list_runs(experiment=args.experiment, model=args.model,
                                filter=args.filter, order_by=args.order_by, limit=args.limit)
    if args.json:
        print_json(runs)
        return 0
    shown = sorted({k for r in runs for k in r.metrics if not k.startswith(("train_",
                                                                            "valid_"))})[:4]
    print_table([[r.id[:12], r.experiment, r.state, r.started_at,
                  *[r.metrics.get(k) for k in shown], r.error or ""] for r in runs],
                ["run", "experiment", "state", "started", *shown, "error"])
    return 0


def _find_run(client: Client, prefix: str) -> str:
    if not re.fullmatch(r"[0-9a-f]{1,32}", prefix):  # ids are hex: nothing to look up
        raise UsageError(f"no run id starts with {prefix!r} (mlops runs list)")
    matches = [r.id for r in client.list_runs(filter=f"id like '{prefix}%'", limit=2)]
    if not matches:
        raise UsageError(f"no run id starts with {prefix!r} (mlops runs list)")
    if len(matches) > 1:
        raise UsageError(f"{len(matches)} runs match {prefix!r}; give more of the id")
    return matches[0]


def cmd_compare(args: argparse.Namespace) -> int:
    if args.html:
        writable_file(args.html, "--html")
    with client_for(args) as client:
        runs = [client.get_run(_find_run(client, prefix)) for prefix in args.ids]
        if args.html:
            return card_commands.write_comparison(args, client, runs)
    if args.json:
        print_json(runs)
        return 0
    rows = []
    for title, attr in (("params", "params"), ("metrics", "metrics"), ("tags", "tags")):
        keys = sorted({k for r in runs for k in getattr(r, attr)})
        if attr == "metrics" and not args.curves:
            keys = [k for k in keys if not k.startswith(("train_", "valid_"))]
        for key in keys:
            values = [getattr(r, attr).get(key) for r in runs]
            differs = len({str(v) for v in values}) > 1
            rows.append([("* " if differs else "  ") + f"{title}.{key}", *values])
    print_table(rows, ["(* differs)", *[r.id[:12] for r in runs]], max_width=40)
    return 0


def cmd_run_show(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        run = client.get_run(_find_run(client, args.id))
    if args.json:
        print_json(run)
        return 0
    print_fields([("run", run.id), ("experiment", run.experiment), ("state", run.state),
                  ("started", run.started_at), ("ended", run.ended_at), ("job", run.job_id),
                  ("error", run.error)])
    for title, values in (("params", run.params), ("tags", run.tags),
                          ("metrics (last value)", run.metrics)):
        print(f"\n{title}:")
        for key in sorted(values):
            print(f"  {key} = {values[key]}")
    if run.lineage:
        print("\nlineage:")
        for key, value in run.lineage.items():
            print(f"  {key}: {value}")
    return 0


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    def add(parent: Any, name: str, handler: Any, help: str) -> argparse.ArgumentParser:
        return add_command(parent, name, handler, help, common)

    p = add(sub, "train", cmd_train, "train a model declared in mlops.toml")
    p.add_argument("model", help="the model's name, as in mlops.toml")
    p.add_argument("--reason", help="why, kept with the run and in the audit log")
    p.add_argument("--tag", action="append", type=_parse_tag, metavar="KEY=VALUE",
                   help="a tag for the run (repeatable)")
    p.add_argument("--wait", action="store_true", help="wait until the training ends")
    p.add_argument("--timeout", type=float, default=3600.0,
                   help="with --wait: give up after this many seconds (default 3600)")

    p = add(sub, "reproduce", cmd_reproduce,
            "retrain a version from its lineage and check it is identical")
    p.add_argument("version", metavar="MODEL:VERSION", help="e.g. riders:1.0.0")
    p.add_argument("--timeout", type=float, default=3600.0,
                   help="give up after this many seconds (default 3600)")

    models = sub.add_parser("models", parents=[common], help="registered models and versions",
                            description="registered models and versions")
    models.set_defaults(handler=cmd_models)
    ms = models.add_subparsers(dest="models_command", metavar="MODELS_COMMAND",
                               help="default: list")
    add(ms, "list", cmd_models, "models with their latest version and aliases")
    p = add(ms, "show", cmd_model_show, "a model, its aliases and versions")
    p.add_argument("name", help="the model's name")
    p = add(ms, "versions", cmd_model_versions, "a model's versions")
    p.add_argument("name", help="the model's name")
    p = add(ms, "archive", cmd_archive, "archive a version: it keeps its record and can no "
            "longer take an alias (an aliased version cannot be archived)")
    p.add_argument("name", help="the model's name")
    p.add_argument("version", help="the version, e.g. 1.0.0")
    card_commands.add_card_command(ms, common)

    p = add(sub, "promote", cmd_promote, "point an alias (default production) at a version")
    p.add_argument("name", help="the model's name")
    p.add_argument("version", help="the version, e.g. 1.1.0")
    p.add_argument("--to", default="production",
                   help="the alias to move (default production: a blue-green deploy)")
    p.add_argument("--reason", help="why, for the audit log")
    p = add(sub, "rollback", cmd_rollback, "move an alias back to its previous version")
    p.add_argument("name", help="the model's name")
    p.add_argument("--alias", default="production",
                   help="the alias to move back (default production)")
    p.add_argument("--reason", help="why, for the audit log")

    runs = sub.add_parser("runs", parents=[common], help="experiment runs",
                          description="experiment runs")
    runs.set_defaults(handler=cmd_runs, experiment=None, model=None, filter=None,
                      order_by=None, limit=50)
    rs = runs.add_subparsers(dest="runs_command", metavar="RUNS_COMMAND", help="default: list")
    p = add(rs, "list", cmd_runs, "runs: filtered, sorted")
    p.add_argument("--experiment", help="only runs of this experiment")
    p.add_argument("--model", help="only runs of this model")
    p.add_argument("--filter", help="e.g. \"metrics.auc > 0.8 and params.num_leaves = 31\"")
    p.add_argument("--order-by", help="e.g. \"metrics.rmse asc\"")
    p.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    p = add(rs, "compare", cmd_compare, "params and metrics of runs side by side")
    p.add_argument("ids", nargs="+", metavar="RUN", help="run ids or unique prefixes of them")
    p.add_argument("--curves", action="store_true", help="also the per-iteration metrics")
    p.add_argument("--html", metavar="FILE", help="write the comparison as one self-contained "
                   "page to share: params and metrics side by side, curves on shared axes, "
                   "the data each run trained on")
    p = add(rs, "show", cmd_run_show, "one run: params, tags, metrics, lineage")
    p.add_argument("id", help="a run id or a unique prefix of one")
