"""The API's check of model names: every route that names a model (the `{name}` of
/models/{name}/…, a `model` filter) answers an unknown one with the same 404 before any
service is asked (see mlopsd/services/model_names.py)."""

from __future__ import annotations

from fastapi import Request

MODEL_PATH = "/api/v1/models/"


def known_model(request: Request) -> None:
    """A route dependency (plain def: FastAPI runs it on a thread, off the event loop)."""
    names = request.app.state.daemon.model_names
    name = request.path_params.get("name")
    if name is not None and request.url.path.startswith(MODEL_PATH):
        names.check(name, field="name")
    model = request.query_params.get("model")
    if model:
        names.check(model, field="model")
