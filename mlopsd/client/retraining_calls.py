"""The client's calls about retraining: start a pipeline, list and show them, approve,
reject, cancel, schedules, reload mlops.toml."""

from __future__ import annotations

from mlopsd.client.pages import PagedList
from mlopsd.client.transport import Transport
from mlopsd.client.wire import PipelineOut, ReloadOut, RetrainOut, ScheduleOut


class RetrainingCalls(Transport):
    def retrain(self, model: str, *, dry_run: bool = False,
                reason: str | None = None) -> RetrainOut:
        return self._one(RetrainOut, "POST", f"/api/v1/models/{model}/retrain",
                         json={"dry_run": dry_run, "reason": reason})

    def pipelines(self, *, model: str | None = None, state: str | None = None,
                  after: str | None = None, limit: int = 100) -> PagedList[PipelineOut]:
        """Retraining pipelines, newest first; state "active": running or awaiting
        approval."""
        return self._page(PipelineOut, "/api/v1/pipelines", {
            "model": model, "state": state, "after": after, "limit": limit})

    def pipeline(self, pipeline_id: int) -> PipelineOut:
        return self._one(PipelineOut, "GET", f"/api/v1/pipelines/{pipeline_id}")

    def decide(self, pipeline_id: int, approve: bool, note: str | None = None) -> PipelineOut:
        """Approve (True) or reject (False) a challenger awaiting approval."""
        action = "approve" if approve else "reject"
        return self._one(PipelineOut, "POST", f"/api/v1/pipelines/{pipeline_id}/{action}",
                         json={"note": note})

    def cancel_pipeline(self, pipeline_id: int, note: str | None = None) -> PipelineOut:
        return self._one(PipelineOut, "POST", f"/api/v1/pipelines/{pipeline_id}/cancel",
                         json={"note": note})

    def schedules(self, *, after: str | None = None, limit: int = 100
                  ) -> PagedList[ScheduleOut]:
        """Retraining schedules by model, with their last and next run."""
        return self._page(ScheduleOut, "/api/v1/schedules", {"after": after, "limit": limit})

    def reload(self) -> ReloadOut:
        return self._one(ReloadOut, "POST", "/api/v1/reload")
