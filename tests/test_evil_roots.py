"""The hostile runs roots of ``tests/evil/roots`` through the real CLI, the real daemon and the TUI in tmux.

All attacks live in one root, so each must also leave every other run alone. Expected values come from the
files as planted (steps and values written by the builders, the escaped spellings written out by hand).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from rankinv.store import ReadStore, store_path_for
from tests.evil.roots import CASES
from tests.evil.roots.common import SECRET
from tests.support import daemon as d

ESC = "\x1b"
OSC_SHOWN = "osc\\x1b]52;c;aGVsbG8=\\x07run"  # how the OSC 52 run name must appear: escaped, by hand
LATIN1_SHOWN = "caf\\xe9"


@pytest.fixture(scope="module")
def evil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One root holding every case (the socket stays bound while the module's tests run)."""
    base = tmp_path_factory.mktemp("evil")
    root = base / "root"
    root.mkdir()
    keep: list[socket.socket] = []
    for build, _expected in CASES.values():
        made = build(root)
        if isinstance(made, socket.socket):
            keep.append(made)
    yield root
    for sock in keep:
        sock.close()


def rankinv(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The CLI as a user runs it (wide terminal so names are not wrapped); raw bytes kept."""
    proc = subprocess.run([sys.executable, "-m", "rankinv", *args], capture_output=True, env={**d.env(),
                          "COLUMNS": "250"}, timeout=timeout, stdin=subprocess.DEVNULL, check=False)  # fmt: skip
    out = proc.stdout.decode("utf-8", errors="surrogateescape")
    err = proc.stderr.decode("utf-8", errors="surrogateescape")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def assert_clean(text: str) -> None:
    assert ESC not in text and "\x07" not in text and "\x9b" not in text, f"control bytes reached the output: {text!r}"
    assert SECRET not in text, "the private file outside the root leaked"


def run_path(root: Path, name: bytes) -> Path:
    return Path(os.fsdecode(os.fsencode(root) + b"/" + name))


@pytest.fixture(scope="module")
def scanned(evil: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """``rankinv status ROOT`` with no daemon: one scan of the hostile root into a fresh store."""
    state = tmp_path_factory.mktemp("state")
    return rankinv("status", str(evil), "--state-dir", str(state)), store_path_for(evil, state)


def test_runs_lists_every_hostile_run_escaped(evil: Path) -> None:
    proc = rankinv("runs", str(evil))
    assert proc.returncode == 0, proc.stderr
    assert_clean(proc.stdout + proc.stderr)
    for name in ("fifo-log", "devzero-log", "socket-log", "symlink-loops", "markup[/]x", OSC_SHOWN, LATIN1_SHOWN,
                 "huge-step", "sparse-log"):  # fmt: skip
        assert name in proc.stdout
    row = next(line for line in proc.stdout.splitlines() if "symlink-out-manifest" in line)
    assert "SFT" not in row, "the kind came from the private file the manifest symlink points to"


def test_runs_json_carries_no_private_content(evil: Path) -> None:
    proc = rankinv("runs", str(evil), "--json")
    assert proc.returncode == 0, proc.stderr
    assert_clean(proc.stdout)
    runs = {r["name"]: r for r in json.loads(proc.stdout)}
    assert runs["symlink-out-manifest"]["manifest"] is None


def test_status_scan_survives_and_escapes(scanned: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    proc, _ = scanned
    assert proc.returncode == 0, proc.stderr
    assert_clean(proc.stdout + proc.stderr)
    assert "markup[/]x" in proc.stdout and OSC_SHOWN in proc.stdout and LATIN1_SHOWN in proc.stdout
    assert "skipped 41943041 bytes without a line end" in proc.stderr  # the 40 MB line, noted


def _series(store_path: Path, run: str, metric: str) -> tuple[tuple[int, ...], tuple[float, ...]]:
    with ReadStore.open(store_path) as store:
        s = store.series(run).get(metric)
    return (s.steps, s.values) if s is not None else ((), ())


def test_status_scan_keeps_every_good_record(scanned: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    _, store_path = scanned
    assert _series(store_path, "huge-step", "entropy") == ((1, 2, 3), (0.99, 0.98, 0.9))
    assert _series(store_path, "sparse-log", "entropy") == ((1, 2, 3), (0.99, 0.98, 0.75))
    assert _series(store_path, "long-line", "entropy") == ((1, 2), (1.0, 0.5))
    assert _series(store_path, "symlink-loops", "entropy")[0] == (1, 2, 3, 4)
    assert _series(store_path, "markup[/]x", "entropy")[0] == (1, 2, 3, 4)
    assert _series(store_path, LATIN1_SHOWN, "entropy")[0] == (1, 2, 3, 4, 5)
    steps, kl = _series(store_path, "infinities", "kl")
    assert steps == (3, 4) and kl[0] == math.inf and kl[1] == -math.inf
    assert _series(store_path, "huge-numbers", "entropy") == ((1, 2, 3), (0.99, 0.5, 0.25))
    assert _series(store_path, "huge-numbers", "kl") == ((2,), (math.inf,))
    assert _series(store_path, "symlink-out-log", "entropy") == ((), ()), "a log outside the root was read"
    with ReadStore.open(store_path) as store:
        notes = sorted((e.run, e.message.split(";")[0]) for e in store.events(limit=1000) if e.kind == "ingest"
                       and "step" in e.message and e.run in ("huge-step", "huge-numbers"))  # fmt: skip
    assert notes == [("huge-numbers", "rankinv.jsonl: line 3: step 1" + "0" * 36 + "... is beyond 2^63-1, the "
                      "largest step SQLite stores"),
                     ("huge-step", "rankinv.jsonl: line 3: step 18446744073709551616 is beyond 2^63-1, the largest "
                      "step SQLite stores")]  # fmt: skip


def test_status_scan_lists_special_files_without_reading_them(scanned: tuple[subprocess.CompletedProcess[str], Path],
                                                               ) -> None:  # fmt: skip
    _, store_path = scanned
    with ReadStore.open(store_path) as store:
        runs = {r.name: r for r in store.runs()}
        dumped = json.dumps([r.manifest for r in runs.values()]) + "".join(str(r.error) for r in runs.values())
        counts = {name: store.metric_count(name) for name in runs}
    assert SECRET not in dumped
    for name in ("fifo-log", "socket-log", "devzero-log"):
        assert runs[name].status == "active" and counts[name] == 0
    assert runs["markup[/]x"].status == "active" and runs["huge-step"].status == "active"


def test_status_json_has_no_control_bytes(evil: Path, scanned: tuple[subprocess.CompletedProcess[str], Path],
                                          tmp_path: Path) -> None:  # fmt: skip
    proc = rankinv("status", str(evil), "--state-dir", str(tmp_path), "--json")
    assert proc.returncode == 0, proc.stderr
    assert_clean(proc.stdout)


@pytest.mark.parametrize(
    ("run", "kind"), [(b"fifo-log", "a FIFO"), (b"socket-log", "a socket"), (b"devzero-log", "a character device")]
)
def test_metrics_refuses_special_files_at_once(evil: Path, run: bytes, kind: str) -> None:
    proc = rankinv("metrics", str(run_path(evil, run) / "rankinv.jsonl"), timeout=30)
    assert proc.returncode == 2
    assert f"{kind}, not a regular file" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_metrics_and_explain_escape_names(evil: Path) -> None:
    osc_dir = run_path(evil, next(n for n in CASES if n.startswith(b"osc")))
    metrics = rankinv("metrics", str(osc_dir))
    assert metrics.returncode == 0, metrics.stderr
    assert_clean(metrics.stdout + metrics.stderr)
    assert "\\x1b]0;pwned\\x07" in metrics.stdout
    explain = rankinv("explain", str(osc_dir))
    assert explain.returncode == 0, explain.stderr
    assert_clean(explain.stdout + explain.stderr)
    assert OSC_SHOWN in explain.stdout
    latin = rankinv("explain", str(run_path(evil, b"caf\xe9")))
    assert latin.returncode == 0, latin.stderr
    assert_clean(latin.stdout)
    calibrate = rankinv("calibrate", str(evil))
    assert calibrate.returncode == 0, calibrate.stderr
    assert_clean(calibrate.stdout + calibrate.stderr)


def test_daemon_ingests_around_hostile_runs_and_stops_on_sigterm(evil: Path, tmp_path: Path) -> None:
    """A run's log and manifest are replaced by FIFOs while the daemon runs (the hang of old): a run appended to
    afterwards is still ingested, and SIGTERM stops the daemon."""
    root = tmp_path / "root"
    shutil.copytree(evil, root, symlinks=True, ignore=lambda _d, names: [n for n in names if n.endswith("-log")])
    (root / "swapped").mkdir()
    (root / "swapped" / "rankinv.jsonl").write_text('{"step": 1, "entropy": 1.0}\n', encoding="utf-8")
    (root / "later").mkdir()
    (root / "later" / "rankinv.jsonl").write_text('{"step": 1, "entropy": 1.0}\n', encoding="utf-8")
    state = tmp_path / "state"
    proc = d.start(root, state, "--poll")
    store_path = store_path_for(root, state)
    try:
        d.wait_for("the first read of the swapped log", lambda: _series(store_path, "swapped", "entropy")[0] or None)
        for name in ("rankinv.jsonl", "rankinv-run.json"):
            os.mkfifo(root / "swapped" / "fifo.tmp")
            (root / "swapped" / "fifo.tmp").replace(root / "swapped" / name)
        with (root / "later" / "rankinv.jsonl").open("a", encoding="utf-8") as f:
            f.write('{"step": 2, "entropy": 0.5}\n')
        d.wait_for("the later append ingested", lambda: _series(store_path, "later", "entropy")[0] == (1, 2) or None)
        assert _series(store_path, "markup[/]x", "entropy")[0] == (1, 2, 3, 4)
        assert _series(store_path, LATIN1_SHOWN, "entropy")[0] == (1, 2, 3, 4, 5)
        # Refused when next read, or noted when the run is next listed: either way the log says why.
        d.wait_for("the FIFO named in daemon.log", lambda: b"swapped/rankinv.jsonl: a FIFO, not a regular file" in
                   b"".join(p.read_bytes() for p in store_path.parent.glob("daemon.log*")))  # fmt: skip
        shown = rankinv("daemon", "status", str(root), "--state-dir", str(state))
        assert shown.returncode == 0 and "running" in shown.stdout
        assert_clean(shown.stdout + shown.stderr)
    finally:
        code = d.stop(proc, signal.SIGTERM, timeout=30)
    assert code == 0
    log = b"".join(p.read_bytes() for p in store_path.parent.glob("daemon.log*"))
    assert b"osc\\x1b]52" in log or b"osc" not in log  # names in the log are escaped
    assert b"\x1b" not in log and b"\x07" not in log


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is installed by scripts/setup --test")
def test_tui_shows_names_escaped_in_a_real_terminal(evil: Path,
                                                    scanned: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    """tmux is the oracle: an OSC 0 that reached it would change the pane title, an OSC 52 would create a
    paste buffer (``set-clipboard on`` accepts them)."""
    _, store_path = scanned
    sock = f"rankinv-evil-{uuid.uuid4().hex[:8]}"
    tenv = {k: v for k, v in d.env().items() if k not in ("TMUX", "TMUX_PANE", "NO_COLOR")}

    def tmux(*args: str) -> str:
        return subprocess.run(["tmux", "-L", sock, "-f", "/dev/null", *args], capture_output=True, text=True,
                              check=True, timeout=20, env=tenv).stdout  # fmt: skip

    state = store_path.parents[2]  # store_path_for(root, state) is state/roots/<root>-<hash>/store.sqlite
    watch = [sys.executable, "-m", "rankinv", "watch", str(evil), "--no-daemon", "--readonly", "--state-dir",
             str(state)]  # fmt: skip
    assert store_path_for(evil, state) == store_path
    try:
        tmux("new-session", "-d", "-s", "tui", "-x", "160", "-y", "40", "-e", "TERM=xterm-256color",
             f"{subprocess.list2cmdline(watch)}; sleep 60")  # fmt: skip
        tmux("set-option", "-g", "set-clipboard", "on")
        deadline = time.monotonic() + 60
        screen = ""
        while "markup[/]x" not in screen or "osc\\x1b" not in screen:
            assert time.monotonic() < deadline, f"the runs never appeared:\n{screen}"
            time.sleep(0.2)
            screen = tmux("capture-pane", "-p", "-t", "tui")
        assert LATIN1_SHOWN in screen
        tmux("send-keys", "-t", "tui", "q")
        assert "pwned" not in tmux("display-message", "-p", "-t", "tui", "#{pane_title}")
        assert tmux("list-buffers") == "", "an OSC 52 from a run name reached the terminal"
    finally:
        subprocess.run(["tmux", "-L", sock, "kill-server"], capture_output=True, check=False, timeout=20)


def test_tui_detail_screens_of_hostile_runs_open_and_show_names_escaped(
    evil: Path, scanned: tuple[subprocess.CompletedProcess[str], Path]
) -> None:
    """Pilot: open the detail screen of every run (its headline was markup: ``markup[/]x`` crashed it)."""
    from rankinv.tui.app import make_app
    from rankinv.tui.screens.detail import DetailScreen
    from rankinv.tui.widgets.candidates_table import CandidatesTable

    _, store_path = scanned

    async def drive() -> list[str]:
        app = make_app(evil, store_path=store_path, no_daemon=True, alerts_on=False)
        seen: list[str] = []
        async with app.run_test(size=(160, 50)) as pilot:
            deadline = time.monotonic() + 30
            while len(app.main.query_one(CandidatesTable).shown) < len(CASES) - 3:  # runs without points rank too
                assert time.monotonic() < deadline, "the rows never appeared"
                await pilot.pause(0.05)
            rows = len(app.main.query_one(CandidatesTable).shown)
            await pilot.press("home")
            for _ in range(rows):
                await pilot.press("enter")
                deadline = time.monotonic() + 15
                while not isinstance(app.screen, DetailScreen):
                    assert time.monotonic() < deadline, "the detail screen did not open"
                    await pilot.pause(0.05)
                await pilot.pause(0.2)
                seen.append(app.export_screenshot())
                await pilot.press("escape")
                while app.screen is not app.main:
                    await pilot.pause(0.05)
                await pilot.press("down")
        return seen

    import asyncio

    screens = asyncio.run(drive())
    assert screens and all(ESC not in s and "\x07" not in s for s in screens)
    joined = "".join(screens).replace("\xa0", " ").replace("&#160;", " ")
    assert "markup[/]x" in joined

