"""Desktop alerts as terminal escape sequences, which travel back over SSH to the user's own terminal.

OSC 9 (iTerm2, WezTerm, Ghostty), OSC 777 (VTE, foot, urxvt) or OSC 99 (kitty), chosen from the environment;
inside tmux the sequence is wrapped for passthrough (``ESC P tmux; … ESC \\`` with every inner ESC doubled),
and when passthrough is off or the terminal is unknown a plain bell is sent instead. The encoders are pure
(text in, bytes out); :func:`write_notification` is the only part that touches a stream or runs tmux.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping
from typing import BinaryIO

from rankinv.daemon.notify.event import Event, NotApplicable

ESC = "\x1b"
BEL = "\x07"
ST = ESC + "\\"
PROTOCOLS = ("osc9", "osc777", "osc99", "bell")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def clean(text: str) -> str:
    """Printable text only: control characters (ESC, BEL, C1) could end or forge a sequence."""
    return _CONTROL.sub(" ", text).strip()


def osc9(message: str) -> str:
    """``OSC 9 ; message BEL``. A body starting "digits;" is a ConEmu/Windows Terminal command, so never send one."""
    body = clean(message)
    if re.match(r"\d+;", body):
        body = "rankinv: " + body
    return f"{ESC}]9;{body}{BEL}"


def osc777(title: str, body: str) -> str:
    """``OSC 777 ; notify ; title ; body BEL``; the title cannot contain ';'."""
    return f"{ESC}]777;notify;{clean(title).replace(';', ',')};{clean(body)}{BEL}"


def osc99(title: str, body: str, ident: str = "rankinv") -> str:
    """kitty's protocol: a title chunk (d=0: more follows) then the body (d=1: done)."""
    first = f"{ESC}]99;i={ident}:d=0:p=title;{clean(title)}{ST}"
    return first + f"{ESC}]99;i={ident}:d=1:p=body;{clean(body)}{ST}"


def tmux_wrap(sequence: str) -> str:
    """tmux passthrough: ``ESC P tmux ; <sequence with each ESC doubled> ESC \\``."""
    return f"{ESC}Ptmux;{sequence.replace(ESC, ESC + ESC)}{ST}"


def in_tmux(env: Mapping[str, str]) -> bool:
    return bool(env.get("TMUX"))


def detect_protocol(env: Mapping[str, str]) -> str:
    """The protocol the user's terminal understands, from what it leaves in the environment."""
    term = env.get("TERM", "")
    program = env.get("TERM_PROGRAM", "") or env.get("LC_TERMINAL", "")
    if env.get("KITTY_WINDOW_ID") or term == "xterm-kitty":
        return "osc99"
    if program in ("iTerm.app", "iTerm2", "WezTerm", "ghostty") or term in ("wezterm", "xterm-ghostty"):
        return "osc9"
    if any(k.startswith("WEZTERM_") for k in env) or env.get("GHOSTTY_RESOURCES_DIR"):
        return "osc9"
    if env.get("VTE_VERSION") or term.startswith(("foot", "rxvt")):
        return "osc777"
    return "bell"


def encode(title: str, body: str, protocol: str) -> str:
    """The bare sequence for ``protocol`` (no tmux wrapping)."""
    if protocol == "osc9":
        return osc9(f"{title}: {body}" if body else title)
    if protocol == "osc777":
        return osc777(title, body)
    if protocol == "osc99":
        return osc99(title, body)
    if protocol == "bell":
        return BEL
    raise ValueError(f"unknown terminal protocol {protocol!r}; use one of {', '.join(PROTOCOLS)}")


def notification_bytes(title: str, body: str, protocol: str, tmux: bool = False, passthrough: bool = True) -> bytes:
    """What to write to the terminal: the sequence, tmux-wrapped inside tmux, or a bell when it cannot pass."""
    if protocol == "bell" or (tmux and not passthrough):
        return BEL.encode()
    sequence = encode(title, body, protocol)
    return (tmux_wrap(sequence) if tmux else sequence).encode("utf-8")


def tmux_passthrough(env: Mapping[str, str], timeout: float = 2.0) -> bool:
    """Whether this tmux pane lets escape sequences through (tmux >= 3.3 needs ``allow-passthrough on``)."""
    argv = ["tmux", "show-options", "-A", "-p", "-v", "allow-passthrough"]  # -A: the value inherited from -g
    if env.get("TMUX_PANE"):
        argv[2:2] = ["-t", env["TMUX_PANE"]]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=dict(env), check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    if proc.returncode != 0:
        # tmux < 3.3 has no such option (and < 3.0 no -A): those always pass through
        return "invalid option" in proc.stderr or "unknown flag" in proc.stderr
    return proc.stdout.strip() in ("on", "all")


def resolve_protocol(setting: str, env: Mapping[str, str]) -> str:
    """The configured protocol, or the detected one for ``auto``."""
    if setting == "auto":
        return detect_protocol(env)
    if setting not in PROTOCOLS:
        raise ValueError(f"[notify] terminal_protocol = {setting!r}: use auto or one of {', '.join(PROTOCOLS)}")
    return setting


def write_notification(
    stream: BinaryIO, title: str, body: str, setting: str = "auto", env: Mapping[str, str] | None = None
) -> bytes:
    """Write one notification to ``stream`` (a terminal) and return the bytes written."""
    env = os.environ if env is None else env
    tmux = in_tmux(env)
    protocol = resolve_protocol(setting, env)
    passthrough = tmux_passthrough(env) if tmux and protocol != "bell" else True
    data = notification_bytes(title, body, protocol, tmux=tmux, passthrough=passthrough)
    stream.write(data)
    stream.flush()
    return data


class TerminalChannel:
    """The terminal as an alert channel: writes to ``stream`` only when it is a terminal (or ``force``)."""

    name = "terminal"

    def __init__(
        self, stream: BinaryIO, setting: str = "auto", env: Mapping[str, str] | None = None, force: bool = False
    ):
        self.stream, self.setting, self.env, self.force = stream, setting, env, force

    def send(self, event: Event) -> str:
        if not (self.force or self.stream.isatty()):
            raise NotApplicable("no terminal attached (the TUI and `rankinv notify-test` run in one)")
        data = write_notification(self.stream, event.title, event.body, self.setting, self.env)
        return "bell" if data == BEL.encode() else f"{len(data)} bytes"
