"""The drift job's params and the test names (import-light: the daemon reads this)."""

from __future__ import annotations

from typing import Any

from jobs.context import InvalidParams

DESCRIPTION = ("Compare a data version with a model's training data: drift per column, "
               "dataset drift, prediction drift.")
NUMERIC_TESTS = ("ks", "wasserstein", "psi")
CATEGORICAL_TESTS = ("chisquare", "jensenshannon", "psi")
CORRECTIONS = ("none", "bonferroni", "bh")


def check_params(params: dict[str, Any]) -> dict[str, Any]:
    for key in ("reference", "current"):
        if not isinstance(params.get(key), list) or not params[key]:
            raise InvalidParams(key, "must be a non-empty list of {dataset, version, "
                                     "snapshot_sha}")
    if not isinstance(params.get("signature"), dict):
        raise InvalidParams("signature", "must be the model version's signature")
    for key, allowed in (("numeric_test", (*NUMERIC_TESTS, "auto")),
                         ("categorical_test", (*CATEGORICAL_TESTS, "auto"))):
        params.setdefault(key, "auto")
        if params[key] not in allowed:
            raise InvalidParams(key, f"must be one of {', '.join(allowed)}")
    share = params.setdefault("share", 0.5)
    if not isinstance(share, int | float) or not 0 < share <= 1:
        raise InvalidParams("share", "must be a share in (0, 1]")
    params.setdefault("thresholds", {})
    tests = params.setdefault("tests", {})
    for column, test in tests.items():
        if test not in (*NUMERIC_TESTS, *CATEGORICAL_TESTS):
            raise InvalidParams("tests", f"column {column!r}: unknown test {test!r}")
    if params.setdefault("correction", None) not in (None, *CORRECTIONS):
        raise InvalidParams("correction", f"must be one of {', '.join(CORRECTIONS)}")
    significance = params.setdefault("significance", 0.01)
    if isinstance(significance, bool) or not isinstance(significance, int | float) or not (
            0 < significance <= 1):
        raise InvalidParams("significance", "must be a p-value in (0, 1] (1: effect size "
                                            "alone decides)")
    min_rows = params.setdefault("min_rows", 100)
    if isinstance(min_rows, bool) or not isinstance(min_rows, int) or min_rows < 1:
        raise InvalidParams("min_rows", "must be a whole number of rows, at least 1")
    exclude = params.setdefault("exclude", [])
    if not isinstance(exclude, list) or not all(isinstance(c, str) for c in exclude):
        raise InvalidParams("exclude", "must be a list of column names")
    labels = params.setdefault("labels", None)
    if labels is not None and not (isinstance(labels, dict) and isinstance(
            labels.get("sha"), str) and isinstance(labels.get("id_column"), str)):
        raise InvalidParams("labels", "must be {sha, id_column}: the labels that arrived "
                                      "for the current rows")
    return params
