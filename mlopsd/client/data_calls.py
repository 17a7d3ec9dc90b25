"""The client's calls about data: datasets, versions, drops, quarantine, selectors,
artifacts, quality."""

from __future__ import annotations

import os

from mlopsd.client.pages import PagedList
from mlopsd.client.transport import Transport, api_error
from mlopsd.client.wire import (
    DatasetOut,
    DataVersionOut,
    IngestOut,
    JobOut,
    QualityPointOut,
    Requeued,
    ResolvedSelectorOut,
    Upload,
)


class DataCalls(Transport):
    def list_datasets(self, *, after: str | None = None, limit: int = 100
                      ) -> PagedList[DatasetOut]:
        """Datasets by name."""
        return self._page(DatasetOut, "/api/v1/datasets", {"after": after, "limit": limit})

    def get_dataset(self, name: str) -> DatasetOut:
        return self._one(DatasetOut, "GET", f"/api/v1/datasets/{name}")

    def list_versions(self, dataset: str, *, after: str | None = None, limit: int = 100
                      ) -> PagedList[DataVersionOut]:
        """A dataset's data versions, oldest first (without their profiles)."""
        return self._page(DataVersionOut, f"/api/v1/datasets/{dataset}/versions",
                          {"after": after, "limit": limit})

    def get_version(self, dataset: str, version: int) -> DataVersionOut:
        return self._one(DataVersionOut, "GET",
                         f"/api/v1/datasets/{dataset}/versions/{version}")

    def list_ingests(self, *, dataset: str | None = None, outcome: str | None = None,
                     after: str | None = None, limit: int = 100) -> PagedList[IngestOut]:
        """What became of every dropped file, newest first."""
        return self._page(IngestOut, "/api/v1/ingests", {
            "dataset": dataset, "outcome": outcome, "after": after, "limit": limit})

    def quality(self, dataset: str) -> list[QualityPointOut]:
        """Data quality over time: per data version and column, the shares of nulls,
        out-of-range values, unseen categories and invalid values; schema changes."""
        return self._many(QualityPointOut, f"/api/v1/datasets/{dataset}/quality")

    def upload(self, dataset: str, path: str | os.PathLike[str],
               filename: str | None = None) -> Upload:
        """Drop a local file into the dataset's inbox (streamed, not read into memory)."""
        name = filename or os.path.basename(path)
        with open(path, "rb") as f:
            chunks = iter(lambda: f.read(1 << 20), b"")
            return self._one(Upload, "POST", f"/api/v1/datasets/{dataset}/files",
                             params={"filename": name}, content=chunks)

    def quarantine(self, dataset: str | None = None, *, after: str | None = None,
                   limit: int = 100) -> PagedList[IngestOut]:
        """Rejected files still in quarantine, newest first."""
        return self._page(IngestOut, "/api/v1/quarantine",
                          {"dataset": dataset, "after": after, "limit": limit})

    def requeue(self, file: str) -> Requeued:
        return self._one(Requeued, "POST", "/api/v1/quarantine/requeue", json={"file": file})

    def resolve_selector(self, selector: str) -> ResolvedSelectorOut:
        return self._one(ResolvedSelectorOut, "POST", "/api/v1/selectors/resolve",
                         json={"selector": selector})

    def materialise(self, selector: str) -> JobOut:
        return self._one(JobOut, "POST", "/api/v1/materialise", json={"selector": selector})

    def download_artifact(self, sha: str, dest: str | os.PathLike[str]) -> None:
        """Write an artifact to `dest` (temp file + fsync + rename)."""
        tmp = f"{dest}.part"
        with self.stream("GET", f"/api/v1/artifacts/{sha}") as response:
            if response.status_code >= 400:
                response.read()
                raise api_error(response)
            with open(tmp, "wb") as out:
                for chunk in response.iter_bytes(1 << 20):
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
        os.replace(tmp, dest)
