"""Every path a job reads or writes lies inside the home.

Checked twice: by the daemon when a job is queued, and again by the job itself before it
opens anything, so a path that slipped past one (or a symlink swapped in between) is still
refused. A path is resolved first (symlinks and `..` followed), then compared with the
resolved home.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jobs.context import InvalidParams


def confine(home: Path, value: Any, field: str) -> Path:
    """`value` as a resolved path inside `home`, else InvalidParams naming `field`."""
    if not isinstance(value, str) or not value or "\x00" in value:
        raise InvalidParams(field, f"must be a path inside the home, got {value!r}")
    path = Path(value)
    if not path.is_absolute():
        raise InvalidParams(field, f"must be an absolute path inside the home, got {value!r}")
    root = home.resolve()
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop, a name too long
        raise InvalidParams(field, f"cannot be resolved ({exc})") from None
    if resolved != root and not resolved.is_relative_to(root):
        if path.is_symlink():
            shown = f"{value!r} is a symbolic link to {str(resolved)!r}, which"
        elif str(resolved) != value:
            shown = f"{value!r} resolves to {str(resolved)!r}, which"
        else:
            shown = repr(value)
        raise InvalidParams(field, f"{shown} is outside the home {str(root)!r}; jobs only read "
                                   "and write files inside it")
    return resolved


def confine_params(home: Path, params: dict[str, Any], fields: tuple[str, ...]) -> None:
    """Check every path-bearing param that is present."""
    for field in fields:
        if field in params:
            confine(home, params[field], field)
