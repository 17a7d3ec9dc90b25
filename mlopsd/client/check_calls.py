"""The client's calls for CI gates: a file checked against its dataset's rules, a model
version against production's gates. Each returns the check's job; `check_report` reads a
finished one's report."""

from __future__ import annotations

import os

from mlopsd.client.transport import Transport
from mlopsd.client.wire import CheckReport, JobOut


class CheckCalls(Transport):
    def check_data(self, dataset: str, path: str | os.PathLike[str],
                   filename: str | None = None) -> JobOut:
        """Upload a local file (streamed) to be checked against the dataset's contract and
        learned rules; nothing is stored."""
        name = filename or os.path.basename(path)
        with open(path, "rb") as f:
            chunks = iter(lambda: f.read(1 << 20), b"")
            return self._one(JobOut, "POST", f"/api/v1/datasets/{dataset}/check",
                             params={"filename": name}, content=chunks)

    def check_model(self, model: str, version: str, *, against: str = "production",
                    max_latency_ms: float | None = None, latency_rows: int = 200) -> JobOut:
        """Judge `model:version` by its retrain policy's gates against the version `against`
        names (an alias or a version); nothing is deployed."""
        return self._one(JobOut, "POST", f"/api/v1/models/{model}/versions/{version}/check",
                         json={"against": against, "max_latency_ms": max_latency_ms,
                               "latency_rows": latency_rows})

    @staticmethod
    def check_report(job: JobOut) -> CheckReport:
        """The report of a check's job once it has succeeded."""
        return CheckReport.model_validate(job.result)
