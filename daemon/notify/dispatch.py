"""One place that sends an alert through every configured channel, de-duplicated and rate-limited.

A channel is anything with a ``name`` and ``send(event) -> str`` that raises :class:`NotifyError` on
failure. A failing channel never stops the others and never raises out of :meth:`Dispatcher.send`.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import BinaryIO, Protocol

from rankinv.daemon.notify.event import ChannelResult, Event, NotApplicable
from rankinv.daemon.notify.redact import redact

from rankinv.config import NotifyConfig

log = logging.getLogger("rankinv.notify")
HOUR = 3600.0


class Channel(Protocol):
    name: str

    def send(self, event: Event) -> str: ...


class RateLimit:
    """At most ``limit`` sends in any sliding hour."""

    def __init__(self, limit: int, clock: Callable[[], float]):
        self.limit, self.clock, self.sent = limit, clock, deque[float]()

    def allow(self) -> bool:
        now = self.clock()
        while self.sent and now - self.sent[0] >= HOUR:
            self.sent.popleft()
        if len(self.sent) >= self.limit:
            return False
        self.sent.append(now)
        return True


class Dispatcher:
    """Fan an event out to channels; repeats of the same key inside ``dedup_seconds`` are dropped."""

    def __init__(
        self,
        channels: Iterable[Channel],
        dedup_seconds: float = 600.0,
        max_per_hour: int = 30,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.channels = list(channels)
        self.dedup_seconds, self.clock = dedup_seconds, clock
        self.limits = {c.name: RateLimit(max_per_hour, clock) for c in self.channels}
        self.last_sent: dict[str, float] = {}

    def is_duplicate(self, event: Event) -> bool:
        key, now = event.dedup_key(), self.clock()
        last = self.last_sent.get(key)
        if last is not None and now - last < self.dedup_seconds:
            return True
        self.last_sent[key] = now
        return False

    def send(self, event: Event) -> list[ChannelResult]:
        """Deliver ``event``; an empty list means it was a duplicate."""
        if self.is_duplicate(event):
            return []
        return [self._send_one(channel, event) for channel in self.channels]

    def _send_one(self, channel: Channel, event: Event) -> ChannelResult:
        if not self.limits[channel.name].allow():
            return ChannelResult(channel.name, False, "rate limited (max_per_hour)")
        try:
            detail = channel.send(event)
        except NotApplicable as exc:
            return ChannelResult(channel.name, False, str(exc), skipped=True)
        except Exception as exc:  # a failing channel never stops the others; its words may hold a secret
            text = redact(str(exc) or type(exc).__name__, getattr(channel, "secrets", ()))
            log.warning("alert via %s failed: %s", channel.name, text)
            return ChannelResult(channel.name, False, text)
        return ChannelResult(channel.name, True, detail)


def build_channels(
    config: NotifyConfig, env: Mapping[str, str] | None = None, terminal: BinaryIO | None = None
) -> list[Channel]:
    """Channels from ``[notify]``; raises ValueError (naming the setting) for a misconfigured one."""
    from rankinv.daemon.notify.command import CommandChannel
    from rankinv.daemon.notify.desktop import DesktopChannel
    from rankinv.daemon.notify.terminal import TerminalChannel, resolve_protocol
    from rankinv.daemon.notify.webhook import WebhookChannel

    env = os.environ if env is None else env
    channels: list[Channel] = []
    if config.terminal:
        resolve_protocol(config.terminal_protocol, env)  # validate early
        stream = terminal or sys.stdout.buffer
        if terminal is not None or stream.isatty():  # a detached daemon has no terminal: the TUI alerts there
            channels.append(TerminalChannel(stream, config.terminal_protocol, env))
    if config.desktop:
        channels.append(DesktopChannel(env))
    for spec in config.webhooks:
        channels.append(WebhookChannel(spec, env, config.webhook_timeout, config.webhook_retries))
    if config.command.strip():
        channels.append(CommandChannel(config.command, config.command_timeout))
    return channels


def build_dispatcher(
    config: NotifyConfig, env: Mapping[str, str] | None = None, terminal: BinaryIO | None = None
) -> Dispatcher:
    """The dispatcher the daemon and ``rankinv notify-test`` use."""
    return Dispatcher(build_channels(config, env, terminal), config.dedup_seconds, config.max_per_hour)
