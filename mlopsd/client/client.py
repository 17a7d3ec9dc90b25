"""The one Python way to talk to the daemon: used by the CLI, the TUI and the tests.

Import-light by contract (checked by import-linter and a test): httpx and pydantic, never
the store, the jobs, DuckDB, LightGBM or SciPy.
"""

from __future__ import annotations

import getpass
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from mlopsd.client.errors import ApiError, MlopsError
from mlopsd.client.tracking import ActiveRun
from mlopsd.client.wire import (
    IGNORED_COLUMNS_HEADER,
    UNSEEN_CATEGORIES_HEADER,
    AlertOut,
    AliasMoveOut,
    AuditEntryOut,
    DatasetOut,
    DataVersionOut,
    DeploymentOut,
    DriftReportOut,
    EventOut,
    Health,
    IngestOut,
    JobKindOut,
    JobLog,
    JobOut,
    MetricPointOut,
    ModelOut,
    ModelVersionOut,
    PipelineOut,
    PredictionOut,
    ReloadOut,
    Requeued,
    ResolvedSelectorOut,
    RetrainOut,
    RunOut,
    ScheduleOut,
    ServingOut,
    Status,
    Upload,
    parse_unseen_categories,
)
from mlopsd.home import Home, resolve_home

FINAL_JOB_STATES = ("succeeded", "failed", "interrupted", "cancelled")


@dataclass(frozen=True)
class PredictionReply:
    """A prediction's reply and what its headers say about the input."""

    reply: dict[str, Any]
    ignored_columns: list[str] = field(default_factory=list)
    """Input columns the model does not use."""
    unseen_categories: dict[str, int] = field(default_factory=dict)
    """Per categorical input, the rows with a category the model never saw (scored as
    missing)."""


class DaemonNotRunning(MlopsError):
    def __init__(self, home: Home, detail: str = "") -> None:
        self.home = home
        super().__init__(
            f"no daemon is running for {home.root}; start it with `mlopsd --home {home.root}`"
            + (f" ({detail})" if detail else "")
        )


def _default_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


