"""MLflow's artifacts proxy (`mlflow-artifacts:/PATH`): the files a run or a logged model
uploads (PUT), downloads (GET) and lists. Uploads stream into the artifact store's temp
folder with a size bound, are fsynced, then adopted under their hash and their path
recorded (`services/mlflow_artifacts.py`); a path leaving the artifact root is refused."""

from __future__ import annotations

import os
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse, Response

from mlopsd.api.mlflow.context import daemon_of, ok
from mlopsd.api.mlflow.errors import MISSING, MlflowError
from mlopsd.api.upload_bound import refuse_declared, stream_into
from mlopsd.services.mlflow_artifacts import checked_path
from store import mlflow_artifacts as artifact_index
from store.errors import NotFound

router = APIRouter(prefix="/mlflow-artifacts/artifacts")


@router.put("/{artifact_path:path}")
async def upload(request: Request, artifact_path: str) -> Response:
    proxy = daemon_of(request).mlflow_artifacts
    path = checked_path(artifact_path)
    bound = proxy.max_bytes

    def refuse(size: int, _declared: bool) -> Exception:
        return proxy.too_large(size)

    refuse_declared(request, bound, refuse)
    written = await run_in_threadpool(proxy.artifacts.tmp_path, ".upload")
    try:
        # File work on a thread: this loop also answers predictions.
        with written.open("wb") as out:
            size = await stream_into(request, out, bound, refuse)
            await run_in_threadpool(out.flush)
            await run_in_threadpool(os.fsync, out.fileno())
    except BaseException:
        written.unlink(missing_ok=True)
        raise
    await run_in_threadpool(proxy.record, path, written, size)
    return ok({})


@router.get("/{artifact_path:path}")
def download(request: Request, artifact_path: str) -> Response:
    daemon = daemon_of(request)
    path = checked_path(artifact_path)
    try:
        stored = artifact_index.get(daemon.store, path)
    except NotFound:
        raise MlflowError(MISSING, f"no artifact at {path!r}") from None
    return FileResponse(daemon.artifacts.verify(stored.sha),
                        media_type="application/octet-stream")


@router.get("")
def list_artifacts(request: Request,
                   path: Annotated[str | None, Query(max_length=1000)] = None) -> Response:
    folder = checked_path(path) if path else ""
    entries = artifact_index.listing(daemon_of(request).store, folder)
    prefix = folder + "/" if folder else ""
    return ok({"files": [{"path": e.path[len(prefix):], "is_dir": e.is_dir,
                          **({"file_size": e.size} if e.size is not None else {})}
                         for e in entries]})
