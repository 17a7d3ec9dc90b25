"""Tokens with roles: made, listed and revoked by an admin; anyone may ask who they are."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from starlette.concurrency import run_in_threadpool

from mlopsd.api.job_routes import actor_of
from mlopsd.api.wire_out import out
from mlopsd.client.wire import NAME, NoteRequest, TokenMadeOut, TokenOut, TokenRequest, WhoAmI
from mlopsd.services.tokens import ANYONE

router = APIRouter(prefix="/api/v1", tags=["tokens"])
TokenName = Annotated[str, Path(pattern=NAME, description="a token's name")]


@router.get("/whoami", response_model=WhoAmI, summary="The token this request was made with")
def whoami(request: Request) -> WhoAmI:
    principal = getattr(request.state, "principal", ANYONE)
    return WhoAmI(name=principal.name, role=principal.role)


@router.get("/tokens", response_model=list[TokenOut], summary="Every token (an admin's call)",
            description="Names, roles, who made each and when, and revocations; never the "
            "secrets (only their SHA-256 is kept).")
async def list_tokens(request: Request) -> list[TokenOut]:
    found = await run_in_threadpool(request.app.state.daemon.tokens.list)
    return [out(t, TokenOut) for t in found]


@router.post("/tokens", response_model=TokenMadeOut, status_code=201,
             summary="Make a token with a role (an admin's call)",
             description="viewer reads; operator ingests, trains, predicts, deploys canaries; "
             "approver approves pipelines and moves production; admin manages tokens, the "
             "config and backups. The secret is in this reply only. Audited.",
             responses={409: {"description": "a token of that name exists"}})
async def create_token(request: Request, body: TokenRequest) -> TokenMadeOut:
    made, secret = await run_in_threadpool(
        request.app.state.daemon.tokens.create, body.name, body.role,
        actor=actor_of(request))
    return TokenMadeOut(token=out(made, TokenOut), secret=secret)


@router.post("/tokens/{token}/revoke", response_model=TokenOut,
             summary="Revoke a token (an admin's call); it stops working at once",
             responses={404: {"description": "no such token"}})
async def revoke_token(request: Request, token: TokenName,
                       body: NoteRequest | None = None) -> TokenOut:
    revoked = await run_in_threadpool(
        request.app.state.daemon.tokens.revoke, token, actor=actor_of(request),
        reason=(body or NoteRequest()).note)
    return out(revoked, TokenOut)
