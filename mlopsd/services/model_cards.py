"""A model card's facts, gathered into one document (`ModelCardOut`): what mlops.toml says
about the model ([model.card]), the version's record and evaluation, its run (lineage,
curves), its training data, the decisions about it and its deploy history. Read only: a
card changes nothing.

Versions trained before cards existed (or logged from the SDK) have no evaluation; what is
missing is None and named in `not_recorded`, never an error."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from jobs.compare.params import DEFAULT_METRIC, HIGHER_IS_BETTER
from mlopsd.client.curves import by_step, curve_part
from mlopsd.config import Config
from mlopsd.services import card_data, card_history
from store import models as model_repo
from store import runs as run_repo
from store.db import Store
from store.errors import NotFound

CURVE_KEYS = 20
"""Curves a card shows at most (an SDK run may log hundreds of metrics)."""


def gather(store: Store, config: Config, name: str, version: str) -> dict[str, Any]:
    registered = model_repo.get_version(store, name, version)
    model = model_repo.get_model(store, name)
    evaluation = model_repo.get_evaluation(store, name, version) or {}
    run = _run(store, registered.run_id)
    lineage = (run.lineage if run else None) or {}
    declared = config.models().get(name)
    signature = registered.signature or {}
    metrics = registered.metrics or {}
    headline = (declared.retrain.gates.metric if declared else None) or DEFAULT_METRIC.get(
        model.task) or next(iter(metrics), "")
    not_recorded = []
    interval = evaluation.get("ci")
    if not interval:
        not_recorded.append("confidence intervals of the holdout metrics")
    if evaluation.get("slices") is None:
        not_recorded.append("metrics per slice")
    if not evaluation.get("importance"):
        not_recorded.append("feature importance")
    if not lineage:
        not_recorded.append("lineage (no training run)")
    return {
        "model": name, "version": version, "task": model.task,
        "description": model.description, "created_at": registered.created_at,
        "archived": registered.archived,
        "aliases": sorted(a for a, v in model.aliases.items() if v == version),
        "bump_reason": registered.bump_reason, "artifact_sha": registered.artifact_sha,
        "inputs": [{k: i.get(k) for k in ("name", "dtype", "categorical")}
                   for i in signature.get("inputs", [])],
        "target": signature.get("target"),
        "card": _card_text(declared),
        "headline": headline,
        "metrics": _metrics(metrics, interval),
        "interval": ({k: interval.get(k) for k in ("method", "confidence", "resamples", "rows",
                                                   "seed")} if interval else None),
        "other_metrics": {k: v for k, v in metrics.items()
                          if not isinstance(v, int | float) or isinstance(v, bool)},
        "slices": evaluation.get("slices"),
        "importance": _importance(evaluation.get("importance"), signature),
        "curves": _curves(store, run) if run else [],
        "best_iteration": evaluation.get("best_iteration"),
        "training_data": _training_data(store, lineage, evaluation, signature),
        "lineage": _lineage(registered, lineage),
        "approvals": card_history.decisions(store, name, version),
        "deploys": card_history.deploys(store, name, version),
        "alias_moves": card_history.alias_moves(store, name, version),
        "not_recorded": not_recorded,
        "generated_at": datetime.now(UTC),
    }


def _run(store: Store, run_id: str | None) -> run_repo.Run | None:
    if run_id is None:
        return None
    try:
        return run_repo.get_run(store, run_id)
    except NotFound:
        return None


def _card_text(declared: Any) -> dict[str, Any]:
    if declared is None:
        return {"declared": False}
    card = declared.card
    texts = {key: card.paragraphs(key) for key in ("intended_use", "assumptions",
                                                   "limitations")}
    return {"declared": bool(any(texts.values()) or card.slices), **texts,
            "slices": list(card.slices)}


def _metrics(metrics: dict[str, Any], interval: dict[str, Any] | None) -> list[dict[str, Any]]:
    bounds = (interval or {}).get("metrics") or {}
    out = []
    for key, value in metrics.items():
        if key.startswith("train_") or isinstance(value, bool) or not isinstance(
                value, int | float | None):
            continue
        found = bounds.get(key) or {}
        train = metrics.get(f"train_{key}")
        out.append({"name": key, "value": value, "low": found.get("low"),
                    "high": found.get("high"), "higher_is_better": HIGHER_IS_BETTER.get(key),
                    "train_value": train if isinstance(train, int | float) else None})
    return out


def _importance(found: dict[str, Any] | None, signature: dict[str, Any]
                ) -> list[dict[str, Any]] | None:
    if not found:
        return None
    gain, split = found.get("gain") or {}, found.get("split") or {}
    categorical = {i.get("name") for i in signature.get("inputs", []) if i.get("categorical")}
    rows = [{"feature": f, "gain": gain.get(f), "split": split.get(f),
             "categorical": f in categorical} for f in dict.fromkeys([*gain, *split])]
    return sorted(rows, key=lambda r: (-(r["gain"] or 0.0), -(r["split"] or 0), r["feature"]))


def _curves(store: Store, run: run_repo.Run) -> list[dict[str, Any]]:
    """Per metric LightGBM recorded each round (train_X and valid_X), both series; for a
    run logged from the SDK, every metric with more than one step."""
    series: dict[str, dict[str, list[float | None]]] = {}
    for key in sorted(run.metrics)[:CURVE_KEYS * 5]:  # bounded: a query each
        metric, part = curve_part(key)
        values = by_step((p.step, p.value) for p in run_repo.metric_history(store, run.id, key))
        if values:
            series.setdefault(metric, {})[part] = values
        if len(series) >= CURVE_KEYS:
            break
    return [{"metric": m, "series": s} for m, s in series.items()]


def _training_data(store: Store, lineage: dict[str, Any], evaluation: dict[str, Any],
                   signature: dict[str, Any]) -> dict[str, Any]:
    versions, stored = card_data.versions(store, lineage.get("data") or [])
    roles = {i.get("name"): "input" for i in signature.get("inputs", [])}
    target = (signature.get("target") or {}).get("name")
    if target:
        roles[target] = "target"
    time_range = evaluation.get("time_range")
    if time_range and time_range.get("column"):
        roles.setdefault(time_range["column"], "time column")
    selector = lineage.get("selector") or {}
    return {"selector": selector.get("written"), "resolved": selector.get("resolved"),
            "versions": versions, "time_column": (time_range or {}).get("column"),
            "time_range": time_range, "rows": evaluation.get("rows"),
            "split": evaluation.get("split_kind"),
            "columns": card_data.columns(stored, roles), "profiled_versions": len(stored)}


def _lineage(registered: model_repo.ModelVersion, lineage: dict[str, Any]) -> dict[str, Any]:
    code = lineage.get("code") or {}
    return {"run_id": registered.run_id, "job_id": lineage.get("job_id"),
            "git_commit": code.get("git_commit"), "dirty": code.get("dirty"),
            "code_path": code.get("path"), "config_hash": registered.config_hash,
            "data_key": registered.data_key, "signature_hash": registered.signature_hash,
            "seed": lineage.get("seed"),
            "libraries": {k: str(v) for k, v in (lineage.get("versions") or {}).items()},
            "host": lineage.get("host"), "model_sha": registered.artifact_sha,
            "holdout_predictions_sha": lineage.get("holdout_predictions_sha"),
            "recovered": bool(lineage.get("recovered"))}
