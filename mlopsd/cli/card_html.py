"""A model card as one self-contained HTML page (`mlops models card NAME:VERSION --html
FILE`), for people who do not use a terminal: what the model is for and where it falls
short, the holdout's metrics with their intervals (a chart with error bars), the metrics per
slice against the whole holdout's interval, feature importance, the training curves, the
training data, the lineage, the decisions about the version and its deploy history.

Rendered from the daemon's card document alone; charts are inline SVG
(`mlopsd.cli.svg_plots`), nothing is fetched and every text is escaped."""

from __future__ import annotations

from mlopsd.cli import card_facts as facts
from mlopsd.cli.html_page import fact, page, paragraphs, table
from mlopsd.cli.svg_plots import Bar, escape, hbar_chart, line_chart
from mlopsd.client.numbers import number
from mlopsd.client.wire import CardMetricOut, CardSliceOut, ModelCardOut

IMPORTANCE_BARS = 20


def render(card: ModelCardOut) -> str:
    title = f"Model card: {card.model} {card.version}"
    body = [f"<h1>{escape(title)}</h1>", _header(card), _summary(card),
            "<h2>Intended use</h2>",
            paragraphs(card.card.intended_use, "Not written ([model.card] intended_use)."),
            "<h2>Assumptions</h2>",
            paragraphs(card.card.assumptions, "Not written ([model.card] assumptions)."),
            "<h2>Limitations</h2>",
            paragraphs(card.card.limitations, "Not written ([model.card] limitations)."),
            _metrics(card), _slices(card), _importance(card), _curves(card), _data(card),
            _inputs(card), _lineage(card), _decisions(card), _deploys(card)]
    notes = facts.missing_notes(card)
    if notes:
        body.append("<h2>Notes</h2>" + "".join(f"<p class='muted'>{escape(n)}</p>"
                                               for n in notes))
    body.append(f"<p class='muted'>Made by <code>mlops models card</code> at "
                f"{escape(facts.when(card.generated_at))}; one file, no scripts, nothing "
                "fetched.</p>")
    return page(title, body)


def _header(card: ModelCardOut) -> str:
    state = ", ".join(card.aliases) or "no alias"
    if card.archived:
        state += ", archived"
    return (f"<p>{escape(card.task)} model <b>{escape(card.model)}</b>, version "
            f"<b>{escape(card.version)}</b> ({escape(state)}), registered "
            f"{escape(facts.when(card.created_at))}"
            + (f": {escape(card.bump_reason)}" if card.bump_reason else "") + "."
            + (f" {escape(card.description)}" if card.description else "") + "</p>")


def _summary(card: ModelCardOut) -> str:
    metric = facts.headline(card)
    boxes = []
    if metric is not None:
        boxes.append(fact(f"{metric.name} on the holdout", number(metric.value),
                          f"interval {facts.interval_text(card, metric)}"))
    boxes.append(fact("trained on", card.training_data.resolved or facts.NOT_RECORDED,
                      facts.data_text(card)))
    boxes.append(fact("top feature", facts.top_feature(card),
                      "by total gain" if card.importance else ""))
    boxes.append(fact("version", card.version, ", ".join(card.aliases) or "no alias"))
    return f"<div class='facts'>{''.join(boxes)}</div>"


