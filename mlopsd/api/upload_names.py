"""The one rule for names of uploaded files (they become file names in the home)."""

from __future__ import annotations

from mlopsd.api.errors import ApiError
from mlopsd.runtime.watcher import is_temp_name

MAX_NAME_BYTES = 200


def check_upload_name(filename: str) -> None:
    if "/" in filename or "\x00" in filename or filename in ("", ".", "..") or is_temp_name(
            filename) or len(filename.encode()) > MAX_NAME_BYTES:
        raise ApiError(422, f"{filename!r} is not a usable file name (no '/', not hidden or "
                       f"a temp name, at most {MAX_NAME_BYTES} bytes)", field="filename")
