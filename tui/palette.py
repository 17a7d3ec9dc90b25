"""The command palette's entries: every screen ("screen: Models") and, for each model,
the actions that make sense now ("riders: roll back to 1.0.0", "riders: promote 1.1.0 to
production"). Built from what the app last loaded: the palette never waits on the network."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from tui.keys import SCREENS


class MlopsCommands(Provider):
    def _entries(self) -> list[tuple[str, object, str]]:
        app = self.app
        entries: list[tuple[str, object, str]] = [
            (f"screen: {title}", partial(app.switch_mode, mode), f"key {key}")
            for mode, key, title in SCREENS]
        for action in getattr(app, "palette_actions", []):
            entries.append((action.label(), partial(app.start_action, action),
                            "asks for a reason, then does it"))
        return entries

    async def discover(self) -> Hits:
        for text, command, help in self._entries():
            yield DiscoveryHit(text, command, text=text, help=help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, command, help in self._entries():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), command, text=text, help=help)
