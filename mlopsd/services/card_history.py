"""A model card's record of people's decisions about one version, and where it was deployed:
read from the audit log (who registered, promoted, rolled back, canaried, archived it),
retraining pipelines (gate verdicts, approval decisions), deployments and alias history.

Each listing is bounded (the newest HISTORY entries of the model): a card is a summary, the
full record is `mlops audit --subject model:NAME`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from store import audit, deployments, pipelines
from store import models as model_repo
from store.db import Store

HISTORY = 1000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_ACTIONS = {
    "model.register": "registered",
    "model.promote": "promoted",
    "model.rollback": "rolled back",
    "model.archive": "archived",
    "deploy.canary": "canary started",
    "deploy.shadow": "shadow started",
    "deploy.aborted": "canary/shadow aborted",
    "deploy.rolled_back": "canary rolled back",
    "model.export": "exported",
    "model.reproduce": "reproduction asked",
}


def decisions(store: Store, model: str, version: str) -> list[dict[str, Any]]:
    """Oldest first: the audit entries about this version and its pipelines' gates and
    approvals."""
    out = []
    for entry in audit.list_entries(store, subject=f"model:{model}", limit=HISTORY):
        what = _about(entry.action, entry.details or {}, version)
        if what is not None:
            out.append({"at": entry.at, "actor": entry.actor, "action": what[0],
                        "detail": what[1], "reason": entry.reason, "audit_id": entry.id})
    for run in pipelines.listing(store, model=model, limit=HISTORY):
        if run.challenger == version:
            out += _pipeline_decisions(run)
    return sorted(out, key=lambda d: (d["at"] is None, d["at"] or _EPOCH))


def _about(action: str, details: dict[str, Any], version: str) -> tuple[str, str] | None:
    """(what, detail) when the entry is about `version`; None otherwise."""
    name = _ACTIONS.get(action)
    if name is None:
        return None
    if action in ("model.promote", "model.rollback"):
        alias = details.get("alias", "?")
        if details.get("to") == version:
            return name, f"{alias} moved to {version} (from {details.get('from') or 'none'})"
        if details.get("from") == version:
            return (f"{name} away", f"{alias} moved from {version} to "
                    f"{details.get('to') or 'none'}")
        return None
    if details.get("version") != version:
        return None
    extra = {"model.register": f"run {str(details.get('run_id', ''))[:12]}, job "
                               f"{details.get('job_id')}",
             "deploy.canary": f"{details.get('percent')}% of requests",
             "model.export": str(details.get("format") or "")}.get(action, "")
    return name, extra


def _pipeline_decisions(run: pipelines.Pipeline) -> list[dict[str, Any]]:
    out = []
    for step in run.steps:
        detail = step.get("detail") or {}
        if step.get("step") == "gate" and "passed" in detail:
            verdicts = "; ".join(str(v.get("detail")) for v in detail.get("verdicts") or [])
            out.append({"at": _time(step.get("ended_at") or step.get("started_at")),
                        "actor": "mlopsd", "pipeline_id": run.id,
                        "action": "gate passed" if detail["passed"] else "gate failed",
                        "detail": f"pipeline {run.id}: {verdicts}"})
        if step.get("step") == "approval":
            if detail.get("decision"):
                out.append({"at": _time(detail.get("at")), "actor": detail.get("by") or "?",
                            "action": detail["decision"], "pipeline_id": run.id,
                            "detail": f"pipeline {run.id} ({run.trigger})",
                            "reason": detail.get("note")})
            elif step.get("state") == "skipped":
                out.append({"at": _time(step.get("ended_at") or step.get("started_at")),
                            "actor": "mlopsd", "action": "approval not required",
                            "pipeline_id": run.id,
                            "detail": f"pipeline {run.id}: {detail.get('why', '')}"})
            elif step.get("state") == "waiting":
                out.append({"at": _time(step.get("started_at")), "actor": "mlopsd",
                            "action": "awaiting approval", "pipeline_id": run.id,
                            "detail": f"pipeline {run.id}: mlops approve {run.id}"})
    return out


def _time(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def deploys(store: Store, model: str, version: str) -> list[dict[str, Any]]:
    """Deploy steps (blue-green, canary, shadow, rollback) to or from this version, oldest
    first."""
    steps = deployments.history(store, model, limit=HISTORY)
    return [d.__dict__ for d in reversed(steps) if version in (d.to_version, d.from_version)]


def alias_moves(store: Store, model: str, version: str) -> list[dict[str, Any]]:
    """Moves of any alias onto or away from this version, oldest first."""
    moves = model_repo.page_alias_history(store, model, limit=HISTORY).items
    return [m.__dict__ for m in reversed(moves) if version in (m.to_version, m.from_version)]
