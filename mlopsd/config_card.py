"""[model.card] in mlops.toml: what a model card says that the registry cannot know, checked
like the rest of the file (every error names the file, the line and the key).

Texts (`intended_use`, `assumptions`, `limitations`) are a string or a list of strings, at
most MAX_TEXT characters in all. `slices` names at most MAX_SLICES columns; whether each
is a column of the data is known only once the data is: `slices_not_in` checks it when a
training is asked for, against the data versions it will read, and the refusal names the
line of `slices` in mlops.toml as a load error would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from mlopsd.config import Config, ConfigError, ModelConfig
from mlopsd.toml_lines import locate

MAX_SLICES = 3
MAX_TEXT = 20_000
TEXTS = ("intended_use", "assumptions", "limitations")


def check_card(bad: Callable[[str, str, tuple[str | int, ...]], Any], m: ModelConfig,
               where: tuple[str | int, ...]) -> None:
    card = m.card
    for key in TEXTS:
        value = getattr(card, key)
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(item, str) for item in items):
            bad(key, "must be a string or a list of strings", where)
        if any("\x00" in item for item in items):
            bad(key, "holds a NUL character", where)
        if sum(len(item) for item in items) > MAX_TEXT:
            bad(key, f"is longer than {MAX_TEXT:,} characters", where)
    if not all(isinstance(c, str) and c.strip() for c in card.slices):
        bad("slices", f"must be a list of column names, got {card.slices!r}", where)
    if len(card.slices) > MAX_SLICES:
        bad("slices", f"names {len(card.slices)} columns; at most {MAX_SLICES} (each one "
            "breaks the holdout's metrics down by its values)", where)
    if len(set(card.slices)) != len(card.slices):
        twice = next(c for c in card.slices if card.slices.count(c) > 1)
        bad("slices", f"names {twice!r} twice", where)


def slices_not_in(config: Config, m: ModelConfig, columns: Iterable[str], data: str
                  ) -> ConfigError | None:
    """The error for a slice that is not a column of the data a training reads (`data`
    names it, e.g. bikes@1,2), naming the line of `slices` in mlops.toml; None when each
    is one."""
    present = set(columns)
    missing = [c for c in m.card.slices if c not in present]
    if not missing:
        return None
    try:
        text = config.path.read_text(encoding="utf-8")
    except OSError:
        text = ""
    index = next((n for n, other in enumerate(config.model) if other.name == m.name), 0)
    line = locate(text, ("model", index, "card"), "slices")
    return ConfigError(config.path, f"{', '.join(map(repr, missing))} "
                       f"{'is not a column' if len(missing) == 1 else 'are not columns'} of "
                       f"{data} (its columns: {', '.join(sorted(present))})", line=line,
                       key="model.card.slices")