def _metrics(card: ModelCardOut) -> str:
    rows = [[m.name, m.value, facts.interval_text(card, m), m.train_value, facts.better(m)]
            for m in card.metrics]
    split = card.training_data.split
    out = ["<h2>Metrics on the holdout</h2>",
           f"<p>{number(facts.holdout_rows(card))} holdout rows"
           f"{f' ({escape(split)} split)' if split else ''}; the training rows' figures "
           "show the gap.</p>",
           table(["metric", "holdout", "interval", "training rows", ""], rows,
                 numeric=(1, 3))]
    if card.interval is not None:
        out.append(f"<p class='muted'>Intervals: {escape(card.interval.method)}; "
                   f"{card.interval.resamples} resamples, seed {card.interval.seed}.</p>")
    metric = facts.headline(card)
    if metric is not None and metric.value is not None:
        bars = [Bar("holdout", metric.value, metric.low, metric.high,
                    note=f"({number(facts.holdout_rows(card))} rows)")]
        if metric.train_value is not None:
            bars.append(Bar("training rows", metric.train_value, muted=True))
        what = "with its interval" if metric.low is not None else "(no interval recorded)"
        out.append("<div class='chart'>" + hbar_chart(
            bars, title=f"{metric.name} on the holdout {what}",
            x_title=f"{metric.name} ({facts.better(metric) or 'value'})") + "</div>")
    for key, value in card.other_metrics.items():
        if key == "confusion_matrix" and isinstance(value, list) and len(value) == 2:
            out.append("<h3>Confusion matrix (holdout, at the threshold)</h3>" + table(
                ["", "predicted negative", "predicted positive"],
                [["actual negative", *value[0]], ["actual positive", *value[1]]],
                numeric=(1, 2)))
    return "".join(out)


def _slices(card: ModelCardOut) -> str:
    out = ["<h2>Slices</h2>"]
    if card.slices is None:
        return out[0] + f"<p class='muted'>Metrics per slice: {facts.NOT_RECORDED}.</p>"
    if not card.slices:
        return out[0] + f"<p class='muted'>{escape(facts.no_slices(card))}</p>"
    metric = facts.headline(card)
    for found in card.slices:
        out.append(f"<h3>By {escape(found.column)}</h3><p class='muted'>"
                   f"{escape(found.how[:1].upper() + found.how[1:])}.</p>")
        if metric is not None:
            out.append("<div class='chart'>" + _slice_chart(found, metric) + "</div>")
        names = facts.slice_metric_names(card, found)
        rows = [[g.value, g.rows, *[g.metrics.get(k) for k in names],
                 "few rows: noisy" if g.few_rows else ""] for g in found.groups]
        out.append(table([found.column, "rows", *names, ""], rows,
                         numeric=tuple(range(1, len(names) + 2))))
    return "".join(out)


def _slice_chart(found: CardSliceOut, metric: CardMetricOut) -> str:
    bars = [Bar(g.value, g.metrics.get(metric.name), note=f"({number(g.rows)} rows)",
                muted=g.few_rows) for g in found.groups]
    band = (metric.low, metric.high) if metric.low is not None and metric.high is not None \
        else None
    return hbar_chart(bars, title=f"{metric.name} per value of {found.column}",
                      x_title=f"{metric.name} on the group's holdout rows "
                              f"({facts.better(metric) or 'value'}); line: whole holdout"
                              + ("; band: its interval" if band else ""),
                      reference=(metric.value, f"all {number(metric.value)}")
                      if metric.value is not None else None, band=band)


def _importance(card: ModelCardOut) -> str:
    head = "<h2>Feature importance</h2>"
    if not card.importance:
        return head + f"<p class='muted'>Feature importance: {facts.NOT_RECORDED}.</p>"
    shares = facts.gain_shares(card)
    shown = card.importance[:IMPORTANCE_BARS]
    chart = hbar_chart([Bar(f.feature, shares.get(f.feature, 0.0) * 100) for f in shown],
                       title=f"Share of the model's total gain, top {len(shown)} features",
                       x_title="share of total gain (%): how much each input's splits "
                               "reduced the loss")
    rows = [[f.feature, "yes" if f.categorical else "", f.gain,
             f"{shares.get(f.feature, 0.0):.1%}", f.split] for f in card.importance]
    return head + f"<div class='chart'>{chart}</div>" + table(
        ["input", "categorical", "total gain", "share", "splits"], rows, numeric=(2, 3, 4))


def _curves(card: ModelCardOut) -> str:
    if not card.curves:
        return ""
    out = ["<h2>Training curves</h2>"]
    names = {"train": "training rows", "holdout": "holdout", "logged": "logged"}
    for curve in card.curves:
        series = [(names.get(k, k), v) for k, v in curve.series.items()]
        marker = ((card.best_iteration, f"kept: round {card.best_iteration}")
                  if card.best_iteration else None)
        out.append("<div class='chart'>" + line_chart(
            series, title=f"{curve.metric} per boosting round", x_title="boosting round",
            y_title=curve.metric, marker=marker, dashed=["training rows"]) + "</div>")
    return "".join(out)


