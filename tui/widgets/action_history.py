"""The audit log of a run: what the daemon did (or would have done, dry-run), newest first."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from rankinv.boundary.text import shown
from rankinv.store import ActionRecord


class ActionHistory(Static):
    actions: reactive[tuple[ActionRecord, ...]] = reactive(())

    def render(self) -> Text:
        out = Text("Actions (audit log)\n", style="bold")
        if not self.actions:
            return out.append("no actions", style="dim")
        for action in self.actions[:20]:
            mode = "dry-run" if action.dry_run else "live"
            out.append(shown(f"  {action.kind} [{mode}] {action.state}: "), style="yellow" if action.dry_run else "red")
            out.append(shown(action.audit or action.target or "") + "\n")
        out.rstrip()
        return out
