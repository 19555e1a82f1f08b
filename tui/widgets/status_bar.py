"""One line of daemon health: alive or not, watching mode, ARMED or dry-run, last event, errors, rows shown."""

from __future__ import annotations

from rankinv.tui import format as fmt
from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from rankinv.store import Health


def is_armed(health: Health | None) -> bool:
    return health is not None and health.get("armed").strip().lower() in ("1", "true", "yes", "armed", "on")


def _age(value: str, now: float) -> str:
    try:
        return f"{fmt.ago(float(value), now)} ago"
    except ValueError:
        return value or fmt.DASH


class StatusBar(Static):
    health: reactive[Health | None] = reactive(None)
    daemon_note: reactive[str] = reactive("")
    store_note: reactive[str] = reactive("")
    counts: reactive[tuple[int, int]] = reactive((0, 0))
    filter_text: reactive[str] = reactive("")
    readonly: reactive[bool] = reactive(False)
    now: reactive[float] = reactive(0.0)

    def render(self) -> Text:
        if self.store_note:
            return Text("⚠ " + self.store_note, style="bold yellow")
        text = self._daemon()
        if self.readonly:
            text.append(" │ read-only", style="yellow")
        if self.health is not None:
            errors = self.health.get("errors", "0") or "0"
            text.append(f" │ errors {errors}", style="bold red" if errors != "0" else "")
        text.append_text(self._rows())
        if self.health is not None:  # last: the daemon's own line, "HH:MM:SS what", may be long
            text.append(f" │ last {_age(self.health.get('last_event'), self.now)}")
        return text

    def _daemon(self) -> Text:
        """Alive or down, how it watches, and whether it may act (ARMED) or only records (dry-run)."""
        h = self.health
        text = Text()
        if h is not None and h.alive:
            text.append("● daemon", style="green")
        else:
            text.append("✖ daemon down", style="bold red")
        if self.daemon_note:
            text.append(f" ({self.daemon_note})", style="dim")
        text.append(f" │ {h.get('watch_mode', '?') if h else '?'} │ ")
        if is_armed(h):
            return text.append("ARMED", style="bold reverse red")
        return text.append("dry-run", style="cyan")

    def _rows(self) -> Text:
        shown, total = self.counts
        if not self.filter_text:
            return Text(f" │ {total} rows")
        return Text(f" │ {shown}/{total} rows").append(f" │ filter “{self.filter_text}”", style="cyan")
