"""Find the line of a key in a TOML text, so config errors can name it.

tomllib gives values, not positions; this scans the text the way TOML lays out tables
(`[table]`, `[[array]]` with an index per repeat) and returns the first line of the key.
"""

from __future__ import annotations

import re

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_\-]+)\s*(\.|=)""")


def _unquote(name: str) -> str:
    return name[1:-1] if name[:1] in "\"'" else name


def locate(text: str, table: tuple[str | int, ...], key: str | None = None) -> int | None:
    """1-based line of `key` inside `table` (e.g. ("dataset", 2) is the third [[dataset]]),
    or of the table's header when `key` is None; None when not found."""
    want = tuple(str(part) for part in table)
    current: tuple[str, ...] = ()
    array_counts: dict[tuple[str, ...], int] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            parts = tuple(_unquote(p.strip()) for p in header[2].split("."))
            if header[1] == "[[":
                index = array_counts.get(parts, -1) + 1
                array_counts[parts] = index
                current = (*parts, str(index))
            else:
                # [dataset.columns.x] after [[dataset]] belongs to the last dataset.
                resolved: list[str] = []
                for part in parts:
                    resolved.append(part)
                    index = array_counts.get(tuple(p for p in resolved if not p.isdigit()))
                    if index is not None:
                        resolved.append(str(index))
                current = tuple(resolved)
            if key is None and current == want:
                return lineno
            continue
        if key is not None and current == want:
            match = _KEY.match(line)
            if match and _unquote(match[1]) == key:
                return lineno
    return None
