"""A model card as Markdown (`mlops models card NAME:VERSION --md FILE`): the HTML card's
sections as tables, for a pull request, a wiki or a repository. Charts become small
tables (the slices and the importance) or are left out (the curves: their first, kept and
last values instead).

Every text is escaped: Markdown's own marks (so a value cannot break a table or make a
link) and <, >, & (Markdown passes HTML through; a card field holding a <script> must stay
text)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mlopsd.cli import card_facts as facts
from mlopsd.client.numbers import number
from mlopsd.client.wire import ModelCardOut

_MARKS = str.maketrans({c: f"\\{c}" for c in "\\`*_[]{}|#!~"} | {
    "<": "&lt;", ">": "&gt;", "&": "&amp;", "\n": " ", "\r": " "})


def md(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return number(value)
    return str(value).translate(_MARKS)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    if not rows:
        return "_None recorded._\n"
    lines = ["| " + " | ".join(md(h) for h in headers) + " |",
             "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(md(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _text(items: Sequence[str], missing: str) -> str:
    if not items:
        return f"_{md(missing)}_\n"
    if len(items) == 1:
        return md(items[0]) + "\n"
    return "".join(f"- {md(i)}\n" for i in items)


def render(card: ModelCardOut) -> str:
    state = ", ".join(card.aliases) or "no alias"
    out = [f"# Model card: {md(card.model)} {md(card.version)}\n",
           f"{md(card.task)} model, {md(state)}{', archived' if card.archived else ''}; "
           f"registered {md(facts.when(card.created_at))}"
           + (f": {md(card.bump_reason)}" if card.bump_reason else "") + ".\n",
           f"- **Holdout**: {md(facts.headline_text(card))}",
           f"- **Trained on**: {md(facts.data_text(card))}",
           f"- **Top feature**: {md(facts.top_feature(card))}\n",
           "## Intended use\n", _text(card.card.intended_use, "Not written."),
           "## Assumptions\n", _text(card.card.assumptions, "Not written."),
           "## Limitations\n", _text(card.card.limitations, "Not written."),
           "## Metrics on the holdout\n",
           table(["metric", "holdout", "interval", "training rows", ""],
                 [[m.name, m.value, facts.interval_text(card, m), m.train_value,
                   facts.better(m)] for m in card.metrics])]
    if card.interval is not None:
        out.append(f"Intervals: {md(card.interval.method)}; {card.interval.resamples} "
                   f"resamples, seed {card.interval.seed}.\n")
    out += _slices(card)
    out.append("## Feature importance\n")
    if card.importance:
        shares = facts.gain_shares(card)
        out.append(table(["input", "total gain", "share", "splits"],
                         [[f.feature, f.gain, f"{shares.get(f.feature, 0.0):.1%}", f.split]
                          for f in card.importance]))
    else:
        out.append(f"_{facts.NOT_RECORDED}_\n")
    if card.curves:
        out.append("## Training curves\n")
        rows = []
        for curve in card.curves:
            for part, values in curve.series.items():
                kept = card.best_iteration
                rows.append([curve.metric, part, values[0] if values else None,
                             values[kept - 1] if kept and kept <= len(values) else None,
                             values[-1] if values else None, len(values)])
        out.append(table(["metric", "rows", "first round", f"kept round "
                          f"({card.best_iteration or '?'})", "last round", "rounds"], rows))
    out += _data(card)
    out += ["## Inputs\n", table(["input", "dtype", "categorical"],
                                 [[i.get("name"), i.get("dtype"),
                                   "yes" if i.get("categorical") else ""]
                                  for i in card.inputs])]
    out += ["## Lineage\n", table(["what", "value"], facts.lineage_rows(card))]
    out += ["## Approvals and decisions\n", table(
        ["when", "who", "what", "detail", "why"],
        [[facts.when(d.at), d.actor, d.action, d.detail, d.reason] for d in card.approvals])]
    out += ["## Deploy history\n", table(
        ["started", "strategy", "from", "to", "state", "who", "why"],
        [[facts.when(d.started_at), d.strategy, d.from_version, d.to_version, d.state,
          d.actor, d.reason] for d in card.deploys])]
    if card.alias_moves:
        out += ["### Alias moves\n", table(
            ["when", "alias", "from", "to", "kind", "who", "why"],
            [[facts.when(m.at), m.alias, m.from_version, m.to_version, m.kind, m.actor,
              m.reason] for m in card.alias_moves])]
    notes = facts.missing_notes(card)
    if notes:
        out += ["## Notes\n", *[f"- {md(n)}" for n in notes], ""]
    out.append(f"_Made by `mlops models card` at {md(facts.when(card.generated_at))}._")
    return "\n".join(out) + "\n"


def _slices(card: ModelCardOut) -> list[str]:
    out = ["## Slices\n"]
    if card.slices is None:
        return [*out, f"_Metrics per slice: {facts.NOT_RECORDED}._\n"]
    if not card.slices:
        return [*out, f"_{md(facts.no_slices(card))}_\n"]
    for found in card.slices:
        names = facts.slice_metric_names(card, found)
        out += [f"### By {md(found.column)}\n", f"{md(found.how[:1].upper() + found.how[1:])}.\n",
                table([found.column, "rows", *names, ""],
                      [[g.value, g.rows, *[g.metrics.get(k) for k in names],
                        "few rows: noisy" if g.few_rows else ""] for g in found.groups])]
    return out


def _data(card: ModelCardOut) -> list[str]:
    data = card.training_data
    rows = data.rows or {}
    out = ["## Training data\n",
           f"Selector `{md(data.selector)}` named {md(data.resolved)}: "
           f"{md(facts.data_text(card))}; {md(rows.get('train'))} rows trained on, "
           f"{md(rows.get('holdout'))} held out"
           + (f" ({md(data.split)} split)" if data.split else "") + ".\n",
           table(["version", "rows", "first", "last", "source file", "content hash"],
                 [[f"{v.dataset}@{v.version}", v.rows, *(v.time_range or [None, None]),
                   v.source_name, (v.content_hash or "")[:16]] for v in data.versions])]
    if data.columns:
        out += [f"### Profile of the columns ({data.profiled_versions} version(s))\n",
                table(["column", "role", "dtype", "values", "missing", "min", "max", "mean",
                       "distinct"],
                      [[c.name, c.role, c.dtype, c.count, f"{c.null_share:.1%}", c.min, c.max,
                        c.mean, c.distinct] for c in data.columns])]
    return out
