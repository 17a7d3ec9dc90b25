"""LightGBM training, deterministic: same params + same rows ⇒ the same model text.

The effective parameters are the task's objective and metric, the user's `lgb_params`, then
what the job owns: `seed` (LightGBM derives its bagging, feature-fraction and other seeds from
it unless they are given), `deterministic`, `force_row_wise`, a fixed `num_threads`,
`verbosity=-1`, `num_iterations` and `early_stopping_round`. They are returned as the exact
dict given to `lgb.train`, so a run can be repeated from its record.

Early stopping watches the holdout (the only data the model did not train on), so the holdout
metrics are slightly optimistic: the number of trees was chosen on it. The training rows are
evaluated too, for the train curve (LightGBM keeps their scores; that costs one metric pass an
iteration), but never decide the stopping.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from jobs.context import JobContext
from jobs.train.evaluate import train_sample
from jobs.train.params import DEFAULT_OBJECTIVE
from jobs.train.progress import Progress

DEFAULT_METRIC = {"regression": "rmse", "binary": "binary_logloss", "multiclass": "multi_logloss"}
TRAIN, VALID = "train", "valid"


@dataclass
class Fitted:
    booster: Any
    lgb_params: dict[str, Any]
    curves: dict[str, dict[str, list[float | None]]]
    iterations: int
    """boosting rounds run (the curves' length); the model keeps `best_iteration` of them."""
    best_iteration: int
    holdout_predictions: np.ndarray | None = None
    curve_predictions: np.ndarray | None = None
    """the kept model's predictions for the holdout and for the train curve's rows, as
    LightGBM had them while training (see `_KeptPredictions`); None when they were not
    kept, and the caller predicts."""


def effective_params(params: dict[str, Any], n_classes: int | None) -> dict[str, Any]:
    task = params["task"]
    out: dict[str, Any] = {"objective": DEFAULT_OBJECTIVE[task], **params["lgb_params"]}
    if not any(k in out for k in ("metric", "metrics", "metric_types")):
        out["metric"] = DEFAULT_METRIC[task]
    if task == "multiclass":
        out["num_class"] = n_classes
    out.update(seed=params["seed"], deterministic=True, force_row_wise=True,
               num_threads=params["num_threads"], verbosity=-1,
               num_iterations=params["rounds"])
    if params["early_stopping"] is not None:
        out["early_stopping_round"] = params["early_stopping"]
    return out


_UNSAFE = re.compile(r'[\s"\',:\[\]{}]')


def lgb_feature_names(names: list[str]) -> list[str]:
    """Names LightGBM accepts in its text format (no JSON punctuation or spaces), unique."""
    out: list[str] = []
    taken: set[str] = set()
    for i, name in enumerate(names):
        safe = _UNSAFE.sub("_", name) or f"f{i}"
        if safe in taken:
            safe = f"{safe}__{i}"
        taken.add(safe)
        out.append(safe)
    return out


def fit(x_train: np.ndarray, y_train: np.ndarray, x_holdout: np.ndarray, y_holdout: np.ndarray,
        signature: dict[str, Any], params: dict[str, Any], n_classes: int | None,
        ctx: JobContext) -> Fitted:
    import lightgbm as lgb

    inputs = signature["inputs"]
    names = lgb_feature_names([item["name"] for item in inputs])
    categorical = [i for i, item in enumerate(inputs) if item["categorical"]]
    lgb_params = effective_params(params, n_classes)
    train_set = lgb.Dataset(x_train, label=y_train, feature_name=names,
                            categorical_feature=categorical, free_raw_data=True)
    valid_set = lgb.Dataset(x_holdout, label=y_holdout, reference=train_set, free_raw_data=True)
    # The train curve is a diagnostic: it is drawn on the evenly spaced sample the train_
    # metrics use, not all training rows (scoring 800,000 rows every round cost a quarter
    # of a second per 100 rounds; the holdout curve, which early stopping watches, keeps
    # every holdout row).
    sample = train_sample(len(y_train))
    curve_set = train_set if len(sample) == len(y_train) else lgb.Dataset(
        x_train[sample], label=y_train[sample], reference=train_set, free_raw_data=True)
    recorded: dict[str, Any] = {}
    kept = _KeptPredictions(holdout_idx=2 if curve_set is not train_set else 1,
                            curve_idx=1 if curve_set is not train_set else 0)
    progress = Progress(ctx, params["model"], train_name=TRAIN, valid_name=VALID)
    ctx.log.info("training %s (%s) on %d rows x %d features, up to %d rounds",
                 params["model"], params["task"], len(y_train), len(names), params["rounds"])
    booster = lgb.train(dict(lgb_params), train_set, valid_sets=[curve_set, valid_set],
                        valid_names=[TRAIN, VALID],
                        callbacks=[_TrainCurveIsTraining(), lgb.record_evaluation(recorded),
                                   kept, progress],
                        keep_training_booster=True)
    progress.finish()
    curves = {part: {metric: [_safe(v) for v in values]
                     for metric, values in recorded.get(part, {}).items()}
              for part in (TRAIN, VALID)}
    iterations = max((len(v) for part in curves.values() for v in part.values()),
                     default=booster.current_iteration())
    best = booster.best_iteration or iterations
    ctx.log.info("trained %d rounds, best iteration %d (%d events sent)", iterations, best,
                 progress.sent)
    holdout, curve = kept.at(best, booster)
    booster.free_dataset()
    return Fitted(booster, lgb_params, curves, iterations, best, holdout, curve)


class _KeptPredictions:
    """The holdout's and the train curve's predictions at the round the model will keep,
    taken from LightGBM's training state instead of predicting the rows again after training
    (0.4 s for 200,000 rows and 100 trees): they are the same bits as predicting with the
    stored model (tests/test_train_job.py checks it for each task).

    LightGBM updates those scores every round and early stopping keeps an earlier one, so a
    copy is taken each time the holdout's first metric improves, as early stopping judges
    it (strictly better; the first of equals). When the kept round is another one (several
    metrics, early stopping judging by a later one), `at` gives None and the job predicts.
    The scores come through LightGBM's private accessor, the one `lgb.train` computes its own
    metrics with: if it changes or is gone, None again."""

    order = 25  # after record_evaluation (20), so the round's evaluation is there to read

    def __init__(self, holdout_idx: int, curve_idx: int) -> None:
        self.holdout_idx, self.curve_idx = holdout_idx, curve_idx
        self.best: float | None = None
        self.round = 0
        self.holdout: np.ndarray | None = None
        self.curve: np.ndarray | None = None
        self.broken = False

    def __call__(self, env: Any) -> None:
        if self.broken:
            return
        first = next((item for item in env.evaluation_result_list or [] if item[0] == VALID),
                     None)
        if first is None:
            return
        score, higher_is_better = float(first[2]), bool(first[3])
        if self.best is not None and not (score > self.best if higher_is_better
                                          else score < self.best):
            return
        self.best, self.round = score, env.iteration + 1
        self.holdout = self._copy(env.model, self.holdout_idx)
        self.curve = self._copy(env.model, self.curve_idx)

    def _copy(self, booster: Any, data_idx: int) -> np.ndarray | None:
        try:
            return np.array(booster._Booster__inner_predict(data_idx=data_idx), copy=True)
        except (AttributeError, TypeError, ValueError):
            self.broken = True
            return None

    def at(self, kept_round: int, booster: Any) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The predictions at `kept_round`, or (None, None)."""
        if kept_round == booster.current_iteration() and not self.broken:
            holdout = self._copy(booster, self.holdout_idx)
            curve = self._copy(booster, self.curve_idx)
            return (holdout, curve) if not self.broken else (None, None)
        if kept_round == self.round and not self.broken:
            return self.holdout, self.curve
        return None, None


class _TrainCurveIsTraining:
    """Early stopping ignores the training data by its name; the train curve's sample is a
    Dataset of its own, so it is given that name before the first round (else a flat
    training loss could stop training)."""

    before_iteration = True
    order = 0

    def __call__(self, env: Any) -> None:
        if env.iteration == env.begin_iteration:
            env.model.set_train_data_name(TRAIN)


def _safe(value: float) -> float | None:
    value = float(value)
    return value if value == value and abs(value) != float("inf") else None
