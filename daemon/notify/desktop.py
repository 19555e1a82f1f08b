"""Local desktop alerts through ``notify-send`` when a graphical session is present."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping

from rankinv.daemon.notify.event import Event, NotApplicable, NotifyError

URGENCY = {"info": "low", "warning": "normal", "critical": "critical"}


def has_desktop(env: Mapping[str, str]) -> bool:
    """A session bus and a display: without them notify-send can only fail."""
    display = env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")
    return bool(display and env.get("DBUS_SESSION_BUS_ADDRESS"))


def notify_send_argv(event: Event) -> list[str]:
    urgency = URGENCY.get(event.severity, "normal")
    return ["notify-send", "--app-name=rankinv", f"--urgency={urgency}", "--", event.title, event.body]


class DesktopChannel:
    """notify-send; raises NotifyError when there is no session or the command fails."""

    name = "desktop"

    def __init__(self, env: Mapping[str, str] | None = None, timeout: float = 5.0):
        self.env = dict(os.environ if env is None else env)
        self.timeout = timeout

    def send(self, event: Event) -> str:
        if not has_desktop(self.env):
            raise NotApplicable("no desktop session (DISPLAY/WAYLAND_DISPLAY and DBUS_SESSION_BUS_ADDRESS unset)")
        exe = shutil.which("notify-send", path=self.env.get("PATH"))
        if exe is None:
            raise NotifyError("notify-send not found (install libnotify-bin)")
        argv = [exe, *notify_send_argv(event)[1:]]
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout, env=self.env, check=False)
        except subprocess.TimeoutExpired:
            raise NotifyError(f"notify-send did not finish in {self.timeout:g} s") from None
        if proc.returncode != 0:
            raise NotifyError(f"notify-send failed ({proc.returncode}): {proc.stderr.strip()[-200:]}")
        return "sent"
