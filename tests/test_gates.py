"""The gate's verdicts from a comparison: the CI's lower bound against min_improvement, the
absolute bar, and what passes when nothing can be compared."""

from __future__ import annotations

from mlopsd.config import GatesConfig
from mlopsd.retraining.gates import judge


def comparison(low: float | None, high: float | None, *, unscorable: str | None = None) -> dict:
    scored = unscorable is None
    return {"metric": "rmse", "challenger": {"version": "1.1.0", "value": 9.0},
            "champion": {"version": "1.0.0", "value": 10.0} if scored else None,
            "champion_unscorable": unscorable,
            "improvement": 1.0 if low is not None else None,
            "ci": [low, high] if low is not None else None, "confidence": 0.95,
            "bootstrap": 1000, "seed": 42, "skipped": 0 if low is not None else 1000}


def passed(verdicts: list[dict]) -> bool:
    return all(v["passed"] for v in verdicts)


def test_the_lower_bound_must_clear_the_minimum_improvement() -> None:
    assert passed(judge(GatesConfig(), "rmse", 9.0, comparison(0.2, 1.8)))
    assert not passed(judge(GatesConfig(), "rmse", 9.0, comparison(-0.1, 1.8)))
    assert not passed(judge(GatesConfig(), "rmse", 9.0, comparison(0.0, 0.0))), \
        "a tie is not an improvement"
    assert not passed(judge(GatesConfig(min_improvement=0.5), "rmse", 9.0,
                            comparison(0.4, 1.8)))
    assert passed(judge(GatesConfig(min_improvement=-0.5), "rmse", 9.0, comparison(-0.4, 0.1)))


def test_the_absolute_bar_goes_the_metrics_way() -> None:
    assert not passed(judge(GatesConfig(maximum=8.0), "rmse", 9.0, comparison(0.2, 1.8)))
    assert passed(judge(GatesConfig(maximum=9.5), "rmse", 9.0, comparison(0.2, 1.8)))
    verdicts = judge(GatesConfig(minimum=0.8), "auc", 0.75, None)
    assert not passed(verdicts) and "0.75 >= 0.8: not reached" in verdicts[0]["detail"]
    assert not passed(judge(GatesConfig(minimum=0.8), "auc", None, None))


def test_nothing_to_compare_with_passes_unjudged_but_no_interval_does_not() -> None:
    alone = judge(GatesConfig(), "rmse", 9.0, None)
    assert passed(alone) and alone[-1]["judged"] is False
    assert "no production version" in alone[-1]["detail"]
    unscorable = judge(GatesConfig(), "rmse", 9.0,
                       comparison(None, None, unscorable="input 'temp': no column 'temp'"))
    assert passed(unscorable) and "no column 'temp'" in unscorable[-1]["detail"]
    no_interval = judge(GatesConfig(), "rmse", 9.0, comparison(None, None))
    assert not passed(no_interval)
    assert "no confidence interval" in no_interval[-1]["detail"]
