"""`mlops check model NAME:VERSION --against production`: the retraining pipeline's gate for
a version already registered, without deploying it.

The same steps as a pipeline's evaluate, compare and gate (`data_to_approval.py`): the
policy from the model's `[model.retrain]` (defaults when it has none), the compare job on
the version's own holdout against the version the alias points at (its params built by
`comparison.compare_params`, as the pipeline's), and `gates.judge`. Two checks more: the
latency of a single prediction (timed in the same job) against a bound, and an input
signature compatible with the other version's. Nothing moves: no alias, no deployment, no
pipeline row; the job's submission is its audit entry (as for every job), and its result
is the report.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlopsd.config import Config, GatesConfig, ModelConfig, RetrainConfig
from mlopsd.retraining import gates, signatures
from mlopsd.retraining.comparison import compare_params
from mlopsd.retraining.policy import HIGHER_IS_BETTER, PolicyError, metric_for
from mlopsd.runtime.runner import JobRunner
from mlopsd.services.errors import ServiceError
from mlopsd.serving.served import PRODUCTION
from store import jobs as job_repo
from store import models as model_repo
from store import runs as run_repo
from store.db import Store
from store.errors import NotFound
from store.jobs import Job

log = logging.getLogger("mlops.retraining")

LATENCY_ROWS = 200
"""Single-row predictions timed by default."""
STATUSES = ("passed", "failed", "skipped")


class GateError(ServiceError):
    pass


@dataclass(frozen=True)
class _Asked:
    """What a check was asked with: the label of the version it is judged against, the
    policy's gates and the latency bound. Kept in the job's params (`gate`), so a job run
    again after a restart is judged by what was asked, not by the config then in force."""

    against: str
    gates: GatesConfig
    bound_ms: float
    bound_from: str

    def params(self) -> dict[str, Any]:
        return {"against": self.against, "max_latency_ms": self.bound_ms,
                "latency_bound_from": self.bound_from, "minimum": self.gates.minimum,
                "maximum": self.gates.maximum,
                "min_improvement": self.gates.min_improvement}

    @classmethod
    def of(cls, params: dict[str, Any]) -> _Asked:
        gate = params["gate"]
        gates = GatesConfig(metric=params["metric"], minimum=gate["minimum"],
                            maximum=gate["maximum"], min_improvement=gate["min_improvement"],
                            bootstrap=params["bootstrap"], confidence=params["confidence"],
                            seed=params["seed"])
        return cls(gate["against"], gates, gate["max_latency_ms"], gate["latency_bound_from"])


class ModelGate:
    def __init__(self, store: Store, runner: JobRunner, config: Callable[[], Config]) -> None:
        self.store, self.runner, self.config = store, runner, config
        runner.completions["gate_model"] = self._complete

    def submit(self, name: str, version: str, *, against: str = PRODUCTION,
               max_latency_ms: float | None = None, latency_rows: int = LATENCY_ROWS,
               actor: str) -> Job:
        """Queue the check of `name:version` against the version `against` names (an alias
        or a version); the job's result is the report."""
        candidate = model_repo.get_version(self.store, name, version)
        registered = model_repo.get_model(self.store, name)
        champion = self._champion(name, registered.aliases, against)
        declared = self.config().models().get(name)
        policy = declared.retrain if declared else RetrainConfig()
        try:
            metric = metric_for(registered.task, policy.gates.metric)
        except PolicyError as exc:
            raise GateError(422, f"{name}:{version}: {exc}", "version") from None
        params = compare_params(self.store, name, self._train_params(candidate), candidate,
                                champion, metric, policy.gates)
        params["latency"] = {"rows": latency_rows}
        label = against if champion is None or against == champion.version else (
            f"{against} ({champion.version})")
        params["gate"] = _Asked(label, policy.gates, *self._bound(declared, max_latency_ms)
                                ).params()
        return self.runner.submit("gate_model", params, actor=actor)

    def _champion(self, name: str, aliases: dict[str, str], against: str
                  ) -> model_repo.ModelVersion | None:
        """The version `against` names; None when it is `production` and none is (the
        pipeline's rule: with no production version there is nothing to beat)."""
        if against in aliases:
            return model_repo.get_version(self.store, name, aliases[against])
        try:
            return model_repo.get_version(self.store, name, against)
        except NotFound:
            if against == PRODUCTION:
                return None
        shown = ", ".join(f"{a}={v}" for a, v in sorted(aliases.items())) or "none"
        raise GateError(404, f"{name} has no alias or version {against!r} (aliases: {shown})",
                        "against")

    def _train_params(self, candidate: model_repo.ModelVersion) -> dict[str, Any]:
        """The params of the job that trained the version: its holdout is cut again from
        them, so both versions are scored on the rows it was judged on."""
        job_id = None
        if candidate.run_id is not None:
            job_id = (run_repo.get_run(self.store, candidate.run_id).lineage or {}).get(
                "job_id")
        if job_id is None:
            raise GateError(409, f"{candidate.model}:{candidate.version} was not trained by "
                            "this daemon (logged from the SDK): no training job records the "
                            "holdout it was judged on, so it cannot be compared on the same "
                            "rows", "version")
        return job_repo.get_job(self.store, job_id).params

    def _bound(self, declared: ModelConfig | None, asked: float | None) -> tuple[float, str]:
        if asked is not None:
            return asked, "asked for (--max-latency-ms)"
        if declared is not None and declared.monitoring.latency_p95_ms is not None:
            return (declared.monitoring.latency_p95_ms,
                    f"{declared.name}'s [model.monitoring] latency_p95_ms")
        return self.config().monitoring.latency_p95_ms, "[monitoring] latency_p95_ms"

    # --- the report ------------------------------------------------------------------------

    def _complete(self, job: Job, result: dict[str, Any]) -> dict[str, Any]:
        params, metric = job.params, result["metric"]
        asked = _Asked.of(params)
        # As the pipeline's gate: without a champion there is no comparison to judge.
        comparison = result if params["champion"] is not None else None
        verdicts = gates.judge(asked.gates, metric, result["challenger"]["value"], comparison)
        checks = [_gate_check(v, metric, asked) for v in verdicts]
        if verdicts[0]["gate"] == "significance":
            checks.insert(0, {"name": "floor", "target": metric, "status": "skipped",
                              "level": "error", "rule": None,
                              "message": "no minimum or maximum set in [model.retrain.gates]"})
        checks.append(_latency_check(result.get("latency"), asked))
        checks.append(_signature_check(params, asked))
        statuses = [c["status"] for c in checks]
        return {
            "kind": "model",
            "subject": f"{params['model']}:{params['challenger']['version']}",
            "against": asked.against,
            "verdict": "fail" if "failed" in statuses else "pass",
            "summary": ", ".join(f"{statuses.count(s)} {s}" for s in STATUSES
                                 if s in statuses),
            "metric": metric,
            "comparison": {k: result.get(k) for k in (
                "rows", "challenger", "champion", "champion_unscorable", "improvement", "ci",
                "confidence", "bootstrap", "seed", "holdout_matches_training")},
            "latency": result.get("latency"),
            "checks": checks,
        }


