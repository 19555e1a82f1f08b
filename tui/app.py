"""The ``rankinv watch`` app and :func:`make_app`, the one factory the CLI, the tests and the benchmark use.

Data flow: a worker thread polls the store's change counter and posts :class:`SnapshotTaken`; the app hands
the snapshot down to the screens as attributes; keys bubble up as :class:`CommandRequested`, which another
worker writes to the store for the daemon. No thread ever touches a widget.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from rankinv.tui import alerts, attach, context, logs
from rankinv.tui.gcpause import START_DELAY, Collector
from rankinv.tui.messages import (
    AlertChannelResolved,
    AlertSent,
    CommandFailed,
    CommandQueued,
    CommandRequested,
    ContextChecked,
    DaemonAttached,
    DaemonUnavailable,
    DetailRequested,
    RunLocated,
    RunLookupRequested,
    SnapshotTaken,
    StoreUnavailable,
    VerdictIssued,
)
from rankinv.tui.poller import StorePoller
from rankinv.tui.screens.detail import DetailScreen
from rankinv.tui.screens.help import HelpScreen
from rankinv.tui.screens.main import MainScreen
from rankinv.tui.thresholds import Thresholds
from rankinv.tui.widgets.context_bar import ContextBar
from rankinv.tui.widgets.status_bar import StatusBar
from textual import on, work
from textual.app import App, SuspendNotSupported
from textual.binding import Binding, BindingType
from textual.notifications import SeverityLevel
from textual.timer import Timer
from textual.widget import Widget
from textual.worker import Worker, WorkerState, get_current_worker

from rankinv.boundary.text import shown
from rankinv.config import Config, find_config, load_config
from rankinv.messages import Command
from rankinv.store import Candidate, CommandChannel, DatabaseError, ReadStore, StoreError, store_path_for

DEFAULT_PAGER = ["less", "-+R", "-+r", "+G"]  # at the end; -R/-r from $LESS undone: control bytes shown, not sent


class RankinvApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "rankinv watch"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", "help"),
        Binding("q", "quit", "quit"),
    ]

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None:  # fmt: skip
        """Toasts quote run names and daemon messages: always shown escaped and never parsed as markup."""
        super().notify(shown(message), title=shown(title), severity=severity, timeout=timeout, markup=False)

    def __init__(
        self,
        root: Path,
        store_path: Path,
        config: Config,
        *,
        config_path: Path | None = None,
        readonly: bool,
        manage_daemon: bool,
        state_dir: Path | None,
        poll_interval: float,
        clock: Callable[[], float],
        alerts_on: bool,
    ) -> None:
        super().__init__()
        self.root, self.store_path, self.config, self.config_path = root, store_path, config, config_path
        self.thresholds = Thresholds.of(config)
        self.readonly, self.manage_daemon, self.state_dir = readonly, manage_daemon, state_dir
        self.poll_interval, self.clock, self.alerts_on = poll_interval, clock, alerts_on
        self.main = MainScreen(readonly=readonly, thresholds=self.thresholds,
                               context=(str(root), str(config_path or "")))
        self.alert_channel = alerts.AlertChannel("bell")
        self.alerts_sent: list[bytes] = []
        self._seen_alerts: set[str] | None = None
        self._stop = threading.Event()
        self._gc = Collector()
        self._gc_timer: Timer | None = None

    def get_default_screen(self) -> MainScreen:
        return self.main

    def on_mount(self) -> None:
        self._poll_store()
        self._check_context()
        if self.manage_daemon:
            self._attach_daemon()
        if self.alerts_on:
            self._resolve_alerts()

    def on_unmount(self) -> None:
        self._stop.set()  # wakes the poller at once, so no thread outlives the app
        self._gc.stop()

    # -- workers (threads: they only post messages) --------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="poll", name="store-poller")
    def _poll_store(self) -> None:
        worker = get_current_worker()
        poller = StorePoller(self.store_path)
        try:
            while not worker.is_cancelled and not self._stop.is_set():
                try:
                    taken = self.poll_once(poller)
                except StoreError as exc:
                    self.post_message(StoreUnavailable(str(exc)))
                else:
                    if taken is not None:
                        self.post_message(taken)
                self._stop.wait(self.poll_interval)
        finally:
            poller.close()

    def poll_once(self, poller: StorePoller) -> SnapshotTaken | None:
        """One poll, on the poller's thread (the worker's; a test drives it by hand): a new snapshot and its
        rows, the same snapshot with the curves of runs the screen wants and has not got, or None."""
        wanted = self.main.wanted
        snapshot = poller.poll() or poller.unread(wanted)
        if snapshot is None:
            return None
        return SnapshotTaken(snapshot, poller.rows(snapshot, wanted))

    @work(thread=True, exclusive=True, exit_on_error=False, group="daemon", name="attach-daemon")
    def _attach_daemon(self) -> None:
        try:
            self.post_message(DaemonAttached(attach.attach(self.root, self.state_dir)))
        except attach.DaemonUnavailableError as exc:
            self.post_message(DaemonUnavailable(str(exc)))

    @work(thread=True, exclusive=True, exit_on_error=False, group="context", name="check-context")
    def _check_context(self) -> None:
        self.post_message(ContextChecked(context.warnings(self.root, self.config_path, self.state_dir)))

    @work(thread=True, exit_on_error=False, group="locate", name="locate-run")
    def _locate(self, candidate: Candidate, purpose: str) -> None:
        """The run's folder (from the store) and its log, for ``l`` and ``y``."""
        try:
            with ReadStore.open(self.store_path) as store:
                record = store.run(candidate.run)
        except (StoreError, DatabaseError) as exc:
            self.post_message(RunLocated(candidate, None, None, purpose, error=str(exc)))
            return
        path = record.path if record else None
        log = logs.find_log(Path(path), self.root) if path else None
        self.post_message(RunLocated(candidate, path, str(log) if log else None, purpose))

    @work(thread=True, exclusive=True, exit_on_error=False, group="alerts", name="resolve-alerts")
    def _resolve_alerts(self) -> None:
        self.post_message(AlertChannelResolved(alerts.resolve_channel(self.config.notify.terminal_protocol)))

    @work(thread=True, exit_on_error=False, group="commands", name="queue-command")
    def _queue_command(self, command: Command) -> None:
        try:
            with CommandChannel.open(self.store_path) as channel:
                command_id = channel.send(command, source="tui")
        except (StoreError, DatabaseError) as exc:
            self.post_message(CommandFailed(command, str(exc)))
            return
        self.post_message(CommandQueued(command_id, command))

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        """A reader that died unexpectedly is said out loud and restarted, never left silently stale."""
        if event.state != WorkerState.ERROR or self._stop.is_set():
            return
        error = event.worker.error
        if event.worker.group == "poll":
            self._show_on(StatusBar, "store_note", f"store reader failed ({error!r}); restarting")
            self.set_timer(1.0, self._poll_store)
        else:
            self.notify(f"{event.worker.name} failed: {error!r}", severity="error", timeout=10)

    # -- messages up ---------------------------------------------------------------------------------------
    @on(SnapshotTaken)
    def _snapshot(self, message: SnapshotTaken) -> None:
        snapshot = message.snapshot
        self.main.now = self.clock()
        self.main.show(snapshot, message.rows)
        if self._gc.started:
            self.call_after_refresh(self._gc.frame_drawn)
        elif not self._gc_timer:  # a moment after the first frame, not in the way of start-up
            self._gc_timer = self.set_timer(START_DELAY, self._gc.first_frame)
        self._seen_alerts, fresh = alerts.new_alerts(self._seen_alerts, snapshot.candidates)
        for candidate, decision in fresh:
            self.post_message(VerdictIssued(candidate, decision))
        if isinstance(self.screen, DetailScreen):
            subject = self.screen.candidate.subject if self.screen.candidate else None
            updated = next((c for c in snapshot.candidates if c.subject == subject), None)
            if updated is not None:
                self.screen.candidate = updated

    @on(StoreUnavailable)
    def _store_unavailable(self, message: StoreUnavailable) -> None:
        self._show_on(StatusBar, "store_note", message.reason)

    @on(DaemonAttached)
    def _daemon_attached(self, message: DaemonAttached) -> None:
        self._show_on(StatusBar, "daemon_note", message.status)

    @on(DaemonUnavailable)
    def _daemon_unavailable(self, message: DaemonUnavailable) -> None:
        self._show_on(StatusBar, "daemon_note", "not available")
        self.notify(message.reason, title="daemon", severity="warning", timeout=10)

    @on(CommandRequested)
    def _command_requested(self, message: CommandRequested) -> None:
        if self.readonly:
            self.notify("read-only session: keys that act are off", severity="warning")
            return
        self._queue_command(message.command)

    @on(CommandQueued)
    def _command_queued(self, message: CommandQueued) -> None:
        self.notify(f"queued {message.command.describe()} (#{message.command_id}); the daemon applies it")

    @on(CommandFailed)
    def _command_failed(self, message: CommandFailed) -> None:
        self.notify(f"{message.command.kind.value} not sent: {message.reason}", severity="error", timeout=10)

    @on(ContextChecked)
    def _context_checked(self, message: ContextChecked) -> None:
        self._show_on(ContextBar, "warnings", message.warnings)

    def _show_on(self, kind: type[Widget], name: str, value: object, tries: int = 50) -> None:
        """Set ``name`` on the main screen's ``kind`` widget. The workers start with the app, so a message can land
        before the screen's widgets are mounted (it is tried again after the next refreshes, a bounded number of
        times) or after they are gone as the app closes (nothing is left to show it on)."""
        found = self.main.query(kind)
        if found:
            setattr(found.first(), name, value)
        elif tries > 1 and not self._stop.is_set():
            self.main.call_after_refresh(self._show_on, kind, name, value, tries - 1)

    @on(RunLocated)
    def _run_located(self, message: RunLocated) -> None:
        label = message.candidate.run
        if message.error:
            self.notify(f"{label}: cannot read the store ({message.error})", severity="error")
        elif message.purpose == "copy":
            if message.path is None:
                self.notify(f"{label}: the store has no folder for this run", severity="warning")
                return
            self.copy_to_clipboard(message.path)  # OSC 52: reaches the local clipboard over SSH and tmux
            self.notify(f"copied {message.path}", timeout=3)
        elif message.log is None:
            self.notify(f"{label}: no log file found in {message.path or 'its folder'}", severity="warning")
        else:
            self._page(message.log)

    def _page(self, path: str) -> None:
        """The log in ``$PAGER`` with the app suspended; back on the same screen afterwards. Without ``$PAGER``,
        ``less`` at the log's end (its news is there), showing the log's control bytes as ``^M``, ``ESC``…: a run's
        log is untrusted, and ``-R`` or ``-r`` in the user's ``$LESS`` would send its escape sequences to the
        terminal."""
        command = [*(shlex.split(os.environ.get("PAGER") or "") or DEFAULT_PAGER), path]
        try:
            with self.suspend():
                subprocess.call(command)
        except SuspendNotSupported:
            self.notify(f"log: {path} (this terminal cannot be suspended for a pager)", severity="warning")
        except OSError as exc:
            self.notify(f"cannot run pager {command[0]!r}: {exc}", severity="error")

    @on(AlertChannelResolved)
    def _alert_channel(self, message: AlertChannelResolved) -> None:
        self.alert_channel = message.channel

    @on(VerdictIssued)
    def _verdict_issued(self, message: VerdictIssued) -> None:
        title, body = alerts.alert_text(message.candidate, message.decision)
        data = self.alert_channel.encode(title, body)
        if not self.is_headless and self._driver is not None:
            self._driver.write(data.decode("utf-8"))  # through Textual's writer, never around it
        self.alerts_sent.append(data)
        self.notify(body, title=title, severity="error" if message.decision == "KILL" else "warning")
        self.post_message(AlertSent(title, data))

    # -- navigation ----------------------------------------------------------------------------------------
    @on(DetailRequested)
    def _detail_requested(self, message: DetailRequested) -> None:
        self.open_detail(message.candidate)

    def open_detail(self, candidate: Candidate) -> None:
        self.push_screen(DetailScreen(candidate, self.store_path, self.thresholds))

    @on(RunLookupRequested)
    def _lookup_requested(self, message: RunLookupRequested) -> None:
        self._locate(message.candidate, message.purpose)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            alerts = self.alert_channel.describe() if self.alerts_on else "off"
            self.push_screen(HelpScreen(readonly=self.readonly, alerts=alerts))


