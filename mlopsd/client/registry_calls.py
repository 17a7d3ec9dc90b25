"""The client's calls about the model registry: training, versions, model cards, aliases,
rollback, archive, reproduction."""

from __future__ import annotations

from mlopsd.client.pages import PagedList
from mlopsd.client.transport import Transport
from mlopsd.client.wire import AliasMoveOut, JobOut, ModelCardOut, ModelOut, ModelVersionOut


class RegistryCalls(Transport):
    def train(self, model: str, *, reason: str | None = None,
              tags: dict[str, str] | None = None) -> JobOut:
        return self._one(JobOut, "POST", f"/api/v1/models/{model}/train",
                         json={"reason": reason, "tags": tags or {}})

    def reproduce(self, name: str, version: str) -> JobOut:
        return self._one(JobOut, "POST", f"/api/v1/models/{name}/versions/{version}/reproduce")

    def export(self, name: str, version: str, format: str, *, reason: str | None = None
               ) -> JobOut:
        """Queue an export of `name:version` ("container" or "c"); the job's result names
        the tar artifact to download (`download_artifact`)."""
        return self._one(JobOut, "POST", f"/api/v1/models/{name}/versions/{version}/export",
                         json={"format": format, "reason": reason})

    def list_models(self, *, after: str | None = None, limit: int = 100
                    ) -> PagedList[ModelOut]:
        """Registered models by name."""
        return self._page(ModelOut, "/api/v1/models", {"after": after, "limit": limit})

    def get_model(self, name: str) -> ModelOut:
        return self._one(ModelOut, "GET", f"/api/v1/models/{name}")

    def model_versions(self, name: str, *, after: str | None = None, limit: int = 100
                       ) -> PagedList[ModelVersionOut]:
        """A model's versions, oldest first."""
        return self._page(ModelVersionOut, f"/api/v1/models/{name}/versions",
                          {"after": after, "limit": limit})

    def model_version(self, name: str, version: str) -> ModelVersionOut:
        return self._one(ModelVersionOut, "GET", f"/api/v1/models/{name}/versions/{version}")

    def model_card(self, name: str, version: str) -> ModelCardOut:
        """Every fact of a version's model card in one document (`mlops models card`
        renders it)."""
        return self._one(ModelCardOut, "GET", f"/api/v1/models/{name}/versions/{version}/card")

    def promote(self, name: str, version: str, *, to: str = "production",
                reason: str | None = None) -> AliasMoveOut:
        return self._one(AliasMoveOut, "POST", f"/api/v1/models/{name}/aliases/{to}",
                         json={"version": version, "reason": reason})

    def rollback(self, name: str, *, alias: str = "production",
                 reason: str | None = None) -> AliasMoveOut:
        return self._one(AliasMoveOut, "POST", f"/api/v1/models/{name}/rollback",
                         json={"alias": alias, "reason": reason})

    def alias_history(self, name: str, alias: str | None = None, *, after: str | None = None,
                      limit: int = 100) -> PagedList[AliasMoveOut]:
        """Every move of the model's aliases (or of one), newest first."""
        return self._page(AliasMoveOut, f"/api/v1/models/{name}/aliases/history",
                          {"alias": alias, "after": after, "limit": limit})

    def archive(self, name: str, version: str, *, reason: str | None = None
                ) -> ModelVersionOut:
        return self._one(ModelVersionOut, "POST",
                         f"/api/v1/models/{name}/versions/{version}/archive",
                         json={"reason": reason})