class Client:
    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        actor: str | None = None,
        timeout: float = 30.0,
        home: Home | None = None,
    ) -> None:
        headers = {"X-Mlops-Actor": actor or _default_actor()}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.base_url = base_url.rstrip("/")
        self.home = home
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)

    @classmethod
    def from_home(
        cls, home: str | os.PathLike[str] | Home | None = None, **kwargs: Any
    ) -> Client:
        """A client for the daemon of `home` (default: $MLOPS_HOME or ./mlops-home)."""
        h = home if isinstance(home, Home) else resolve_home(home)
        try:
            info = orjson.loads(h.daemon_json.read_bytes())
        except FileNotFoundError:
            raise DaemonNotRunning(h) from None
        except (OSError, orjson.JSONDecodeError) as exc:
            raise DaemonNotRunning(h, f"unreadable {h.daemon_json}: {exc}") from None
        host = info.get("host", "127.0.0.1")
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        try:
            token = h.read_token()
        except OSError:
            token = None
        return cls(f"http://{host}:{info['port']}", token=token, home=h, **kwargs)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- plumbing ------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._response(method, path, **kwargs)
        return orjson.loads(response.content) if response.content else None

    def _response(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        if "json" in kwargs:  # orjson: several times faster than the stdlib on big batches
            kwargs["content"] = orjson.dumps(kwargs.pop("json"))
            kwargs["headers"] = {**kwargs.get("headers", {}),
                                 "content-type": "application/json"}
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.ConnectError as exc:
            if self.home is not None:
                raise DaemonNotRunning(self.home, f"nothing answers at {self.base_url}") from exc
            raise MlopsError(f"cannot reach the daemon at {self.base_url}: {exc}") from exc
        except httpx.HTTPError as exc:
            raise MlopsError(f"{method} {path} failed: {exc}") from exc
        if response.status_code >= 400:
            raise _api_error(response)
        return response

    # --- system --------------------------------------------------------------------------

    def health(self) -> Health:
        return Health.model_validate(self._request("GET", "/api/v1/health"))

    def status(self) -> Status:
        return Status.model_validate(self._request("GET", "/api/v1/status"))

    def audit(
        self, *, limit: int = 100, action: str | None = None, subject: str | None = None
    ) -> list[AuditEntryOut]:
        params = _clean({"limit": limit, "action": action, "subject": subject})
        return [AuditEntryOut.model_validate(e) for e in self._request("GET", "/api/v1/audit",
                                                                        params=params)]

    def events(
        self, *, types: list[str] | None = None, after: int | None = None,
        timeout: float | None = None,
    ) -> Iterator[EventOut]:
        """Follow the event stream; `timeout` ends the iteration after that long quiet."""
        params = _clean({"types": ",".join(types) if types else None, "after": after})
        read_timeout = timeout if timeout is not None else None
        try:
            with self._http.stream(
                "GET", "/api/v1/events", params=params,
                timeout=httpx.Timeout(10.0, read=read_timeout),
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    raise _api_error(response)
                data: list[str] = []
                for line in response.iter_lines():
                    if line.startswith("data:"):
                        data.append(line[5:].strip())
                    elif line == "" and data:
                        payload = orjson.loads("\n".join(data))
                        data = []
                        if "id" in payload:
                            yield EventOut.model_validate(payload)
        except httpx.ReadTimeout:
            return
        except httpx.ConnectError as exc:
            if self.home is not None:
                raise DaemonNotRunning(self.home, f"nothing answers at {self.base_url}") from exc
            raise MlopsError(f"cannot reach the daemon at {self.base_url}: {exc}") from exc

    # --- jobs ----------------------------------------------------------------------------

    def job_kinds(self) -> list[JobKindOut]:
        return [JobKindOut.model_validate(k) for k in self._request("GET", "/api/v1/job-kinds")]

    def list_jobs(
        self, *, state: str | None = None, kind: str | None = None, limit: int = 100
    ) -> list[JobOut]:
        params = _clean({"state": state, "kind": kind, "limit": limit})
        return [JobOut.model_validate(j) for j in self._request("GET", "/api/v1/jobs",
                                                                 params=params)]

    def get_job(self, job_id: int) -> JobOut:
        return JobOut.model_validate(self._request("GET", f"/api/v1/jobs/{job_id}"))

    def submit_job(self, kind: str, params: dict[str, Any] | None = None) -> JobOut:
        body = {"kind": kind, "params": params or {}}
        return JobOut.model_validate(self._request("POST", "/api/v1/jobs", json=body))

    def cancel_job(self, job_id: int, reason: str | None = None) -> JobOut:
        return JobOut.model_validate(
            self._request("POST", f"/api/v1/jobs/{job_id}/cancel", json={"reason": reason})
        )

    def job_log(self, job_id: int, offset: int = 0) -> JobLog:
        return JobLog.model_validate(
            self._request("GET", f"/api/v1/jobs/{job_id}/log", params={"offset": offset})
        )

    def wait_job(self, job_id: int, *, timeout: float = 300.0, poll: float = 0.1) -> JobOut:
        """Block until the job ends; raise TimeoutError (with its state) if it does not."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.get_job(job_id)
            if job.state in FINAL_JOB_STATES:
                return job
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} is still {job.state} after {timeout} s")
            time.sleep(poll)


    # --- data --------------------------------------------------------------------------

    def list_datasets(self) -> list[DatasetOut]:
        return [DatasetOut.model_validate(d) for d in self._request("GET", "/api/v1/datasets")]

    def get_dataset(self, name: str) -> DatasetOut:
        return DatasetOut.model_validate(self._request("GET", f"/api/v1/datasets/{name}"))

    def list_versions(self, dataset: str) -> list[DataVersionOut]:
        return [DataVersionOut.model_validate(v)
                for v in self._request("GET", f"/api/v1/datasets/{dataset}/versions")]

    def get_version(self, dataset: str, version: int) -> DataVersionOut:
        return DataVersionOut.model_validate(
            self._request("GET", f"/api/v1/datasets/{dataset}/versions/{version}"))

    def list_ingests(self, *, dataset: str | None = None, outcome: str | None = None,
                     limit: int = 100) -> list[IngestOut]:
        params = _clean({"dataset": dataset, "outcome": outcome, "limit": limit})
        return [IngestOut.model_validate(i)
                for i in self._request("GET", "/api/v1/ingests", params=params)]

    def quality(self, dataset: str) -> list[dict[str, Any]]:
        """Data quality over time: per data version and column, the shares of nulls,
        out-of-range values, unseen categories and invalid values; schema changes."""
        return self._request("GET", f"/api/v1/datasets/{dataset}/quality")

    def upload(self, dataset: str, path: str | os.PathLike[str],
               filename: str | None = None) -> Upload:
        """Drop a local file into the dataset's inbox (streamed, not read into memory)."""
        name = filename or os.path.basename(path)
        with open(path, "rb") as f:
            chunks = iter(lambda: f.read(1 << 20), b"")
            body = self._request("POST", f"/api/v1/datasets/{dataset}/files",
                                 params={"filename": name}, content=chunks)
        return Upload.model_validate(body)

    def quarantine(self, dataset: str | None = None) -> list[IngestOut]:
        return [IngestOut.model_validate(i) for i in self._request(
            "GET", "/api/v1/quarantine", params=_clean({"dataset": dataset}))]

    def requeue(self, file: str) -> Requeued:
        return Requeued.model_validate(
            self._request("POST", "/api/v1/quarantine/requeue", json={"file": file}))

    def resolve_selector(self, selector: str) -> ResolvedSelectorOut:
        return ResolvedSelectorOut.model_validate(
            self._request("POST", "/api/v1/selectors/resolve", json={"selector": selector}))

    def materialise(self, selector: str) -> JobOut:
        return JobOut.model_validate(
            self._request("POST", "/api/v1/materialise", json={"selector": selector}))

    def download_artifact(self, sha: str, dest: str | os.PathLike[str]) -> None:
        """Write an artifact to `dest` (temp file + fsync + rename)."""
        tmp = f"{dest}.part"
        with self._http.stream("GET", f"/api/v1/artifacts/{sha}") as response:
            if response.status_code >= 400:
                response.read()
                raise _api_error(response)
            with open(tmp, "wb") as out:
                for chunk in response.iter_bytes(1 << 20):
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
        os.replace(tmp, dest)

    def alerts(self, *, state: str | None = None, rule: str | None = None,
               limit: int = 100) -> list[AlertOut]:
        params = _clean({"state": state, "rule": rule, "limit": limit})
        return [AlertOut.model_validate(a)
                for a in self._request("GET", "/api/v1/alerts", params=params)]

    def set_alert_state(self, alert_id: int, state: str, note: str | None = None) -> AlertOut:
        """Acknowledge ("acknowledged") or resolve ("resolved") an alert."""
        action = "ack" if state == "acknowledged" else "resolve"
        return AlertOut.model_validate(self._request(
            "POST", f"/api/v1/alerts/{alert_id}/{action}", json={"note": note}))


    # --- training, runs, registry ------------------------------------------------------

    def train(self, model: str, *, reason: str | None = None,
              tags: dict[str, str] | None = None) -> JobOut:
        return JobOut.model_validate(self._request(
            "POST", f"/api/v1/models/{model}/train", json={"reason": reason, "tags": tags or {}}))

    # --- retraining ---------------------------------------------------------------------

    def retrain(self, model: str, *, dry_run: bool = False,
                reason: str | None = None) -> RetrainOut:
        return RetrainOut.model_validate(self._request(
            "POST", f"/api/v1/models/{model}/retrain",
            json={"dry_run": dry_run, "reason": reason}))

    def pipelines(self, *, model: str | None = None, state: str | None = None,
                  limit: int = 100) -> list[PipelineOut]:
        params = _clean({"model": model, "state": state, "limit": limit})
        return [PipelineOut.model_validate(p)
                for p in self._request("GET", "/api/v1/pipelines", params=params)]

    def pipeline(self, pipeline_id: int) -> PipelineOut:
        return PipelineOut.model_validate(self._request("GET",
                                                        f"/api/v1/pipelines/{pipeline_id}"))

    def decide(self, pipeline_id: int, approve: bool, note: str | None = None) -> PipelineOut:
        """Approve (True) or reject (False) a challenger awaiting approval."""
        action = "approve" if approve else "reject"
        return PipelineOut.model_validate(self._request(
            "POST", f"/api/v1/pipelines/{pipeline_id}/{action}", json={"note": note}))

    def cancel_pipeline(self, pipeline_id: int, note: str | None = None) -> PipelineOut:
        return PipelineOut.model_validate(self._request(
            "POST", f"/api/v1/pipelines/{pipeline_id}/cancel", json={"note": note}))

    def schedules(self) -> list[ScheduleOut]:
        return [ScheduleOut.model_validate(s)
                for s in self._request("GET", "/api/v1/schedules")]

    def reload(self) -> ReloadOut:
        return ReloadOut.model_validate(self._request("POST", "/api/v1/reload"))

    def reproduce(self, name: str, version: str) -> JobOut:
        return JobOut.model_validate(
            self._request("POST", f"/api/v1/models/{name}/versions/{version}/reproduce"))

    def list_models(self) -> list[ModelOut]:
        return [ModelOut.model_validate(m) for m in self._request("GET", "/api/v1/models")]

    def get_model(self, name: str) -> ModelOut:
        return ModelOut.model_validate(self._request("GET", f"/api/v1/models/{name}"))

    def model_versions(self, name: str) -> list[ModelVersionOut]:
        return [ModelVersionOut.model_validate(v)
                for v in self._request("GET", f"/api/v1/models/{name}/versions")]

    def model_version(self, name: str, version: str) -> ModelVersionOut:
        return ModelVersionOut.model_validate(
            self._request("GET", f"/api/v1/models/{name}/versions/{version}"))

    def promote(self, name: str, version: str, *, to: str = "production",
                reason: str | None = None) -> AliasMoveOut:
        return AliasMoveOut.model_validate(self._request(
            "POST", f"/api/v1/models/{name}/aliases/{to}",
            json={"version": version, "reason": reason}))

    def rollback(self, name: str, *, alias: str = "production",
                 reason: str | None = None) -> AliasMoveOut:
        return AliasMoveOut.model_validate(self._request(
            "POST", f"/api/v1/models/{name}/rollback", json={"alias": alias, "reason": reason}))

    def alias_history(self, name: str, alias: str | None = None) -> list[AliasMoveOut]:
        return [AliasMoveOut.model_validate(m) for m in self._request(
            "GET", f"/api/v1/models/{name}/aliases/history", params=_clean({"alias": alias}))]

    def archive(self, name: str, version: str, *, reason: str | None = None
                ) -> ModelVersionOut:
        return ModelVersionOut.model_validate(self._request(
            "POST", f"/api/v1/models/{name}/versions/{version}/archive",
            json={"reason": reason}))

    # --- serving -------------------------------------------------------------------------

    def predict(self, name: str, rows: list[dict[str, Any]] | None = None, *,
                columns: dict[str, list[Any]] | None = None, version: str | None = None,
                alias: str | None = None, explain: bool = False,
                request_id: str | None = None) -> dict[str, Any]:
        """Score rows (or columns) with the production version of `name`, or with a version
        or an alias. Returns the reply: predictions (and labels, classes for classifiers),
        model, version, request_id; with explain, features, contributions, base_value."""
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
            orjson.loads(response.content), [c for c in ignored.split(",") if c],
            parse_unseen_categories(response.headers.get(UNSEEN_CATEGORIES_HEADER, "")))

    def deploy(self, name: str, version: str, *, strategy: str = "canary",
               percent: float = 10.0, reason: str | None = None,
               drill_failure_rate: float = 0.0, **policy: Any) -> dict[str, Any]:
        """Start a canary (percent of requests) or a shadow of `version`, or switch
        production to it now (strategy="blue-green")."""
        return self._request("POST", f"/api/v1/models/{name}/deploy", json={
            "version": version, "strategy": strategy, "percent": percent, "reason": reason,
            "drill_failure_rate": drill_failure_rate, **policy})

    def drill(self, name: str, *, failure_rate: float = 1.0, requests: int = 10,
              delay_ms: float = 0.0, reason: str | None = None) -> dict[str, Any]:
        """A drill: the live version fails (and/or answers `delay_ms` late) on purpose for
        `requests` requests."""
        return self._request("POST", f"/api/v1/models/{name}/drill", json={
            "failure_rate": failure_rate, "requests": requests, "delay_ms": delay_ms,
            "reason": reason})

    def deploy_status(self, name: str) -> dict[str, Any]:
        return self._request("GET", f"/api/v1/models/{name}/deploy")

    def deploy_promote(self, name: str, reason: str | None = None) -> AliasMoveOut:
        return AliasMoveOut.model_validate(self._request(
            "POST", f"/api/v1/models/{name}/deploy/promote", json={"reason": reason}))

    def deploy_abort(self, name: str, reason: str | None = None) -> dict[str, Any]:
        return self._request("POST", f"/api/v1/models/{name}/deploy/abort",
                             json={"reason": reason})

    def score(self, name: str, path: str | os.PathLike[str], *, version: str | None = None,
              keep: list[str] | None = None, filename: str | None = None) -> JobOut:
        """Score a local file (CSV, Parquet, NDJSON; streamed up) as a job; its result names
        the Parquet file written in outbox/<name>/."""
        with open(path, "rb") as f:
            chunks = iter(lambda: f.read(1 << 20), b"")
            body = self._request(
                "POST", f"/api/v1/models/{name}/score", content=chunks,
                params=_clean({"filename": filename or os.path.basename(path),
                               "version": version, "keep": keep}))
        return JobOut.model_validate(body)

    def feedback(self, name: str, labels: list[dict[str, Any]]) -> dict[str, Any]:
        """Labels for earlier predictions: [{"request_id": …, "label": …, "row": …?}]."""
        return self._request("POST", f"/v1/models/{name}/feedback", json=labels)

    def performance(self, name: str, since: str | None = None) -> dict[str, Any]:
        """Live metrics per version from labelled predictions, beside the holdout's."""
        return self._request("GET", f"/api/v1/models/{name}/performance",
                             params=_clean({"since": since}))

    def drift_check(self, name: str, against: str | None = None, *,
                    window_s: float | None = None, record: bool = False) -> JobOut:
        """Queue a drift check of the production version of `name`: against a selector
        (default the newest data it was not trained on), or against what it was asked in
        the last `window_s` seconds (its prediction log). Ad hoc unless `record`: then the
        report is part of its drift stream (moves alerts, becomes the latest)."""
        return JobOut.model_validate(self._request(
            "POST", f"/api/v1/models/{name}/drift",
            json={"against": against, "window_s": window_s, "record": record}))

    def drift_reports(self, *, model: str | None = None, dataset: str | None = None,
                      recorded: bool | None = None, limit: int = 50) -> list[DriftReportOut]:
        """Newest first; `recorded=True`: the drift stream only (ad-hoc checks left out)."""
        return [DriftReportOut.model_validate(r) for r in self._request(
            "GET", "/api/v1/drift",
            params=_clean({"model": model, "dataset": dataset, "recorded": recorded,
                           "limit": limit}))]

    def drift_report(self, report_id: int) -> DriftReportOut:
        return DriftReportOut.model_validate(self._request("GET",
                                                           f"/api/v1/drift/{report_id}"))

    def served_model(self, name: str) -> dict[str, Any]:
        """What serves for `name`: version, aliases, signature and an example request."""
        return self._request("GET", f"/v1/models/{name}")

    def serving(self) -> ServingOut:
        return ServingOut.model_validate(self._request("GET", "/api/v1/serving"))

    def deployments(self, name: str, limit: int = 100) -> list[DeploymentOut]:
        return [DeploymentOut.model_validate(d) for d in self._request(
            "GET", f"/api/v1/models/{name}/deployments", params={"limit": limit})]

    def predictions(self, *, model: str | None = None, request_id: str | None = None,
                    limit: int = 100) -> list[PredictionOut]:
        """The prediction log, newest first (one entry per scored row)."""
        return [PredictionOut.model_validate(p) for p in self._request(
            "GET", "/api/v1/predictions",
            params=_clean({"model": model, "request_id": request_id, "limit": limit}))]

    def list_runs(self, *, experiment: str | None = None, model: str | None = None,
                  filter: str | None = None, order_by: str | None = None,
                  limit: int = 100) -> list[RunOut]:
        """Runs, e.g. filter="metrics.auc > 0.8 and params.num_leaves = 31",
        order_by="metrics.auc desc"."""
        params = _clean({"experiment": experiment, "model": model, "filter": filter,
                         "order_by": order_by, "limit": limit})
        return [RunOut.model_validate(r) for r in self._request("GET", "/api/v1/runs",
                                                                 params=params)]

    def get_run(self, run_id: str) -> RunOut:
        return RunOut.model_validate(self._request("GET", f"/api/v1/runs/{run_id}"))

    def start_run(self, *, experiment: str, tags: dict[str, str] | None = None,
                  note: str | None = None, model: str | None = None,
                  flush_interval_s: float = 1.0) -> ActiveRun:
        """A run to log into; use it as a context manager (see mlopsd.client.tracking)."""
        return ActiveRun(self, experiment=experiment, tags=tags, note=note, model=model,
                         flush_interval_s=flush_interval_s)

    def metric_history(self, run_id: str, key: str) -> list[MetricPointOut]:
        return [MetricPointOut.model_validate(p)
                for p in self._request("GET", f"/api/v1/runs/{run_id}/metrics/{key}")]


def _clean(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


def _api_error(response: httpx.Response) -> ApiError:
    try:
        body = response.json()["error"]
        return ApiError(response.status_code, body.get("code", "error"), body.get("message", ""),
                        body.get("field"))
    except (ValueError, KeyError, TypeError):
        message = response.text[:500] or response.reason_phrase
        return ApiError(response.status_code, "error", message)
