"""`mlops models card NAME:VERSION --html FILE | --md FILE` and `mlops runs compare A B --html
FILE`: reports for people who do not use a terminal.

The daemon gathers a card's facts into one document (`GET …/versions/{version}/card`);
the page is rendered here, on the client side (`card_html`, `card_markdown`,
`compare_html`), and written whole or not at all (a temp file beside it, then a rename).
The files named are checked before anything is asked of the daemon."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from mlopsd.cli import card_html, card_markdown, compare_html
from mlopsd.cli.common import (
    UsageError,
    add_command,
    client_for,
    name_and_version,
    writable_file,
    write_report,
)
from mlopsd.cli.output import print_json
from mlopsd.client import Client
from mlopsd.client.curves import by_step, curve_part
from mlopsd.client.wire import RunOut

CURVE_KEYS = 40
"""Metric histories read per run at most for a comparison's curves (a call each)."""


def cmd_card(args: argparse.Namespace) -> int:
    name, version = name_and_version(args.version)
    if not args.html and not args.md and not args.json:
        raise UsageError("name where to write the card: --html FILE and/or --md FILE")
    targets = [(writable_file(path, option), render) for path, option, render in (
        (args.html, "--html", card_html.render), (args.md, "--md", card_markdown.render))
        if path]
    with client_for(args) as client:
        card = client.model_card(name, version)
    if args.json:
        print_json(card)
    for path, render in targets:
        write_report(path, render(card))
        if not args.json:
            print(f"wrote {path} (model card of {card.model}:{card.version})")
    return 0


def write_comparison(args: argparse.Namespace, client: Client, runs: list[RunOut]) -> int:
    target = writable_file(args.html, "--html")
    curves = [run_curves(client, run) for run in runs]
    write_report(target, compare_html.render(runs, curves, made_at=datetime.now(UTC)))
    print(f"wrote {target} (runs {' vs '.join(compare_html.short(r) for r in runs)})")
    return 0


def run_curves(client: Client, run: RunOut) -> dict[str, dict[str, list[float | None]]]:
    """Per metric a run logged step by step, its series (train, holdout or logged)."""
    out: dict[str, dict[str, list[float | None]]] = {}
    for key in sorted(run.metrics)[:CURVE_KEYS]:
        metric, part = curve_part(key)
        values = by_step((p.step, p.value) for p in client.metric_history(run.id, key))
        if values:
            out.setdefault(metric, {})[part] = values
    return out


def add_card_command(models: Any, common: argparse.ArgumentParser) -> None:
    p = add_command(models, "card", cmd_card, "a version's model card as one HTML page "
                    "(charts, no network needed) or Markdown: intended use, metrics with "
                    "intervals, slices, importance, data, lineage, approvals, deploys", common)
    p.add_argument("version", metavar="NAME:VERSION", help="e.g. riders:1.0.0")
    p.add_argument("--html", metavar="FILE", help="write the card as a self-contained page")
    p.add_argument("--md", metavar="FILE", help="write the card as Markdown")
