"""The fields of an MLflow request, read as MLflow's client sends them: GET in the query
string, everything else as a JSON body (protobuf's JSON: 64-bit integers may come as
text). A field that is missing or of the wrong kind is MLflow's INVALID_PARAMETER_VALUE
naming it."""

from __future__ import annotations

import math
from typing import Annotated, Any

import orjson
from fastapi import Depends, Request

from mlopsd.api.mlflow.errors import INVALID, MlflowError
from store.rows import MAX_MS

MAX_BODY = 32 << 20
"""A request's JSON body (MLflow's log-batch takes at most 1,000 metrics, 100 params and
100 tags)."""
MAX_TEXT = 100_000
"""A param or tag value (MLflow keeps up to 6,000 / 8,000 characters)."""
_NON_FINITE = {"nan": math.nan, "infinity": math.inf, "inf": math.inf,
               "-infinity": -math.inf, "-inf": -math.inf}


class Fields:
    def __init__(self, data: dict[str, Any], where: str = "") -> None:
        self.data = data
        self.where = where
        """The item these fields are of, in a request's list (`metrics[3]`), for messages."""

    def named(self, name: str) -> str:
        return f"{self.where}.{name}" if self.where else name

    def _missing(self, name: str) -> MlflowError:
        return MlflowError(INVALID, f"Missing value for required parameter "
                           f"'{self.named(name)}'")

    def _wrong(self, name: str, what: str) -> MlflowError:
        value = repr(self.data.get(name))[:100]
        return MlflowError(INVALID, f"Invalid value {value} for parameter "
                           f"'{self.named(name)}': {what}")

    def text(self, name: str, *, required: bool = True, default: str | None = None
             ) -> str | None:
        value = self.data.get(name)
        if value is None or (value == "" and required):
            if required:
                raise self._missing(name)
            return default
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise self._wrong(name, "must be a string")
        value = str(value)
        if len(value) > MAX_TEXT:
            raise self._wrong(name, f"longer than {MAX_TEXT:,} characters")
        return value

    def required(self, name: str) -> str:
        value = self.text(name)
        assert value is not None
        return value

    def integer(self, name: str, *, default: int | None = None, low: int = -(2**63),
                high: int = 2**63 - 1) -> int | None:
        value = self.data.get(name)
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if value is None or value == "":
            return default
        try:
            number = int(value) if not isinstance(value, bool | float) else None
        except (TypeError, ValueError):
            number = None
        if number is None and isinstance(value, float) and value.is_integer():
            number = int(value)
        if number is None or not low <= number <= high:
            raise self._wrong(name, f"must be an integer from {low} to {high}")
        return number

    def millis(self, name: str) -> int | None:
        """A time in MLflow's milliseconds since the epoch (None when not given)."""
        try:
            return self.integer(name, low=0, high=MAX_MS)
        except MlflowError:
            raise self._wrong(name, "a time in milliseconds since the epoch, from 0 to "
                              f"{MAX_MS} (the year 9999)") from None

    def number(self, name: str) -> float:
        value = self.data.get(name)
        if value is None:
            raise self._missing(name)
        return to_number(value, name)

    def texts(self, name: str) -> list[str]:
        value = self.data.get(name)
        if value is None:
            return []
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(v, str | int) and not isinstance(v, bool) for v in values):
            raise self._wrong(name, "must be a list of strings")
        return [str(v) for v in values]

    def objects(self, name: str) -> list[dict[str, Any]]:
        value = self.data.get(name)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self._wrong(name, "must be a list of objects")
        return value

    def pairs(self, name: str) -> dict[str, str]:
        """A list of {key, value} (tags, params) as a dict."""
        found = {}
        for item in self.objects(name):
            key, value = item.get("key"), item.get("value", "")
            if not isinstance(key, str) or not key:
                raise self._wrong(name, "each item needs a key")
            found[key] = "" if value is None else str(value)
        return found


def to_number(value: Any, name: str) -> float:
    if isinstance(value, str) and value.lower() in _NON_FINITE:
        return _NON_FINITE[value.lower()]
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise MlflowError(INVALID, f"Invalid value {value!r} for parameter '{name}': must be "
                          "a number")
    try:
        return float(value)
    except ValueError:
        raise MlflowError(INVALID, f"Invalid value {value!r} for parameter '{name}': must be "
                          "a number") from None


async def fields(request: Request) -> Fields:
    """A route dependency: the request's fields (query string, then the JSON body)."""
    data: dict[str, Any] = {}
    for key, value in request.query_params.multi_items():
        if key in data:
            data[key] = [*(data[key] if isinstance(data[key], list) else [data[key]]), value]
        else:
            data[key] = value
    if request.method != "GET":
        raw = bytearray()
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > MAX_BODY:
                raise MlflowError(INVALID, f"the body is over {MAX_BODY:,} bytes", 413)
        if bytes(raw).strip():
            try:
                body = orjson.loads(bytes(raw))
            except orjson.JSONDecodeError as exc:
                raise MlflowError("BAD_REQUEST", f"the body is not JSON: {exc}") from None
            if not isinstance(body, dict):
                raise MlflowError("BAD_REQUEST", "the body must be a JSON object")
            data.update(body)
    return Fields(data)


Given = Annotated[Fields, Depends(fields)]
"""A route's parameter: the request's fields."""