def _gate_check(verdict: dict[str, Any], metric: str, asked: _Asked) -> dict[str, Any]:
    policy = asked.gates
    if verdict["gate"] == "significance":
        rule = (f"the lower bound of the {policy.confidence:.0%} paired bootstrap CI of the "
                f"improvement over {asked.against} above {policy.min_improvement:g} "
                "([model.retrain.gates] min_improvement)")
    else:
        bar = policy.minimum if HIGHER_IS_BETTER[metric] else policy.maximum
        rule = (f"{metric} {'>=' if verdict['gate'] == 'minimum' else '<='} {bar:g} on its "
                f"holdout ([model.retrain.gates] {verdict['gate']})")
    status = ("failed" if not verdict["passed"] else
              "skipped" if verdict.get("judged") is False else "passed")
    return {"name": "floor" if verdict["gate"] != "significance" else "significance",
            "target": metric, "status": status, "level": "error", "rule": rule,
            "message": verdict["detail"]}


def _latency_check(latency: dict[str, Any] | None, asked: _Asked) -> dict[str, Any]:
    rule = f"p95 of single-row predictions <= {asked.bound_ms:g} ms ({asked.bound_from})"
    if latency is None:  # not measured: cannot happen for this kind, said if it does
        return {"name": "latency", "target": "single row", "status": "skipped",
                "level": "error", "rule": rule, "message": "not measured"}
    ok = latency["p95_ms"] <= asked.bound_ms
    return {"name": "latency", "target": "single row", "status": "passed" if ok else "failed",
            "level": "error", "rule": rule,
            "message": f"p50 {latency['p50_ms']:g} ms, p95 {latency['p95_ms']:g} ms, slowest "
                       f"{latency['max_ms']:g} ms over {latency['rows']} rows "
                       f"({latency['what']})"}


def _signature_check(params: dict[str, Any], asked: _Asked) -> dict[str, Any]:
    rule = f"the same inputs, dtypes, categorical flags and task as {asked.against}"
    champion = params["champion"]
    if champion is None:
        return {"name": "signature", "target": "inputs", "status": "skipped", "level": "error",
                "rule": rule, "message": f"not judged: no {asked.against} version to "
                                         "compare with"}
    found = signatures.differences(params["challenger"]["signature"], champion["signature"],
                                   against=asked.against)
    inputs = len(params["challenger"]["signature"].get("inputs") or [])
    return {"name": "signature", "target": "inputs", "status": "failed" if found else "passed",
            "level": "error", "rule": rule,
            "message": "; ".join(found) if found else
            f"compatible: the same {inputs} inputs as {champion['version']}"}
