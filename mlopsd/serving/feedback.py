"""POST /v1/models/{name}/feedback: labels for earlier predictions, read from the body
`[{"request_id", "label", "row"?}]` (or `{"feedback": [...]}`). `row` is the row's index in
its request; without it, the label is for every row of the request."""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from mlopsd.serving.errors import ServingError


@dataclass(frozen=True)
class Labels:
    request_ids: list[str]
    rows: list[int | None]
    labels: list[str]
    """Each label as JSON text."""


def read_labels(body: bytes) -> Labels:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ServingError(400, f"the body is not valid JSON: {exc}", field="body") from None
    items = payload.get("feedback") if isinstance(payload, dict) else payload
    if not isinstance(items, list) or not items:
        raise ServingError(422, 'send a non-empty list of {"request_id", "label", "row"?}',
                           field="body")
    found = Labels([], [], [])
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("request_id"), str):
            raise ServingError(422, f"item {i}: needs a request_id (text)",
                               field=f"[{i}].request_id")
        if "label" not in item or item["label"] is None:
            raise ServingError(422, f"item {i}: needs a label", field=f"[{i}].label")
        row = item.get("row")
        if row is not None and (not isinstance(row, int) or isinstance(row, bool)
                                or not 0 <= row < 2**31):
            raise ServingError(422, f"item {i}: row must be a row index (0 or more)",
                               field=f"[{i}].row")
        found.request_ids.append(item["request_id"])
        found.rows.append(row)
        found.labels.append(orjson.dumps(item["label"]).decode())
    return found
