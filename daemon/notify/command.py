"""A user command run once per alert, with the event as JSON on stdin."""

from __future__ import annotations

import json
import shlex
import subprocess

from rankinv.daemon.notify.event import Event, NotifyError


class CommandChannel:
    """Runs ``command`` (split like a shell would, but never through one) with a timeout."""

    name = "command"

    def __init__(self, command: str, timeout: float = 10.0):
        self.argv = shlex.split(command)
        if not self.argv:
            raise ValueError("[notify] command is empty")
        self.timeout = timeout

    def send(self, event: Event) -> str:
        payload = json.dumps(event.to_dict())
        try:
            proc = subprocess.run(
                self.argv, input=payload, capture_output=True, text=True, timeout=self.timeout, check=False
            )
        except FileNotFoundError:
            raise NotifyError(f"command hook not found: {self.argv[0]}") from None
        except PermissionError:
            raise NotifyError(f"command hook not executable: {self.argv[0]}") from None
        except subprocess.TimeoutExpired:
            raise NotifyError(f"command hook {self.argv[0]} killed after {self.timeout:g} s") from None
        if proc.returncode != 0:
            raise NotifyError(f"command hook {self.argv[0]} exited {proc.returncode}: {proc.stderr.strip()[-200:]}")
        return f"{self.argv[0]} ok"
