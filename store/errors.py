"""Errors the store raises; the daemon maps them to exit codes and HTTP statuses."""


class StoreError(Exception):
    """The metadata store cannot be used as it is (corrupt, newer schema, unwritable)."""


class NotFound(StoreError):
    """A row that was asked for by id does not exist."""


class Conflict(StoreError):
    """A state change that does not fit the row's current state."""


class ArtifactError(Exception):
    """An artifact is missing or its bytes do not match its content hash."""