def _data(card: ModelCardOut) -> str:
    data = card.training_data
    out = ["<h2>Training data</h2>",
           f"<p>Selector <code>{escape(data.selector or '-')}</code> named "
           f"<code>{escape(data.resolved or '-')}</code>: {escape(facts.data_text(card))}."]
    if data.rows:
        out.append(f" {number(data.rows.get('train'))} rows trained on, "
                   f"{number(data.rows.get('holdout'))} held out"
                   + (f" ({escape(data.split)} split)" if data.split else "")
                   + (f", {number(data.rows.get('unlabelled'))} without a label left out"
                      if data.rows.get("unlabelled") else "") + ".")
    if data.time_range:
        train, hold = data.time_range.get("train") or [], data.time_range.get("holdout") or []
        out.append(f" By <code>{escape(data.time_column)}</code>: training rows "
                   f"{escape(' to '.join(map(str, train)))}; holdout "
                   f"{escape(' to '.join(map(str, hold)))}.")
    out.append("</p>")
    out.append(table(["version", "rows", "first", "last", "source file", "stored",
                      "content hash"],
                     [[f"{v.dataset}@{v.version}", v.rows,
                       *(v.time_range or [None, None]), v.source_name,
                       facts.when(v.committed_at), (v.content_hash or "")[:16]]
                      for v in data.versions], numeric=(1,)))
    if data.columns:
        out.append(f"<h3>Profile of the columns</h3><p class='muted'>Merged from the stored "
                   f"profiles of {data.profiled_versions} version(s); no data read.</p>")
        out.append(table(
            ["column", "role", "dtype", "values", "missing", "min", "max", "mean", "distinct",
             "most frequent"],
            [[c.name, c.role, c.dtype, c.count, f"{c.null_share:.1%}", c.min, c.max, c.mean,
              c.distinct, ", ".join(f"{v} ({number(n)})" for v, n in c.top or [])]
             for c in data.columns], numeric=(3, 4, 5, 6, 7, 8)))
    return "".join(out)


def _inputs(card: ModelCardOut) -> str:
    rows = [[i.get("name"), i.get("dtype"), "yes" if i.get("categorical") else ""]
            for i in card.inputs]
    target = card.target or {}
    note = (f"<p>Predicts <code>{escape(target.get('name'))}</code>"
            + (f" (classes: {escape(', '.join(map(str, target['classes'])))})"
               if target.get("classes") else "") + ".</p>") if target else ""
    return "<h2>Inputs</h2>" + note + table(["input", "dtype", "categorical"], rows)


def _lineage(card: ModelCardOut) -> str:
    return "<h2>Lineage</h2>" + table(["what", "value"],
                                      [[k, v] for k, v in facts.lineage_rows(card)])


def _decisions(card: ModelCardOut) -> str:
    rows = [[facts.when(d.at), d.actor, d.action, d.detail, d.reason,
             f"audit #{d.audit_id}" if d.audit_id else
             (f"pipeline {d.pipeline_id}" if d.pipeline_id else "")] for d in card.approvals]
    return ("<h2>Approvals and decisions</h2>" + (table(
        ["when", "who", "what", "detail", "why", "record"], rows) if rows else
        "<p class='muted'>None recorded.</p>"))


def _deploys(card: ModelCardOut) -> str:
    out = ["<h2>Deploy history</h2>"]
    if card.deploys:
        out.append(table(["started", "strategy", "from", "to", "state", "who", "why", "ended"],
                         [[facts.when(d.started_at), d.strategy, d.from_version, d.to_version,
                           d.state, d.actor, d.reason, facts.when(d.ended_at)]
                          for d in card.deploys]))
    else:
        out.append("<p class='muted'>Never deployed.</p>")
    if card.alias_moves:
        out.append("<h3>Alias moves</h3>" + table(
            ["when", "alias", "from", "to", "kind", "who", "why"],
            [[facts.when(m.at), m.alias, m.from_version, m.to_version, m.kind, m.actor,
              m.reason] for m in card.alias_moves]))
    return "".join(out)

