"""The client's calls about serving: predictions, feedback, deploys, drills, batch scoring,
what serves and its numbers, the prediction log."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from pydantic import TypeAdapter

from mlopsd.client.pages import PagedList
from mlopsd.client.transport import Transport
from mlopsd.client.wire import (
    IGNORED_COLUMNS_HEADER,
    UNSEEN_CATEGORIES_HEADER,
    AliasMoveOut,
    DeployAbortOut,
    DeploymentOut,
    DeployOut,
    DeployStatusOut,
    DrillOut,
    FeedbackOut,
    JobOut,
    PredictionOut,
    PredictionsOut,
    ServedModelOut,
    ServingOut,
    ServingStatsOut,
    parse_unseen_categories,
)

_DEPLOY_OUT: TypeAdapter[Any] = TypeAdapter(DeployOut)


@dataclass(frozen=True)
class PredictionReply:
    """A prediction's reply and what its headers say about the input."""

    reply: PredictionsOut
    ignored_columns: list[str] = field(default_factory=list)
    """Input columns the model does not use."""
    unseen_categories: dict[str, int] = field(default_factory=dict)
    """Per categorical input, the rows with a category the model never saw (scored as
    missing)."""


class ServingCalls(Transport):
    def predict(self, name: str, rows: list[dict[str, Any]] | None = None, *,
                columns: dict[str, list[Any]] | None = None, version: str | None = None,
                alias: str | None = None, explain: bool = False,
                request_id: str | None = None) -> PredictionsOut:
        """Score rows (or columns) with the production version of `name`, or with a version
        or an alias: predictions (and labels, classes for classifiers), model, version,
        request_id; with explain, features, contributions, base_value."""
        body = {"rows": rows} if columns is None else {"columns": columns}
        return self.predict_body(name, orjson.dumps(body), "application/json",
                                 version=version, alias=alias, explain=explain,
                                 request_id=request_id).reply

    def predict_body(self, name: str, body: bytes, content_type: str, *,
                     version: str | None = None, alias: str | None = None,
                     explain: bool = False, request_id: str | None = None) -> PredictionReply:
        """Score a request body as it is (JSON, CSV, Parquet or Arrow IPC, by
        `content_type`); the reply with the input columns the model ignored and the unseen
        categories it scored as missing."""
        if version is not None:
            path = f"/v1/models/{name}/versions/{version}/predict"
        elif alias is not None:
            path = f"/v1/models/{name}@{alias}/predict"
        else:
            path = f"/v1/models/{name}/predict"
        headers = {"content-type": content_type,
                   **({"x-request-id": request_id} if request_id else {})}
        response = self._response("POST", path, content=body, headers=headers,
                                  params={"explain": "true"} if explain else None)
        ignored = response.headers.get(IGNORED_COLUMNS_HEADER, "")
        return PredictionReply(
            PredictionsOut.model_validate_json(response.content),
            [c for c in ignored.split(",") if c],
            parse_unseen_categories(response.headers.get(UNSEEN_CATEGORIES_HEADER, "")))

    def served_model(self, name: str) -> ServedModelOut:
        """What serves for `name`: version, aliases, signature and an example request."""
        return self._one(ServedModelOut, "GET", f"/v1/models/{name}")

    def feedback(self, name: str, labels: list[dict[str, Any]]) -> FeedbackOut:
        """Labels for earlier predictions: [{"request_id": …, "label": …, "row": …?}]."""
        return self._one(FeedbackOut, "POST", f"/v1/models/{name}/feedback", json=labels)

    def deploy(self, name: str, version: str, *, strategy: str = "canary",
               percent: float = 10.0, reason: str | None = None,
               drill_failure_rate: float = 0.0, **policy: Any) -> DeployOut:
        """Start a canary (percent of requests) or a shadow of `version`, or switch
        production to it now (strategy="blue-green")."""
        body = self._request("POST", f"/api/v1/models/{name}/deploy", json={
            "version": version, "strategy": strategy, "percent": percent, "reason": reason,
            "drill_failure_rate": drill_failure_rate, **policy})
        deployed: DeployOut = _DEPLOY_OUT.validate_python(body)
        return deployed

    def drill(self, name: str, *, failure_rate: float = 1.0, requests: int = 10,
              delay_ms: float = 0.0, reason: str | None = None) -> DrillOut:
        """A drill: the live version fails (and/or answers `delay_ms` late) on purpose for
        `requests` requests."""
        return self._one(DrillOut, "POST", f"/api/v1/models/{name}/drill", json={
            "failure_rate": failure_rate, "requests": requests, "delay_ms": delay_ms,
            "reason": reason})

    def deploy_status(self, name: str) -> DeployStatusOut:
        return self._one(DeployStatusOut, "GET", f"/api/v1/models/{name}/deploy")

    def deploy_promote(self, name: str, reason: str | None = None) -> AliasMoveOut:
        return self._one(AliasMoveOut, "POST", f"/api/v1/models/{name}/deploy/promote",
                         json={"reason": reason})

    def deploy_abort(self, name: str, reason: str | None = None) -> DeployAbortOut:
        return self._one(DeployAbortOut, "POST", f"/api/v1/models/{name}/deploy/abort",
                         json={"reason": reason})

    def score(self, name: str, path: str | os.PathLike[str], *, version: str | None = None,
              keep: list[str] | None = None, filename: str | None = None) -> JobOut:
        """Score a local file (CSV, Parquet, NDJSON; streamed up) as a job; its result names
        the Parquet file written in outbox/<name>/."""
        with open(path, "rb") as f:
            chunks = iter(lambda: f.read(1 << 20), b"")
            params = {"filename": filename or os.path.basename(path), "version": version,
                      "keep": keep}
            return self._one(JobOut, "POST", f"/api/v1/models/{name}/score", content=chunks,
                             params={k: v for k, v in params.items() if v is not None})

    def serving(self) -> ServingOut:
        return self._one(ServingOut, "GET", "/api/v1/serving")

    def serving_stats(self, name: str, *, since: datetime | None = None,
                      until: datetime | None = None, bucket_s: float | None = None
                      ) -> ServingStatsOut:
        """Requests, rows and latency per version and time bucket between two times
        (default: the last hour), from the prediction log."""
        params = {"since": since.isoformat() if since else None,
                  "until": until.isoformat() if until else None, "bucket_s": bucket_s}
        return self._one(ServingStatsOut, "GET", f"/api/v1/models/{name}/serving-stats",
                         params={k: v for k, v in params.items() if v is not None})

    def deployments(self, name: str, *, after: str | None = None, limit: int = 100
                    ) -> PagedList[DeploymentOut]:
        """Every deploy step of the model, newest first."""
        return self._page(DeploymentOut, f"/api/v1/models/{name}/deployments",
                          {"after": after, "limit": limit})

    def predictions(self, *, model: str | None = None, request_id: str | None = None,
                    after: str | None = None, limit: int = 100) -> PagedList[PredictionOut]:
        """The prediction log, newest first (one entry per scored row)."""
        return self._page(PredictionOut, "/api/v1/predictions", {
            "model": model, "request_id": request_id, "after": after, "limit": limit})
