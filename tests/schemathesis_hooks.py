"""Schemathesis hooks (SCHEMATHESIS_HOOKS=tests.schemathesis_hooks): how to send the
bodies our document declares that schemathesis has no serializer for."""

from __future__ import annotations

import json
from typing import Any

import schemathesis


@schemathesis.serializer("application/x-ndjson")
def ndjson(_: Any, value: Any) -> bytes:
    """Lines of JSON (the predict stream): a generated string is sent as it is."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    # json, not orjson: a generated integer may run past 64 bits
    return json.dumps(value).encode() + b"\n"
