"""The home as a whole: an online backup streamed to the client, and a check that it is
whole (artifacts, references, the audit chain)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from mlopsd.api.job_routes import actor_of
from mlopsd.client.wire import HomeVerifyOut
from mlopsd.services import backups
from store import audit
from store.integrity import check_home

router = APIRouter(prefix="/api/v1", tags=["home"])


@router.post("/backup", summary="An online backup of the home, as a tar stream",
             response_class=StreamingResponse,
             description="A consistent copy of the metadata store, every artifact and data "
             "snapshot and mlops.toml (the token only with `token=true`), with "
             "`manifest.json` last: every file's SHA-256 and size, what each model serves, "
             "the audit chain's head. The daemon goes on serving meanwhile; writes wait for "
             "the store's copy (about a second per GB). `mlops backup DIR` unpacks and "
             "checks it; `mlops restore DIR --home NEW` makes a home of it. Audited.",
             responses={200: {"content": {"application/x-tar": {}}}})
async def backup(
    request: Request,
    token: Annotated[bool, Query(description="include the home's token")] = False,
) -> StreamingResponse:
    daemon = request.app.state.daemon
    made = await run_in_threadpool(backups.prepare, daemon.home, daemon.store,
                                   daemon.artifacts, with_token=token,
                                   now=datetime.now(UTC))
    await run_in_threadpool(
        audit.append, daemon.store, actor=actor_of(request), action="home.backup",
        subject="home", details={"files": len(made.files), "token_included": token,
                                 "audit_head": made.facts.audit_head,
                                 "schema_version": made.facts.schema_version})
    return StreamingResponse(made.stream(), media_type="application/x-tar")


@router.get("/verify", response_model=HomeVerifyOut, summary="Is this home whole?",
            description="Every artifact and data snapshot a row names is there and hashes to "
            "its name; every alias, deployment and pipeline names a version the registry "
            "has; every model version's run and every run's data versions exist (with the "
            "content they were trained on); the audit chain holds. Hashes every blob: "
            "seconds per GB.")
async def verify(request: Request) -> HomeVerifyOut:
    daemon = request.app.state.daemon
    found = await run_in_threadpool(check_home, daemon.store, daemon.artifacts)
    return HomeVerifyOut(ok=found.ok, checked=found.checked,
                         findings=[{"check": f.check, "subject": f.subject,
                                    "problem": f.problem} for f in found.findings])
