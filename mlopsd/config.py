"""mlops.toml: the daemon's configuration, checked strictly at start-up.

Every error names the file, the line and the key: an unknown key is an error (a typo must
not silently fall back to a default).
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from mlopsd.toml_lines import locate

LOG_LEVELS = ("debug", "info", "warning", "error")
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column \d+\)")


class ConfigError(Exception):
    def __init__(self, path: Path, message: str, *, line: int | None = None, key: str = "") -> None:
        self.path, self.line, self.key, self.message = path, line, key, message
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {key + ': ' if key else ''}{message}")


@dataclass(frozen=True)
class DaemonConfig:
    host: str = "127.0.0.1"
    port: int = 8765
    workers: int = 0
    log_level: str = "info"
    log_max_bytes: int = 10 * 1024 * 1024
    log_backups: int = 5
    shutdown_grace_s: float = 10.0

    def worker_count(self) -> int:
        """Worker processes for jobs: leave one core for serving, but always at least one."""
        if self.workers:
            return self.workers
        return max(1, (os.cpu_count() or 2) - 1)


@dataclass(frozen=True)
class Config:
    path: Path
    daemon: DaemonConfig = field(default_factory=DaemonConfig)


_SECTIONS = {"daemon": DaemonConfig}


def _check_value(name: str, value: Any, default: Any) -> str | None:
    """The problem with a value for a key whose default is `default`, or None."""
    if isinstance(default, bool):
        return None if isinstance(value, bool) else "must be true or false"
    if isinstance(default, int):
        return None if isinstance(value, int) and not isinstance(value, bool) else (
            "must be a whole number"
        )
    if isinstance(default, float):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else "must be a number"
    if isinstance(default, str):
        return None if isinstance(value, str) else "must be a string"
    return None


def _section(path: Path, text: str, name: str, raw: Any, cls: type) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(path, f"must be a table ([{name}])", line=locate(text, (), name),
                          key=name)
    known = {f.name: f for f in fields(cls)}
    values = {}
    for key, value in raw.items():
        line = locate(text, (name,), key)
        if key not in known:
            raise ConfigError(
                path,
                f"unknown key (known keys of [{name}]: {', '.join(sorted(known))})",
                line=line,
                key=f"{name}.{key}",
            )
        problem = _check_value(key, value, known[key].default)
        if problem:
            raise ConfigError(path, f"{problem}, got {value!r}", line=line, key=f"{name}.{key}")
        values[key] = float(value) if isinstance(known[key].default, float) else value
    section = cls(**values)
    _validate_section(path, text, name, section)
    return section


def _validate_section(path: Path, text: str, name: str, section: Any) -> None:
    def fail(key: str, message: str) -> None:
        raise ConfigError(path, message, line=locate(text, (name,), key), key=f"{name}.{key}")

    if isinstance(section, DaemonConfig):
        if not 0 <= section.port <= 65535:
            fail("port", f"must be between 0 and 65535, got {section.port}")
        if section.workers < 0:
            fail("workers", f"must be 0 (automatic) or more, got {section.workers}")
        if section.log_level not in LOG_LEVELS:
            fail("log_level", f"must be one of {', '.join(LOG_LEVELS)}, got {section.log_level!r}")
        if section.log_max_bytes < 1024:
            fail("log_max_bytes", "must be at least 1024")
        if section.log_backups < 0:
            fail("log_backups", "must be 0 or more")
        if section.shutdown_grace_s < 0:
            fail("shutdown_grace_s", "must be 0 or more")


def load_config(path: Path) -> Config:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Config(path=path)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, f"cannot read: {exc}") from exc
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # Python 3.11's TOMLDecodeError carries the position only in its message.
        where = _TOML_POSITION.search(str(exc))
        line = int(where[1]) if where else None
        message = _TOML_POSITION.sub("", str(exc)).strip()
        raise ConfigError(path, f"not valid TOML: {message}", line=line) from exc
    sections: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in _SECTIONS:
            raise ConfigError(
                path,
                f"unknown section (known: {', '.join(sorted(_SECTIONS))})",
                line=locate(text, (name,)) or locate(text, (), name),
                key=name,
            )
        sections[name] = _section(path, text, name, value, _SECTIONS[name])
    return Config(path=path, **sections)
