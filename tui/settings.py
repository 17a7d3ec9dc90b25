"""The UI's settings: `[tui]` in the home's mlops.toml (the daemon leaves that section to
us). Read with the standard library; a bad value is reported, never fatal.

    [tui]
    theme = "textual-light"          # any Textual theme name
    [tui.keys]
    "screen.models" = "m,f2"         # binding id = key(s); ids are listed by `?`
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_THEME = "textual-dark"


@dataclass
class Settings:
    theme: str = DEFAULT_THEME
    keys: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def load_settings(config: Path) -> Settings:
    settings = Settings()
    try:
        raw = tomllib.loads(config.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return settings
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        settings.problems.append(f"{config}: cannot read [tui]: {exc}")
        return settings
    section = raw.get("tui", {})
    if not isinstance(section, dict):
        settings.problems.append(f"{config}: [tui] must be a table")
        return settings
    for key in section:
        if key not in ("theme", "keys"):
            settings.problems.append(f"{config}: tui.{key}: unknown key (known: keys, theme)")
    theme = section.get("theme", DEFAULT_THEME)
    if isinstance(theme, str):
        settings.theme = theme
    else:
        settings.problems.append(f"{config}: tui.theme must be a theme's name")
    keys = section.get("keys", {})
    if isinstance(keys, dict):
        for binding_id, key in keys.items():
            if isinstance(key, str) and key:
                settings.keys[binding_id] = key
            else:
                settings.problems.append(f"{config}: tui.keys.{binding_id} must be a key")
    else:
        settings.problems.append(f"{config}: tui.keys must be a table")
    return settings
