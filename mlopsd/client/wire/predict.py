"""What the prediction endpoints (`/v1`) answer."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class PredictionsOut(BaseModel):
    """A prediction reply: per row a value (regression), the positive class's probability
    (binary) or the class probabilities (multiclass); labels and classes for classifiers;
    with explain, per-feature contributions and the base value (per class for
    multiclass)."""

    model: str
    version: str
    request_id: str
    predictions: list[float | None] | list[list[float | None]]
    labels: list[Any] | None = None
    classes: list[Any] | None = None
    threshold: float | None = None
    features: list[str] | None = None
    contributions: list[list[float | None]] | list[list[list[float | None]]] | None = None
    base_value: list[float] | list[list[float]] | None = None


class ExampleRequestOut(BaseModel):
    method: str
    path: str
    body: dict[str, Any]


class ServedModelOut(BaseModel):
    model: str
    version: str
    task: str
    aliases: dict[str, str]
    signature: Any
    features: list[str]
    example_request: ExampleRequestOut = Field(description="a request that works when sent")


class FeedbackOut(BaseModel):
    model: str
    received: int
    matched: int = Field(description="labels that matched a logged prediction now (the rest "
                         "may match once the log catches up)")
