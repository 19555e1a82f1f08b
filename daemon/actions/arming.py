"""Armed or dry-run: ``rankinv arm ROOT`` / ``disarm`` (or the TUI's confirmed key) override the config.

The switch is a small JSON file next to the store (local disk, per runs root and host), read before every
irreversible step, so disarming takes effect at once — even during a grace period — without a restart.
Without the file, ``[actions] armed`` decides. Anything unreadable counts as disarmed.
"""

from __future__ import annotations

import getpass
import json
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from rankinv.boundary.atomic import write_atomic
from rankinv.config import ActionsConfig
from rankinv.store.paths import state_dir_for
from rankinv.store.private import private_dir

ARM_FILE = "armed.json"


@dataclass(frozen=True)
class ArmState:
    """Whether actions are real, and who or what said so."""

    armed: bool
    source: str


def arm_file(root: str | Path, state_base: str = "") -> Path:
    return state_dir_for(root, state_base or None) / ARM_FILE


def set_armed(root: str | Path, armed: bool, state_base: str = "", by: str = "cli") -> ArmState:
    """Write the switch atomically; returns the new state."""
    path = arm_file(root, state_base)
    private_dir(path.parent)
    who = f"{getpass.getuser()}@{socket.gethostname()}"
    data = {"armed": armed, "by": by, "who": who, "at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    write_atomic(path, json.dumps(data) + "\n", mode=0o600)
    return ArmState(armed, describe(data))


def describe(data: dict[str, object]) -> str:
    return f"{'armed' if data.get('armed') else 'disarmed'} by {data.get('by')} ({data.get('who')}, {data.get('at')})"


def read_armed(root: str | Path, config: ActionsConfig, state_base: str = "") -> ArmState:
    """The switch if set, else the config."""
    path = arm_file(root, state_base)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return ArmState(config.armed, f"[actions] armed = {str(config.armed).lower()} in the config")
    except (OSError, ValueError):
        return ArmState(False, f"{path} is unreadable: treated as disarmed")
    if not isinstance(data, dict) or not isinstance(data.get("armed"), bool):
        return ArmState(False, f"{path} is malformed: treated as disarmed")
    return ArmState(data["armed"], describe(data))