def make_app(
    root: str | Path,
    *,
    store_path: str | Path | None = None,
    state_dir: str | Path | None = None,
    readonly: bool = False,
    no_daemon: bool = False,
    manage_daemon: bool | None = None,
    poll_interval: float = 0.3,
    clock: Callable[[], float] = time.time,
    alerts_on: bool | None = None,
    config: Config | None = None,
) -> RankinvApp:
    """The TUI for runs root ``root``.

    ``no_daemon`` views the store read-only and never starts a daemon; ``readonly`` keeps the daemon but turns
    off every key that acts. ``manage_daemon`` (default: not ``no_daemon``) finds or starts the daemon; tests
    that play the daemon themselves pass False. ``clock`` freezes "time ago" strings for snapshots.
    """
    root_path = Path(root).expanduser()
    state = Path(state_dir).expanduser() if state_dir else None
    config_path = find_config(root_path)
    cfg = config if config is not None else load_config(config_path)
    return RankinvApp(
        root_path,
        Path(store_path) if store_path else store_path_for(root_path, state),
        cfg,
        config_path=config_path if config is None else None,
        readonly=readonly or no_daemon,
        manage_daemon=not no_daemon if manage_daemon is None else manage_daemon,
        state_dir=state,
        poll_interval=poll_interval,
        clock=clock,
        alerts_on=cfg.notify.terminal if alerts_on is None else alerts_on,
    )


__all__ = ["RankinvApp", "make_app"]
