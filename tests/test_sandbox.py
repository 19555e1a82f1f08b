"""The code-execution sandbox against hostile programs: each is contained and classified (real subprocesses)."""

from __future__ import annotations

import os
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from rankinv.errors import RankinvError
from rankinv.triage.sandbox import ExecLimits, ExecResult, Sandbox

LIMITS = ExecLimits(timeout_s=3.0, cpu_s=3, memory_mb=512, fsize_mb=1, nproc=16)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return state[state.rfind(")") + 2] != "Z"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Run every hostile program once, concurrently (the pool is part of what is tested)."""
    outside = tmp_path_factory.mktemp("outside")
    victim = outside / "victim.txt"
    victim.write_text("keep me")
    (outside / "tree").mkdir()
    (outside / "tree" / "leaf").write_text("keep me too")
    pids = outside / "pids.txt"
    programs = {
        "fork_bomb": f"""
            import os, posix  # posix.fork: bypasses the os.fork guard, so only the process limits contain it
            while True:
                try:
                    posix.fork()
                    with open({str(pids)!r}, "a") as f:
                        f.write(f"{{os.getpid()}}\\n")
                except OSError:
                    pass
            """,
        "sleep_forever": "import time\ntime.sleep(10_000)\n",
        "spin": "while True:\n    pass\n",
        "unbounded_output": "while True:\n    print('x' * 4096)\n",
        "reads_stdin": "line = input()\nassert line\n",
        "exit_early": "import sys\nsys.exit(0)\nassert False, 'the tests'\n",
        "os_exit_early": "import os\nos._exit(0)\n",
        "deletes_outside": f"""
            import os, shutil, pathlib
            for attempt in (lambda: os.remove({str(victim)!r}), lambda: pathlib.Path({str(victim)!r}).unlink(),
                            lambda: shutil.rmtree({str(outside / "tree")!r})):
                try:
                    attempt()
                except Exception:
                    pass
            assert not os.path.exists({str(victim)!r})
            """,
        "allocates": "blocks = []\nwhile True:\n    blocks.append(bytearray(50 * 1024 * 1024))\n",
        "passes": "def add(a, b):\n    return a + b\n\nassert add(2, 3) == 5\nprint('done')\n",
        "fails": "assert 1 + 1 == 3\n",
    }
    names = list(programs)
    sandbox = Sandbox(LIMITS, workers=4, allowed=True)
    start = time.monotonic()
    results = sandbox.run_many([textwrap.dedent(programs[n]) for n in names])
    return {
        "results": dict(zip(names, results, strict=True)),
        "elapsed": time.monotonic() - start,
        "victim": victim,
        "tree": outside / "tree" / "leaf",
        "pids": pids,
    }


def _result(hostile: dict[str, object], name: str) -> ExecResult:
    results = hostile["results"]
    assert isinstance(results, dict)
    return results[name]


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("fork_bomb", "timeout"),
        ("sleep_forever", "timeout"),
        ("spin", "timeout"),
        ("unbounded_output", "fail"),
        ("reads_stdin", "fail"),
        ("exit_early", "fail"),
        ("os_exit_early", "fail"),
        ("deletes_outside", "fail"),
        ("allocates", "oom"),
        ("passes", "pass"),
        ("fails", "fail"),
    ],
)
def test_each_program_is_classified(hostile: dict[str, object], name: str, status: str) -> None:
    result = _result(hostile, name)
    assert result.status == status, result


def test_quick_failures_do_not_wait_for_the_timeout(hostile: dict[str, object]) -> None:
    for name in ("reads_stdin", "unbounded_output", "exit_early", "fails", "passes"):
        assert _result(hostile, name).seconds < LIMITS.timeout_s, name


def test_timeouts_end_near_the_wall_limit(hostile: dict[str, object]) -> None:
    for name in ("sleep_forever", "spin", "fork_bomb"):
        assert _result(hostile, name).seconds < LIMITS.timeout_s + 5, name


def test_exit_zero_before_the_tests_is_not_a_pass(hostile: dict[str, object]) -> None:
    result = _result(hostile, "exit_early")
    assert result.exit_code == 0
    assert "before the tests" in result.detail


def test_files_outside_the_sandbox_survive(hostile: dict[str, object]) -> None:
    assert Path(str(hostile["victim"])).read_text() == "keep me"
    assert Path(str(hostile["tree"])).read_text() == "keep me too"


def test_output_is_capped_by_the_file_size_limit(hostile: dict[str, object]) -> None:
    assert "File too large" in _result(hostile, "unbounded_output").detail


def test_fork_bomb_is_capped_and_leaves_no_process(hostile: dict[str, object]) -> None:
    recorded = [int(x) for x in Path(str(hostile["pids"])).read_text().split()]
    assert recorded, "the fork bomb never forked: the test proves nothing"
    assert len(set(recorded)) <= LIMITS.nproc * 4, f"{len(set(recorded))} processes: the process limit did not bind"
    survivors = [pid for pid in set(recorded) if _alive(pid)]
    assert survivors == []


def test_results_are_cached_by_program(tmp_path: Path) -> None:
    counter = tmp_path / "runs.txt"
    program = f"with open({str(counter)!r}, 'a') as f:\n    f.write('run\\n')\n"
    sandbox = Sandbox(LIMITS, workers=2, allowed=True)
    results = sandbox.run_many([program, program, program])
    assert [r.status for r in results] == ["pass"] * 3
    assert sandbox.run(program).status == "pass"
    assert counter.read_text().split() == ["run"]


def test_off_unless_opted_in() -> None:
    with pytest.raises(RankinvError, match="NOT a security sandbox"):
        Sandbox(LIMITS, allowed=False)


def test_no_temp_directories_left(tmp_path: Path) -> None:
    before = {p for p in os.listdir(tempfile.gettempdir()) if p.startswith("rankinv-exec-")}
    Sandbox(LIMITS, allowed=True).run("print('hi')\n")
    after = {p for p in os.listdir(tempfile.gettempdir()) if p.startswith("rankinv-exec-")}
    assert after - before == set()
