"""Test hygiene shared by every test: a test that leaves a thread running fails."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "allow_thread_leak(reason): a library we do not own keeps a pool thread alive; say which"
    )


def _live_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.is_alive()}


@pytest.fixture(autouse=True)
def no_leaked_threads(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test that leaves a thread it started still running (after a short join grace)."""
    before = _live_threads()
    yield
    if request.node.get_closest_marker("allow_thread_leak"):
        return
    leaked = _live_threads() - before
    deadline = time.monotonic() + 5.0
    while leaked and time.monotonic() < deadline:
        for t in leaked:
            t.join(timeout=0.1)
        leaked = {t for t in leaked if t.is_alive()}
    if leaked:
        names = ", ".join(sorted(t.name for t in leaked))
        pytest.fail(f"test leaked running threads: {names}")
