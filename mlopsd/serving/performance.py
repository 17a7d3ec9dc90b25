"""Live performance: logged predictions joined with the labels that came back, scored with
the same metric code as the training holdout, per version and per way of serving
(production, canary, shadow…), next to the version's holdout metrics as its baseline."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

import numpy as np

from jobs.train import evaluate
from store import models as model_repo
from store import predictions as prediction_repo
from store.db import Store
from store.errors import NotFound


def live_performance(store: Store, model: str, *, since: datetime | None = None,
                     id_column: str | None = None, dataset: str | None = None
                     ) -> dict[str, Any]:
    rows = prediction_repo.labelled_predictions(store, model, id_column=id_column,
                                                dataset=dataset, since=since)
    groups: dict[tuple[str, str], list[prediction_repo.Labelled]] = defaultdict(list)
    defaults = 0
    for row in rows:
        if row.served_as == "fallback-default":
            defaults += 1  # the configured default answered: no model's performance
            continue
        groups[(row.version, row.served_as)].append(row)
    versions = []
    for (version, served_as), labelled in sorted(groups.items()):
        try:
            record = model_repo.get_version(store, model, version)
        except NotFound:
            continue
        signature = record.signature or {}
        task = signature.get("task") or "regression"
        found = _metrics(task, signature, labelled)
        baseline = {k: v for k, v in (record.metrics or {}).items()
                    if k in found["metrics"] and isinstance(v, int | float)}
        change = {k: (found["metrics"][k] - v) / abs(v) for k, v in baseline.items()
                  if v and isinstance(found["metrics"].get(k), int | float)}
        versions.append({"version": version, "served_as": served_as, **found,
                         "baseline": baseline, "change": change})
    return {"model": model, "since": since, "labelled_rows": len(rows),
            "answered_by_default": defaults, "versions": versions}


def _metrics(task: str, signature: dict[str, Any], rows: list[prediction_repo.Labelled]
             ) -> dict[str, Any]:
    predictions = [r.output.get("prediction") if isinstance(r.output, dict) else None
                   for r in rows]
    keep = [i for i, p in enumerate(predictions)
            if isinstance(p, int | float | list) and not isinstance(p, bool)]
    if task == "regression":
        y = [rows[i].label for i in keep]
        good = [i for i, v in zip(keep, y, strict=True) if isinstance(v, int | float)]
        values = np.array([rows[i].label for i in good], dtype=np.float64)
        scores = np.array([predictions[i] for i in good], dtype=np.float64)
        metrics = evaluate.metrics(task, values, scores, n_classes=None, threshold=0.5) \
            if len(good) else {}
        return {"rows": len(good), "unusable_labels": len(rows) - len(good),
                "metrics": metrics}
    classes = (signature.get("target") or {}).get("classes") or list(range(
        2 if task == "binary" else len(predictions[keep[0]]) if keep else 0))
    index = {c: i for i, c in enumerate(classes)}
    good = [i for i in keep if _hashable(rows[i].label) and rows[i].label in index]
    y = np.array([index[rows[i].label] for i in good], dtype=np.int32)
    scores = np.array([predictions[i] for i in good], dtype=np.float64)
    metrics = evaluate.metrics(task, y, scores, n_classes=len(classes),
                               threshold=signature.get("threshold") or 0.5) if len(good) else {}
    return {"rows": len(good), "unusable_labels": len(rows) - len(good), "metrics": metrics}


def _hashable(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)
