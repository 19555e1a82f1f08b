"""The header: which root this is, which config applies, and what the user should know about both."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from rankinv.boundary.text import shown


class ContextBar(Static):
    """``rankinv watch │ root ~/runs │ config ~/runs/rankinv.toml`` then one ⚠ line per warning."""

    root: reactive[str] = reactive("")
    config: reactive[str] = reactive("")
    warnings: reactive[tuple[str, ...]] = reactive(())

    def render(self) -> Text:
        out = Text("rankinv watch", style="bold")
        out.append(" │ root ", style="dim").append(shown(self.root))
        out.append(" │ config ", style="dim").append(shown(self.config) or "built-in defaults (no rankinv.toml)")
        for warning in self.warnings:
            out.append("\n⚠ " + shown(warning), style="bold yellow")
        return out
