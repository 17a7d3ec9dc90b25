"""The gate: may the challenger replace the champion? Each gate gives a verdict with its
numbers, so the pipeline's record says exactly why.

- `minimum` / `maximum`: the challenger's metric on its holdout reaches the absolute bar;
- `significance`: the lower bound of the paired bootstrap CI of the improvement (positive =
  challenger better, on the same holdout rows) is above `min_improvement`. Without a champion
  to compare with (no production version, or one that cannot score the new data, e.g. after
  a change of input columns) there is nothing to beat: the gate says so and lets it through,
  judged on the absolute bar alone. A champion that scored but left no interval (AUC on a
  one-class holdout, every resample degenerate) does not let the challenger through.
"""

from __future__ import annotations

from typing import Any

from mlopsd.config import GatesConfig
from mlopsd.retraining.policy import HIGHER_IS_BETTER


def judge(gates: GatesConfig, metric: str, challenger_value: float | None,
          comparison: dict[str, Any] | None) -> list[dict[str, Any]]:
    verdicts: list[dict[str, Any]] = []
    higher = HIGHER_IS_BETTER[metric]
    bar = gates.minimum if higher else gates.maximum
    if bar is not None:
        ok = challenger_value is not None and (challenger_value >= bar if higher
                                               else challenger_value <= bar)
        verdicts.append({
            "gate": "minimum" if higher else "maximum", "passed": ok,
            "detail": f"{metric} {_num(challenger_value)} {'>=' if higher else '<='} {bar:g}"
                      + ("" if ok else ": not reached")})
    if comparison is None or comparison.get("champion_unscorable"):
        why = ("no production version to compare with" if comparison is None
               else f"the champion cannot score this holdout: "
               f"{comparison['champion_unscorable']}")
        verdicts.append({"gate": "significance", "passed": True, "judged": False,
                         "detail": f"not judged ({why})"})
        return verdicts
    if comparison.get("ci") is None:
        # Both scored, yet no interval (e.g. AUC on a one-class holdout): nothing shows the
        # challenger is better, so it does not pass.
        champion = (comparison.get("champion") or {}).get("value")
        verdicts.append({"gate": "significance", "passed": False, "judged": False,
                         "detail": f"{metric}: no confidence interval could be computed "
                                   f"(challenger {_num(comparison['challenger']['value'])}, "
                                   f"champion {_num(champion)}, "
                                   f"{comparison.get('skipped')} degenerate resamples)"})
        return verdicts
    low, high = comparison["ci"]
    ok = low > gates.min_improvement
    verdicts.append({
        "gate": "significance", "passed": ok, "judged": True,
        "detail": (f"{metric}: challenger {_num(comparison['challenger']['value'])} vs champion "
                   f"{_num(comparison['champion']['value'])}; improvement "
                   f"{_num(comparison['improvement'])}, {comparison['confidence']:.0%} CI "
                   f"[{_num(low)}, {_num(high)}] ({comparison['bootstrap']} paired resamples, "
                   f"seed {comparison['seed']}); lower bound "
                   f"{'above' if ok else 'not above'} the minimum improvement "
                   f"{gates.min_improvement:g}")})
    return verdicts


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value + 0.0:.6g}"  # + 0.0: no "-0"
