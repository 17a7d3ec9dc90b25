"""`mlops predict`, `mlops deploy`, `mlops deployments`, `mlops serving`,
`mlops predictions`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson

from mlopsd.cli.common import UsageError, add_command, client_for, readable_file
from mlopsd.cli.drift_commands import cmd_drift
from mlopsd.cli.output import print_fields, print_json, print_table
from mlopsd.client.wire import DeployStatusOut

# What the predict endpoint takes besides JSON, by the file's suffix (or --format).
_MEDIA_TYPES = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet",
                "arrow": "application/vnd.apache.arrow.stream"}
_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".arrow": "arrow",
             ".arrows": "arrow", ".ipc": "arrow"}


def _rows_format(source: str, given: str | None) -> str:
    if given:
        return given
    return _SUFFIXES.get(Path(source).suffix.lower(), "json") if source != "-" else "json"


def _json_rows(text: bytes, source: str) -> dict[str, Any]:
    """A JSON body ({"rows": …} or {"columns": …}), a JSON list of rows, or NDJSON rows."""
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        try:
            return {"rows": [orjson.loads(line) for line in text.splitlines() if line.strip()]}
        except orjson.JSONDecodeError as exc:
            raise UsageError(f"{source} is neither JSON nor NDJSON: {exc} (CSV, Parquet and "
                             "Arrow files are read by their suffix, or say --format)") from None
    if isinstance(data, list):
        return {"rows": data}
    if isinstance(data, dict) and ("rows" in data or "columns" in data):
        return data
    if isinstance(data, dict):
        return {"rows": [data]}
    raise UsageError(f"{source}: expected rows (objects), not {type(data).__name__}")


def _request_body(source: str, fmt: str) -> tuple[bytes, str]:
    """The body to send and its content type, from a file or - (standard input). CSV,
    Parquet and Arrow go as they are: the daemon reads them, as it does over HTTP."""
    text = (sys.stdin.buffer.read() if source == "-"
            else readable_file(source, "the rows file").read_bytes())
    if fmt in _MEDIA_TYPES:
        return text, _MEDIA_TYPES[fmt]
    return orjson.dumps(_json_rows(text, source)), "application/json"


def cmd_predict(args: argparse.Namespace) -> int:
    body, content_type = _request_body(args.rows, _rows_format(args.rows, args.format))
    with client_for(args) as client:
        answer = client.predict_body(args.model, body, content_type, version=args.version,
                                     alias=args.alias, explain=args.explain)
    reply = answer.reply
    if args.json:
        print_json(reply.model_dump(mode="json", exclude_none=True))
    else:
        labels = reply.labels
        rows = [[i, p, *([labels[i]] if labels else [])]
                for i, p in enumerate(reply.predictions)]
        print(f"{reply.model}:{reply.version} (request {reply.request_id})")
        print_table(rows, ["row", "prediction", *(["label"] if labels else [])])
    # On stderr: --json output stays one JSON document, and people still see them.
    if answer.ignored_columns:
        print(f"mlops: note: {reply.model} does not use these input columns (ignored): "
              f"{', '.join(answer.ignored_columns)}", file=sys.stderr)
    if answer.unseen_categories:
        counts = ", ".join(f"{column} ({rows} row{'s' if rows != 1 else ''})"
                           for column, rows in answer.unseen_categories.items())
        print(f"mlops: note: categories {reply.model}:{reply.version} never saw in "
              f"training, treated as missing: {counts}", file=sys.stderr)
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    readable_file(args.file, "the file to score")
    with client_for(args) as client:
        job = client.score(args.model, args.file, version=args.version, keep=args.keep)
        if args.wait:
            job = client.wait_job(job.id, timeout=args.timeout)
    if args.json:
        print_json(job)
    elif not args.wait:
        print(f"scoring {args.file} with {args.model}: job {job.id} {job.state}")
    elif job.state == "succeeded":
        r = job.result
        print(f"{r['rows']:,} rows scored by {r['model']}:{r['version']} in "
              f"{r['seconds']:.2f} s -> {r['output']}")
    else:
        print(f"scoring {args.file} {job.state}: {job.error}")
    return 0 if job.state in ("queued", "running", "succeeded") else 1


def cmd_deploy(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        if args.promote:
            move = client.deploy_promote(args.model, reason=args.reason)
            result: Any = move
            text = f"{args.model}: {move.from_version} -> {move.to_version} (promoted)"
        elif args.abort:
            result = client.deploy_abort(args.model, reason=args.reason)
            text = f"{args.model}: " + ", ".join(
                f"{e.strategy} of {e.version} ended" for e in result.ended)
        elif args.version is None:
            result = client.deploy_status(args.model)
            if args.json:
                print_json(result)
                return 0
            _print_status(result)
            return 0
        else:
            strategy = "shadow" if args.shadow else "canary" if args.canary else "blue-green"
            result = client.deploy(args.model, args.version, strategy=strategy,
                                   percent=args.canary if args.canary else 10.0,
                                   reason=args.reason)
            text = {"canary": f"{args.model}: canary {args.version} takes {args.canary}% of "
                              "requests (mlops deploy … --promote / --abort)",
                    "shadow": f"{args.model}: {args.version} shadows production",
                    "blue-green": f"{args.model}: production -> {args.version}"}[strategy]
    if args.json:
        print_json(result)
    else:
        print(text)
    return 0


def _print_status(status: DeployStatusOut) -> None:
    print_fields([("model", status.model), ("live", status.live),
                  ("previous (loaded)", status.previous)])
    canary = status.canary
    if canary:
        print(f"\ncanary {canary.version} at {canary.percent}%:")
        print_table([[arm, stats.requests, stats.errors, stats.error_rate, stats.p50_ms,
                      stats.p95_ms]
                     for arm, stats in (("champion", canary.champion),
                                        ("candidate", canary.candidate))],
                    ["arm", "requests", "errors", "error rate", "p50 ms", "p95 ms"])
    shadow = status.shadow
    if shadow:
        print(f"\nshadow {shadow.version}:")
        print_fields([("compared_rows", shadow.compared_rows), ("errors", shadow.errors),
                      ("mean_abs_diff", shadow.mean_abs_diff),
                      ("max_abs_diff", shadow.max_abs_diff),
                      ("label_agreement", shadow.label_agreement)])


def cmd_drill(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        result = client.drill(args.model, failure_rate=args.rate, requests=args.requests,
                              delay_ms=args.delay_ms, reason=args.reason)
    if args.json:
        print_json(result)
    else:
        print(f"{result.model}:{result.version} fails {result.failure_rate:.0%} of "
              f"its next {result.requests} requests on purpose; fallback: "
              f"{result.fallback}")
    return 0


def cmd_deployments(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        history = client.deployments(args.model, limit=args.limit)
    if args.json:
        print_json(history)
    else:
        print_table([[h.id, h.started_at, h.strategy, h.from_version, h.to_version, h.state,
                      h.actor, h.reason] for h in history],
                    ["id", "started", "strategy", "from", "to", "state", "by", "why"])
    return 0


def cmd_serving(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        serving = client.serving()
    if args.json:
        print_json(serving)
        return 0
    print_table([[name, slot.live, slot.previous] for name, slot in
                 sorted(serving.models.items())], ["model", "live", "previous (loaded)"])
    for name, reason in serving.failed.items():
        print(f"! {name} cannot serve: {reason}")
    print()
    print_table([[key, s.requests, s.errors, s.rows, s.p50_ms, s.p95_ms, s.p99_ms]
                 for key, s in sorted(serving.stats.items())],
                ["version", "requests", "errors", "rows", "p50 ms", "p95 ms", "p99 ms"])
    log = serving.prediction_log
    print(f"\nprediction log: {log.logged_rows:,} rows logged, {log.dropped:,} dropped, "
          f"sampling {log.sample_rate:.0%}")
    what = {"ignored_columns": "ignored column (requests)",
            "unseen_categories": "unseen category (rows)"}
    issues = [[model, what.get(kind, kind), column, n]
              for model, found in sorted(log.input_issues.items())
              for kind, counts in found.items() for column, n in sorted(counts.items())]
    if issues:
        print("\ninputs the models could not use (since the daemon started):")
        print_table(issues, ["model", "what", "column", "count"])
    return 0


def cmd_predictions(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        found = client.predictions(model=args.model, request_id=args.request_id,
                                   limit=args.limit)
    if args.json:
        print_json(found)
    else:
        print_table([[p.predicted_at, p.request_id, p.row_index, f"{p.model}:{p.version}",
                      p.served_as, p.output, p.latency_ms] for p in found],
                    ["at", "request", "row", "version", "served as", "output", "ms"])
    return 0


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    def add(name: str, handler: Any, help: str) -> argparse.ArgumentParser:
        return add_command(sub, name, handler, help, common)

    p = add("predict", cmd_predict, "score rows with a served model (the production "
            "version, or --version / --alias)")
    p.add_argument("model", help="the model's name")
    p.add_argument("rows", help="a file of rows: JSON ({\"rows\": [...]}, {\"columns\": "
                   "{...}}, a list of rows), NDJSON, CSV, Parquet or Arrow (by its suffix), "
                   "or - for JSON on standard input")
    p.add_argument("--format", choices=("json", "csv", "parquet", "arrow"),
                   help="the rows' format when the suffix does not say (default: by suffix, "
                   "else JSON)")
    p.add_argument("--version", help="answer with this version, e.g. 1.1.0")
    p.add_argument("--alias", help="answer with the version this alias points at")
    p.add_argument("--explain", action="store_true", help="add per-feature contributions")

    p = add("score", cmd_score, "score a file (CSV, Parquet, NDJSON) into outbox/MODEL/")
    p.add_argument("model", help="the model's name")
    p.add_argument("file", help="the local file to score (sent to the daemon)")
    p.add_argument("--version", help="score with this version (default: production)")
    p.add_argument("--keep", action="append", metavar="COLUMN",
                   help="an input column to copy to the output (e.g. an id)")
    p.add_argument("--wait", action="store_true", help="wait until the scoring ends")
    p.add_argument("--timeout", type=float, default=3600.0,
                   help="with --wait: give up after this many seconds (default 3600)")

    p = add("deploy", cmd_deploy, "deploy a version: --canary PERCENT, --shadow, or at once; "
            "--promote / --abort a running one; no version: what is deployed")
    p.add_argument("model", help="the model's name")
    p.add_argument("version", nargs="?", help="the version to deploy (none: show what is "
                   "deployed)")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--canary", type=float, metavar="PERCENT",
                     help="send this share of requests to the version (sticky per client)")
    how.add_argument("--shadow", action="store_true",
                     help="score every request with the version too, without answering")
    how.add_argument("--promote", action="store_true",
                     help="make the running canary or shadow production")
    how.add_argument("--abort", action="store_true",
                     help="end the running canary or shadow; production stays")
    p.add_argument("--reason", help="why, for the audit log")

    p = add("drill", cmd_drill, "a failure drill: the live version fails on purpose for a "
            "number of requests, to prove the fallback and its alert")
    p.add_argument("model", help="the model's name")
    p.add_argument("--rate", type=float, default=1.0, help="share of requests that fail")
    p.add_argument("--delay-ms", type=float, default=0.0,
                   help="answer each drill request this much later (a latency drill)")
    p.add_argument("--requests", type=int, default=10,
                   help="how many requests the drill lasts (default 10)")
    p.add_argument("--reason", help="why, for the audit log")

    p = add("drift", cmd_drift, "a model's latest drift report (--now or --against to check)")
    p.add_argument("model", help="the model's name")
    p.add_argument("--against", help="a data selector the model was not trained on, e.g. "
                   "bikeshare@7")
    p.add_argument("--now", action="store_true",
                   help="check the newest data the model was not trained on, now")
    p.add_argument("--window", help="check what the model was asked lately instead: 30m, "
                   "6h, 2d (its prediction log)")
    p.add_argument("--record", action="store_true",
                   help="make the check part of the drift stream: it raises and resolves "
                   "alerts and becomes the latest (else it is ad hoc: shown, nothing moved)")
    p.add_argument("--html", metavar="FILE",
                   help="write the report as a self-contained HTML page with the plots")
    p.add_argument("--timeout", type=float, default=600.0,
                   help="give up waiting for a check after this many seconds (default 600)")

    p = add("deployments", cmd_deployments, "a model's deployment history")
    p.add_argument("model", help="the model's name")
    p.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")

    add("serving", cmd_serving, "what serves, per-version latency and errors, the log queue")

    p = add("predictions", cmd_predictions, "the prediction log, newest first")
    p.add_argument("--model", help="only this model's predictions")
    p.add_argument("--request-id", help="only this request's rows")
    p.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
