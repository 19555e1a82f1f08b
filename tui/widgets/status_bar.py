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
        h = self.health
        text = Text()
        if h is not None and h.alive:
            text.append("● daemon", style="green")
        else:
            text.append("✖ daemon down", style="bold red")
        if self.daemon_note:
            text.append(f" ({self.daemon_note})", style="dim")
        text.append(f" │ {h.get('watch_mode', '?') if h else '?'} │ ")
        text.append("ARMED", style="bold reverse red") if is_armed(h) else text.append("dry-run", style="cyan")
        if self.readonly:
            text.append(" │ read-only", style="yellow")
        if h is not None:
            errors = h.get("errors", "0") or "0"
            text.append(f" │ errors {errors}", style="bold red" if errors != "0" else "")
            text.append(f" │ event {_age(h.get('last_event'), self.now)}")
        shown, total = self.counts
        text.append(f" │ {shown}/{total} rows" if self.filter_text else f" │ {total} rows")
        if self.filter_text:
            text.append(f" │ filter “{self.filter_text}”", style="cyan")
        return text
