"""The daemon's HTTP API: FastAPI for the control plane (typed bodies, OpenAPI for free).

Auth and error catching are plain ASGI middleware, cheap enough for the prediction path
that later lives in the same app.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI

from mlopsd import __version__
from mlopsd.api import (
    audit_routes,
    check_routes,
    data_routes,
    home_routes,
    job_routes,
    model_routes,
    openapi,
    retrain_routes,
    run_routes,
    serving_routes,
    system_routes,
    token_routes,
)
from mlopsd.api.auth import TokenAuthMiddleware
from mlopsd.api.errors import CatchAllMiddleware, install_error_handlers
from mlopsd.api.mlflow import app as mlflow_api
from mlopsd.api.model_names import known_model


def create_app(daemon: Any) -> FastAPI:
    app = FastAPI(
        title="mlopsd",
        version=__version__,
        description="The mlops daemon's API. Mutating calls need `Authorization: Bearer "
        "<token>` of a role that may make them (viewer, operator, approver, admin; the "
        "home's own token, HOME/token, is an admin's); when the daemon listens beyond "
        "loopback, every call does.",
        docs_url=None,
        redoc_url=None,
    )
    app.state.daemon = daemon
    install_error_handlers(app)
    app.include_router(system_routes.router)
    app.include_router(audit_routes.router)
    app.include_router(home_routes.router)
    app.include_router(token_routes.router)
    app.include_router(system_routes.metrics_router)
    app.include_router(job_routes.router)
    app.include_router(data_routes.router)
    app.include_router(check_routes.router)
    # The routers whose routes name models: an unknown name is one 404, said one way.
    names = [Depends(known_model)]
    app.include_router(model_routes.router, dependencies=names)
    app.include_router(run_routes.router, dependencies=names)
    app.include_router(serving_routes.router, dependencies=names)
    app.include_router(retrain_routes.router, dependencies=names)
    # MLflow's REST API for its client: its own errors, not in our OpenAPI document.
    app.mount(mlflow_api.errors.PREFIX, mlflow_api.create_app(daemon))
    openapi.install(app, extra={
        "/api/v1/jobs": (403,),
        # reads that need a production version being served
        "/api/v1/models/{name}/deploy": (409,),
        "/api/v1/models/{name}/performance": (409,),
    })
    app.add_middleware(
        TokenAuthMiddleware, book=daemon.tokens,
        require_for_reads=daemon.require_token_for_reads,
    )
    app.add_middleware(CatchAllMiddleware)
    return app
