"""What both renderings of a model card (HTML and Markdown) say the same way: the headline
figure with its interval, the data in one line, times, the notes on what was not
recorded. Pure functions of the card document (`ModelCardOut`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mlopsd.client.numbers import number
from mlopsd.client.wire import CardMetricOut, CardSliceOut, ModelCardOut

NOT_RECORDED = "not recorded for this version"


def headline(card: ModelCardOut) -> CardMetricOut | None:
    found = [m for m in card.metrics if m.name == card.headline]
    return found[0] if found else (card.metrics[0] if card.metrics else None)


def slice_metric_names(card: ModelCardOut, found: CardSliceOut) -> list[str]:
    """A slice table's metric columns in the holdout table's order (the headline first),
    then any the holdout table does not have."""
    names = {k for g in found.groups for k in g.metrics}
    first = headline(card)
    order = [first.name] if first is not None else []
    order += [m.name for m in card.metrics if m.name not in order]
    return [n for n in order if n in names] + sorted(names - set(order))


def better(metric: CardMetricOut) -> str:
    if metric.higher_is_better is None:
        return ""
    return "higher is better" if metric.higher_is_better else "lower is better"


def interval_text(card: ModelCardOut, metric: CardMetricOut) -> str:
    """"53.17 to 59.56 (95%)" or what stands in for it."""
    if card.interval is None:
        return NOT_RECORDED
    if metric.low is None or metric.high is None:
        return "none (every resample degenerate)"
    return (f"{number(metric.low)} to {number(metric.high)} "
            f"({card.interval.confidence:.0%})")


def headline_text(card: ModelCardOut) -> str:
    metric = headline(card)
    if metric is None:
        return "no metrics recorded"
    return f"{metric.name} {number(metric.value)}, interval {interval_text(card, metric)}"


def holdout_rows(card: ModelCardOut) -> int | None:
    rows = card.training_data.rows or {}
    return rows.get("holdout")


def data_text(card: ModelCardOut) -> str:
    """bikes@1,2 (17,379 rows, 2011-01-01 to 2012-12-31)"""
    data = card.training_data
    if not data.versions:
        return NOT_RECORDED
    rows = [v.rows for v in data.versions]
    total = sum(r for r in rows if r is not None) if any(r is not None for r in rows) else None
    span = time_span(card)
    return (f"{data.resolved or ', '.join(f'{v.dataset}@{v.version}' for v in data.versions)}"
            f" ({number(total) if total is not None else '?'} rows"
            + (f", {span}" if span else "") + ")")


def time_span(card: ModelCardOut) -> str:
    data = card.training_data
    if data.time_range:
        # a random or stratified holdout spans the training rows' time: the ends can be
        # either part's (ISO times of one column: their text sorts as the times do)
        ends = [t for part in ("train", "holdout") for t in data.time_range.get(part) or []
                if t]
        if ends:
            return f"{day(min(ends))} to {day(max(ends))}"
    ranges = [v.time_range for v in data.versions if v.time_range and all(v.time_range)]
    if ranges:
        return f"{day(min(r[0] for r in ranges))} to {day(max(r[1] for r in ranges))}"
    return ""


def day(text: Any) -> str:
    return str(text)[:10] if text else "?"


def when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S} UTC" if value is not None else "-"


def top_feature(card: ModelCardOut) -> str:
    if not card.importance:
        return NOT_RECORDED
    return card.importance[0].feature


def gain_shares(card: ModelCardOut) -> dict[str, float]:
    total = sum(f.gain or 0.0 for f in card.importance or [])
    return {f.feature: (f.gain or 0.0) / total for f in card.importance or []} if total else {}


def no_slices(card: ModelCardOut) -> str:
    """What a card says when its version recorded no slices."""
    if card.card.slices:
        return (f"This version was trained before [model.card] slices named "
                f"{', '.join(card.card.slices)}: the next training measures them.")
    return "No slice columns declared ([model.card] slices = [\"column\", …], up to 3)."


def missing_notes(card: ModelCardOut) -> list[str]:
    notes = []
    if card.not_recorded:
        notes.append(f"Not recorded for this version: {', '.join(card.not_recorded)} (its "
                     "training predates model cards or it was logged from the SDK; `mlops "
                     "train` records them for the next version).")
    if card.lineage.recovered:
        notes.append("Its lineage was rebuilt after a daemon restart during its training: "
                     "the code's git state was not recorded.")
    if not card.card.declared:
        notes.append(f"mlops.toml has no [model.card] for {card.model}: intended use, "
                     "assumptions and limitations are not written yet.")
    return notes


def lineage_rows(card: ModelCardOut) -> list[tuple[str, Any]]:
    li = card.lineage
    code = li.git_commit or ("not a git repository" if li.code_path else NOT_RECORDED)
    if li.git_commit and li.dirty:
        code += " (with uncommitted changes)"
    rows: list[tuple[str, Any]] = [
        ("code version (git commit)", code), ("code folder", li.code_path),
        ("config hash", li.config_hash), ("seed", li.seed),
        ("data key (data versions + window)", li.data_key),
        ("input signature hash", li.signature_hash), ("run", li.run_id),
        ("training job", li.job_id), ("model text sha256", li.model_sha),
        ("holdout predictions sha256", li.holdout_predictions_sha), ("host", li.host)]
    rows += [(f"library: {k}", v) for k, v in sorted(li.libraries.items())]
    return rows
