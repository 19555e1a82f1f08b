"""The daemon's log: a rotating file in the state directory (weeks of uptime stay bounded), plus stderr in
the foreground so systemd, tmux or an sbatch job shows it too. Messages quote run and metric names, so every
line is escaped (:func:`~rankinv.boundary.text.shown`): a name cannot forge a log line or reach a terminal
that tails the log as an escape sequence."""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from io import TextIOWrapper
from pathlib import Path
from typing import Any

from rankinv.boundary.text import shown, shown_lines
from rankinv.store.private import FILE_MODE, private_dir

LOG_NAME = "daemon.log"
FORMAT = "%(asctime)s %(levelname)s %(message)s"


class EscapingFormatter(logging.Formatter):
    """One log record, one line: the message escaped whole, tracebacks escaped line by line."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = shown(record.message)
        return super().formatMessage(record)

    def formatException(self, ei: Any) -> str:
        return shown_lines(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        return shown_lines(super().formatStack(stack_info))


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """Each log file (the first and every one after a rotation) created 0600, whatever the umask."""

    def _open(self) -> TextIOWrapper:
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(self.baseFilename, flags, FILE_MODE)
        os.fchmod(fd, FILE_MODE)
        stream = open(fd, self.mode, encoding=self.encoding, errors=self.errors)  # noqa: SIM115 (the handler closes it)
        assert isinstance(stream, TextIOWrapper)
        return stream


def setup_logging(state_dir: Path, *, foreground: bool) -> Path:
    path = state_dir / LOG_NAME
    private_dir(state_dir)
    logger = logging.getLogger("rankinv")
    logger.setLevel(logging.INFO)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    handlers: list[logging.Handler] = [PrivateRotatingFileHandler(path, maxBytes=10 << 20, backupCount=3)]
    if foreground:
        handlers.append(logging.StreamHandler(sys.stderr))
    for handler in handlers:
        handler.setFormatter(EscapingFormatter(FORMAT))
        logger.addHandler(handler)
    logger.propagate = False
    return path
