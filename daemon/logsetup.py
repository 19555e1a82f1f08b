"""The daemon's log: a rotating file in the state directory (weeks of uptime stay bounded), plus stderr in
the foreground so systemd, tmux or an sbatch job shows it too."""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

LOG_NAME = "daemon.log"
FORMAT = "%(asctime)s %(levelname)s %(message)s"


def setup_logging(state_dir: Path, *, foreground: bool) -> Path:
    path = state_dir / LOG_NAME
    state_dir.mkdir(parents=True, exist_ok=True)
    logger = logging.getLogger("rankinv")
    logger.setLevel(logging.INFO)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    handlers: list[logging.Handler] = [logging.handlers.RotatingFileHandler(path, maxBytes=10 << 20, backupCount=3)]
    if foreground:
        handlers.append(logging.StreamHandler(sys.stderr))
    for handler in handlers:
        handler.setFormatter(logging.Formatter(FORMAT))
        logger.addHandler(handler)
    logger.propagate = False
    return path
