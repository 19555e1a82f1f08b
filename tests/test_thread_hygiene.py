"""The leak fixture itself must be able to fail."""

import threading
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]


def test_leaking_test_fails(pytester: pytest.Pytester) -> None:
    pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text())
    pytester.makepyfile(
        """
        import threading
        stop = threading.Event()
        def test_leaks():
            threading.Thread(target=stop.wait, name="leaky", daemon=True).start()
        def test_clean():
            t = threading.Thread(target=lambda: None); t.start(); t.join()
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:textual-snapshot")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*leaked running threads: leaky*"])


def test_joined_thread_is_fine() -> None:
    t = threading.Thread(target=lambda: None)
    t.start()
    t.join()
