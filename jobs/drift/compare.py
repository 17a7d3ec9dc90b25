"""One comparison of current rows with a reference profile: every column's verdict, dataset
drift, prediction drift, and whether there was enough data to say anything.

Pure (no files, no model): the drift job reads and scores, this judges — and the tests call
it directly on thousands of resamples.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from jobs.context import JobError
from jobs.drift import statistics as st
from jobs.drift import verdict
from jobs.drift.predictions import summary
from jobs.drift.profile import counted, sorted_numbers
from jobs.drift.reference import NumericReference

NOT_ENOUGH_DATA = "not_enough_data"


@dataclass(frozen=True)
class Rules:
    numeric_test: str = "auto"
    categorical_test: str = "auto"
    tests: dict[str, str] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)
    share: float = 0.5
    correction: str | None = None
    significance: float = 0.01
    min_rows: int = 100
    exclude: tuple[str, ...] = ()

    @classmethod
    def of(cls, params: dict[str, Any]) -> Rules:
        return cls(params["numeric_test"], params["categorical_test"], params["tests"],
                   params["thresholds"], params["share"], params["correction"],
                   params["significance"], params["min_rows"], tuple(params["exclude"]))


def compare(profiles: dict[str, Any], current: Any, signature: dict[str, Any], rules: Rules, *,
            current_scores: np.ndarray | Callable[[], np.ndarray] | None = None,
            raw_column: Callable[[str], np.ndarray] | None = None,
            raw_prediction: Callable[[], np.ndarray] | None = None) -> dict[str, Any]:
    """The verdicts of `current` against `profiles` (see the job): a polars frame, or
    anything with its `height` and a column by `current[name]` (jobs/drift/columns.py)."""
    inputs = [i for i in signature["inputs"] if i["name"] not in rules.exclude]
    rows = {"reference": profiles["rows"], "current": current.height}

    def one(item: dict[str, Any]) -> dict[str, Any]:
        name = item["name"]
        profile = profiles["columns"][name]
        own = rules.tests.get(name)
        if profile["kind"] == "categorical":
            if own is not None and own not in st.CATEGORICAL_TESTS:
                raise JobError(f"column {name!r} is categorical: {own!r} does not apply "
                               f"(use {', '.join(st.CATEGORICAL_TESTS)})")
            return verdict.categorical(name, profile["counts"], counted(current, name),
                                       own or rules.categorical_test,
                                       rules.thresholds.get(name),
                                       significance=rules.significance,
                                       min_rows=rules.min_rows)
        if own is not None and own not in st.NUMERIC_TESTS:
            raise JobError(f"column {name!r} is numeric: {own!r} does not apply "
                           f"(use {', '.join(st.NUMERIC_TESTS)})")
        if profile.get("empty"):
            return {"column": name, "kind": "numeric", "test": own or rules.numeric_test,
                    "drifted": None, "note": "no values in the reference data",
                    "rows": {"reference": 0, "current": current.height}}
        return verdict.numeric(name, NumericReference.from_json(profile),
                               sorted_numbers(current[name]), own or rules.numeric_test,
                               rules.thresholds.get(name), significance=rules.significance,
                               min_rows=rules.min_rows, presorted=True,
                               raw_reference=(lambda: raw_column(name)) if raw_column else None)

    # Columns in parallel (each read, judged and dropped in turn: `current` may read its
    # columns from disk as asked for): the heavy parts (read, sort) release the GIL.
    with ThreadPoolExecutor(max_workers=2) as pool:
        columns = list(pool.map(one, inputs))
    verdict.correct(columns, rules.correction)
    if callable(current_scores):  # computed once the columns are judged (see the job)
        current_scores = current_scores()
    prediction = _prediction(profiles.get("prediction"), current_scores, signature, rules,
                             raw_prediction)
    judged = [c for c in columns if c["drifted"] is not None]
    share = sum(c["drifted"] for c in judged) / len(judged) if judged else 0.0
    enough = min(rows.values()) >= rules.min_rows and bool(judged)
    note = None
    if min(rows.values()) < rules.min_rows:
        side = "current" if rows["current"] < rules.min_rows else "reference"
        note = (f"not enough data: {rows[side]} {side} row{'s' if rows[side] != 1 else ''}, "
                f"fewer than min_rows {rules.min_rows}: no verdict")
    elif not judged:
        note = "no column had enough values on both sides: no verdict"
    dataset_drift = share >= rules.share if enough else None
    names = {i["name"] for i in signature["inputs"]}
    return {"columns": columns, "excluded": [n for n in rules.exclude if n in names],
            "not_inputs": [n for n in rules.exclude if n not in names],
            "drift_share": share if enough else 0.0, "dataset_drift": dataset_drift,
            "status": NOT_ENOUGH_DATA if not enough else "drift" if dataset_drift else
            "no_drift", "note": note, "share_threshold": rules.share,
            "correction": rules.correction, "significance": rules.significance,
            "min_rows": rules.min_rows, "prediction": prediction, "rows": rows}


def _prediction(profile: dict[str, Any] | None, scores: np.ndarray | None,
                signature: dict[str, Any], rules: Rules,
                raw: Callable[[], np.ndarray] | None) -> dict[str, Any] | None:
    if profile is None or scores is None:
        return None
    if profile["kind"] == "categorical":
        return verdict.categorical("prediction", profile["counts"],
                                   summary(signature, scores)["counts"],
                                   rules.categorical_test, None,
                                   significance=rules.significance, min_rows=rules.min_rows)
    if profile.get("empty"):
        return None
    return verdict.numeric("prediction", NumericReference.from_json(profile), scores,
                           rules.numeric_test, None, significance=rules.significance,
                           min_rows=rules.min_rows, raw_reference=raw)
