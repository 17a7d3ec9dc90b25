"""The actions on a model, each described before it is done (what will change) and done
through the source with the reason the user gave. The Models screen, the Pipelines screen
and the command palette ("riders: roll back to 1.0.0") all use these."""

from __future__ import annotations

from dataclasses import dataclass

from mlopsd.client.wire import AliasMoveOut
from tui.dialogs.confirm_action import ActionInput, ActionSpec
from tui.source import DaemonSource

KINDS = ("promote", "canary", "shadow", "rollback", "archive", "approve", "reject",
         "end_deploy", "retrain")


def rollback_target(history: list[AliasMoveOut], alias: str = "production") -> str | None:
    """The version a rollback of `alias` goes back to, as the daemon decides it: moves
    replayed oldest first as a stack (a move pushes, a rollback pops)."""
    stack: list[str | None] = []
    for move in sorted((m for m in history if m.alias == alias), key=lambda m: m.id):
        if move.kind == "rollback":
            if stack:
                stack.pop()
        else:
            stack.append(move.to_version)
    target = stack[-2] if len(stack) >= 2 else None
    return target


@dataclass(frozen=True)
class ModelAction:
    kind: str
    model: str
    version: str | None = None
    """The version acted on (promote, canary, shadow, archive; approve/reject: the
    challenger; rollback: the version it goes back to)."""
    production: str | None = None
    pipeline_id: int | None = None
    dry_run: bool = False

    def label(self) -> str:
        """As the command palette lists it."""
        m, v = self.model, self.version
        return {
            "promote": f"{m}: promote {v} to production",
            "canary": f"{m}: deploy {v} as a canary",
            "shadow": f"{m}: deploy {v} as a shadow",
            "rollback": f"{m}: roll back to {v}",
            "archive": f"{m}: archive {v}",
            "approve": f"{m}: approve {v} (pipeline {self.pipeline_id})",
            "reject": f"{m}: reject {v} (pipeline {self.pipeline_id})",
            "end_deploy": f"{m}: end the canary or shadow",
            "retrain": f"{m}: retrain now" + (" (dry run)" if self.dry_run else ""),
        }[self.kind]

    def spec(self) -> ActionSpec:
        m, v, live = self.model, self.version, self.production or "nothing"
        if self.kind == "promote":
            return ActionSpec(f"Promote {m} {v} to production", [
                f"production moves from {live} to {v} (blue-green: {v} is loaded, checked "
                "and warmed up beside the live version, then switched at once)",
                f"{live} stays loaded, so a rollback is instant",
                "recorded in the alias history, the deployments and the audit log"],
                confirm="Promote")
        if self.kind in ("canary", "shadow"):
            what = ([f"a share of {m}'s requests is answered by {v}; {live} answers the rest",
                     "the daemon rolls the canary back by itself if its error rate or p95 "
                     "latency is worse than production's"]
                    if self.kind == "canary" else
                    [f"{v} scores every request to {m} after {live} has answered; its "
                     "answers are compared, never returned"])
            return ActionSpec(f"Deploy {m} {v} as a {self.kind}",
                              [*what, "production stays on " + live,
                               "recorded in the deployments and the audit log"],
                              confirm=f"Start {self.kind}",
                              number_label="Share of requests, in percent"
                              if self.kind == "canary" else None)
        if self.kind == "rollback":
            return ActionSpec(f"Roll back {m}", [
                f"production moves back from {live} to {v} (kept loaded: instant)",
                "recorded as a rollback in the alias history and the audit log"],
                confirm="Roll back")
        if self.kind == "archive":
            return ActionSpec(f"Archive {m} {v}", [
                f"{m} {v} keeps its record, metrics and lineage",
                "no alias can point at it again (an aliased version cannot be archived)",
                "recorded in the audit log"], confirm="Archive")
        if self.kind in ("approve", "reject"):
            approve = self.kind == "approve"
            return ActionSpec(f"{'Approve' if approve else 'Reject'} {m} {v}", [
                f"pipeline {self.pipeline_id} is awaiting approval of its challenger {v}",
                (f"approve: the pipeline goes on and deploys {v} by the model's policy "
                 f"(production is {live} now)") if approve else
                f"reject: the pipeline ends and {v} is archived; production stays {live}",
                "the decision and its note are recorded in the pipeline and the audit log"],
                confirm="Approve" if approve else "Reject",
                reason_label="Note (recorded with the decision)")
        if self.kind == "end_deploy":
            return ActionSpec(f"End {m}'s canary or shadow", [
                f"the canary or shadow stops; production stays {live}",
                "recorded in the deployments and the audit log"], confirm="End it")
        if self.kind == "retrain":
            return ActionSpec(f"Retrain {m} now" + (" (dry run)" if self.dry_run else ""), [
                "a retraining pipeline starts: data, training, comparison with production, "
                "gates" + ("; a dry run stops at the gate's decision" if self.dry_run else
                           ", then approval and deployment by the model's policy"),
                "one pipeline per model: if one runs already this is merged into it"],
                confirm="Retrain")
        raise ValueError(self.kind)

    def perform(self, source: DaemonSource, given: ActionInput) -> str:
        """Do it (in a thread); returns what happened, in words."""
        m, v, reason = self.model, self.version, given.reason
        if self.kind == "promote":
            move = source.promote(m, v or "", "production", reason)
            return f"{m}: production {move.from_version or '-'} → {move.to_version}"
        if self.kind in ("canary", "shadow"):
            percent = given.number if given.number is not None else 10.0
            reply = source.deploy(m, v or "", self.kind, percent, reason)
            share = f" on {getattr(reply, 'percent', percent)}% of requests" \
                if self.kind == "canary" else ""
            return f"{m}: {v} runs as a {self.kind}{share}"
        if self.kind == "rollback":
            move = source.rollback(m, reason)
            return f"{m}: production rolled back {move.from_version} → {move.to_version}"
        if self.kind == "archive":
            source.archive(m, v or "", reason)
            return f"{m}: {v} archived"
        if self.kind in ("approve", "reject"):
            pipeline = source.decide(self.pipeline_id or 0, self.kind == "approve", reason)
            return f"{m}: pipeline {pipeline.id} {self.kind}d ({pipeline.state})"
        if self.kind == "end_deploy":
            source.deploy_abort(m, reason)
            return f"{m}: canary/shadow ended; production stays {self.production}"
        if self.kind == "retrain":
            out = source.retrain(m, reason, dry_run=self.dry_run)
            if out.pipeline is None:
                return f"{m}: no retrain ({out.skipped})"
            merged = " (merged into the running one)" if out.merged else ""
            return f"{m}: pipeline {out.pipeline.id} {out.pipeline.state}{merged}"
        raise ValueError(self.kind)
