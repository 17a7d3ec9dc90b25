"""Errors the store raises; the daemon maps them to exit codes and HTTP statuses."""


class StoreError(Exception):
    """The metadata store cannot be used as it is (corrupt, newer schema, unwritable)."""


class NotFound(StoreError):
    """A row that was asked for by id does not exist."""


class Conflict(StoreError):
    """A state change that does not fit the row's current state."""


class ArtifactError(Exception):
    """An artifact is missing or its bytes do not match its content hash."""


class DiskFull(StoreError):
    """The disk holding the home is full (or over quota): nothing was changed."""


_NO_SPACE = ("no space left on device", "disk quota exceeded", "[errno 28]", "[errno 122]",
             "os error 28", "os error 122")


def is_disk_full(error: BaseException | str | None) -> bool:
    """Whether an error (or a job's error text) says the disk is full, looking through the
    causes an exception carries (DuckDB and polars only say it in words)."""
    seen = 0
    while error is not None and seen < 10:
        if isinstance(error, str):
            return any(words in error.lower() for words in _NO_SPACE)
        if isinstance(error, OSError) and error.errno in (28, 122):
            return True
        if any(words in str(error).lower() for words in _NO_SPACE):
            return True
        error, seen = error.__cause__ or error.__context__, seen + 1
    return False
