"""What every area of the API shares: bounds of what clients send, errors, the page of a
listing, the prediction reply headers."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

MAX_TEXT = 10_000
"""Any string a client sends (a reason, a note, a name) has at most this many characters,
unless its field says otherwise."""
INT64 = 2**63 - 1
NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"
"""Models, datasets and aliases: what a folder, a URL and a log line can all carry."""
MAX_WINDOW_S = 366 * 86400.0


class Inbound(BaseModel):
    """A request body: every string and number has bounds (finite, within what a column
    holds), so a value past them is a 422 naming the field, never a server error."""

    model_config = ConfigDict(str_max_length=MAX_TEXT, allow_inf_nan=False)


UNKNOWN_MODEL = "unknown_model"
"""The error code of a 404 for a model name that is neither registered nor declared."""

IGNORED_COLUMNS_HEADER = "x-ignored-columns"
"""On a prediction reply: the input columns the model does not use, comma-separated."""
UNSEEN_CATEGORIES_HEADER = "x-unseen-categories"
"""On a prediction reply: per categorical input, the rows whose value the model never saw
in training (treated as missing), as `column=rows` pairs, comma-separated."""


def format_unseen_categories(counts: dict[str, int]) -> str:
    return ",".join(f"{column}={rows}" for column, rows in counts.items())


def parse_unseen_categories(text: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for pair in text.split(","):
        column, sep, rows = pair.rpartition("=")
        if sep and column and rows.isdigit():
            counts[column] = int(rows)
    return counts


class ErrorBody(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


Item = TypeVar("Item")

MAX_CURSOR = 2000
"""A cursor (`after`) has at most this many characters."""


class Page(BaseModel, Generic[Item]):
    """One page of a listing. Ask for the next with `after=<next>` (and the same filters);
    `next` is null on the last page. A cursor is opaque: it names the position after the
    page's last item in the listing's order, so items added or removed meanwhile neither
    repeat nor shift what follows."""

    items: list[Item]
    next: str | None = Field(description="the cursor of the next page (`after=`), null when "
                             "this page is the last")


class NoteRequest(Inbound):
    note: str | None = None


class ReasonRequest(Inbound):
    reason: str | None = None
