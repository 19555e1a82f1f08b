"""The real daemon process never imports Textual or the TUI: ``rankinv daemon ROOT --foreground`` follows a live
GRPO run to its KILL verdict with Python's import profiler on (``PYTHONPROFILEIMPORTTIME``, i.e. ``-X importtime``),
and every module the process loaded, in any thread, is read back from its stderr."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from tests.support import daemon as D
from tests.support.fakelog import append, expected_points, make_run, record

CONFIG = """
[daemon]
debounce_seconds = 0.05
heartbeat_seconds = 0.5
poll_interval = 0.2
"""
PROFILE = {"PYTHONPROFILEIMPORTTIME": "1"}


def imported(stderr: str) -> set[str]:
    """Module names from ``-X importtime`` lines (``import time: self | cumulative | name``)."""
    rows = (line.rpartition("|")[2].strip() for line in stderr.splitlines() if line.startswith("import time:"))
    return {name for name in rows if name and name != "imported package"}


def _tui(names: set[str]) -> list[str]:
    return sorted(n for n in names if n.split(".")[0] == "textual" or f"{n}.".startswith("rankinv.tui."))


def test_the_profile_sees_textual_when_it_is_imported() -> None:
    """The check can fail: a process that does import Textual shows it, nested modules included."""
    done = subprocess.run([sys.executable, "-c", "import textual.app"], capture_output=True, text=True,
                          env={**D.env(), **PROFILE}, check=True)  # fmt: skip
    names = imported(done.stderr)
    assert {"textual", "textual.app"} <= names
    assert _tui(names)


def test_a_daemon_following_a_live_run_never_imports_textual(tmp_path: Path) -> None:
    root, state = tmp_path / "root", tmp_path / "state"
    state.mkdir()
    run = make_run(root / "grpo")
    append(run, "".join(record(step) for step in range(1, 41)))
    (tmp_path / "c.toml").write_text(CONFIG)
    rankinv = Path(sys.executable).with_name("rankinv")  # the console script, as a user starts it
    assert rankinv.is_file(), f"{rankinv}: install the project (scripts/setup) to get the rankinv command"
    argv = [str(rankinv), "daemon", str(root), "--foreground", "--state-dir", str(state), "--config",
            str(tmp_path / "c.toml")]  # fmt: skip
    with (tmp_path / "stdout").open("wb") as out, (tmp_path / "stderr").open("wb") as err:
        proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env={**D.env(), **PROFILE})
    try:
        D.wait_for("the first points", lambda: D.read(root, state, lambda s: ("entropy", 40) in D.metrics(s, "grpo")))
        for start in range(41, 221, 20):  # a live run: its log grows while the daemon watches (about 3 s)
            append(run, "".join(record(step) for step in range(start, start + 20)))
            time.sleep(0.3)
        expected = expected_points(run, "grpo")
        D.wait_for("every point", lambda: D.read(root, state, lambda s: D.metrics(s, "grpo")) == expected)
        D.wait_for("the KILL verdict", lambda: D.read(
            root, state, lambda s: (v := s.latest_verdict("grpo")) is not None and v.decision == "KILL"))
    finally:
        assert D.stop(proc) == 0, (tmp_path / "stderr").read_text()[-2000:]
    names = imported((tmp_path / "stderr").read_text())
    # The profile covered the daemon's own work: serving, watching, ingest, the verdict and its alert.
    assert {"rankinv.daemon.serve", "rankinv.daemon.fswatch", "rankinv.daemon.pipeline.ingest", "rankinv.verdict",
            "rankinv.daemon.notify.dispatch"} <= names  # fmt: skip
    assert _tui(names) == []
