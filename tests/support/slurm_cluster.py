"""A real one-node Slurm cluster for tests, in a temp dir, with its own munged.

Use the ``slurm_cluster`` fixture (session scope; import it into the one test module that needs it, or via
``pytest_plugins``). Everything lives under one temp dir: munge key, socket, slurm.conf, state, spool,
logs and pid files, on free TCP ports, so it never touches a system Slurm and two test sessions can run
at once. Commands reach it through ``SLURM_CONF`` in :attr:`SlurmCluster.env`. If Slurm cannot start the
fixture fails with the tail of the slurmctld/slurmd/munged logs — it never skips. Teardown cancels every
job and stops the daemons it started (by pid), so no process leaks.

A pytest that never reaches its teardown (SIGTERM from a CI cancel, SIGKILL, a crash) must not leave the cluster
behind either: the daemons detach into sessions of their own, and a job's ``slurmstepd`` outlives slurmd by design.
So the fixture starts a guardian first (:data:`GUARDIAN`), in a session of its own and deaf to SIGTERM, SIGINT and
SIGHUP, holding the read end of a pipe only this pytest process writes to. Its normal teardown says ``done`` and
closes it; end of file without ``done`` means pytest died, and the guardian kills every process of this cluster
(:func:`processes_under`: the temp dir in its command line or environment, which is how ``slurmscriptd``,
``slurmstepd`` and jobs are told apart from other sessions' clusters) and removes the temp dir.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

OTHER_USER = "rankinv-other"
DAEMONS = ("munged", "slurmctld", "slurmd")

CONF = """\
ClusterName=rankinvtest
SlurmctldHost=localhost
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={sock}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
MinJobAge=30
KillWait=5
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/run/slurmctld.pid
SlurmdPidFile={d}/run/slurmd.pid
SlurmctldLogFile={d}/log/slurmctld.log
SlurmdLogFile={d}/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
SchedulerType=sched/builtin
NodeName=localhost NodeHostname=localhost NodeAddr=127.0.0.1 CPUs=2 RealMemory=256 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class SlurmCluster:
    """Handles to the running cluster."""

    dir: Path
    env: dict[str, str]
    other_user: str
    other_uid: int
    pids: dict[str, int] = field(default_factory=dict)

    def run(self, *argv: str, user: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = list(argv) if user is None else ["su", user, "-c", " ".join(_quote(a) for a in argv)]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=self.env, timeout=30, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr}\n{self.log_tail()}")
        return proc

    def sbatch(self, *args: str, user: str | None = None) -> str:
        out = self.run("sbatch", "--parsable", *args, user=user).stdout.strip()
        return out.split(";")[0]

    def state(self, job_id: str) -> str:
        """The job's state, or '' once it has left the queue."""
        out = self.run("squeue", "-h", "-j", job_id, "-o", "%T", check=False).stdout.strip()
        return out

    def wait_state(self, job_id: str, states: tuple[str, ...], timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.state(job_id)
            if state in states:
                return state
            time.sleep(0.2)
        raise AssertionError(f"job {job_id} never reached {states} (now {self.state(job_id)!r})\n{self.log_tail()}")

    def cancel_all(self) -> None:
        for user in ("root", self.other_user):
            self.run("scancel", "--user", user, check=False)

    def log_tail(self, lines: int = 25) -> str:
        out = []
        for name in DAEMONS:
            path = self.dir / "log" / f"{name}.log"
            text = path.read_text(errors="replace").splitlines()[-lines:] if path.exists() else ["(no log)"]
            out.append(f"--- {path}\n" + "\n".join(text))
        return "\n".join(out)


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)


def ensure_user(name: str) -> int:
    try:
        return pwd.getpwnam(name).pw_uid
    except KeyError:
        subprocess.run(["useradd", "--no-create-home", "--shell", "/bin/sh", name], check=True, capture_output=True)
        return pwd.getpwnam(name).pw_uid


def _layout(base: Path) -> dict[str, Path]:
    dirs = {k: base / k for k in ("munge", "sock", "state", "spool", "run", "log", "jobs")}
    base.mkdir(mode=0o755, exist_ok=True)
    base.chmod(0o755)
    base.parent.chmod(0o755)
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    dirs["munge"].chmod(0o700)  # the key: root only
    dirs["jobs"].chmod(0o1777)  # job scripts and outputs of both users
    return dirs


def _start_munge(base: Path, dirs: dict[str, Path]) -> Path:
    key, sock = dirs["munge"] / "munge.key", dirs["sock"] / "munge.sock"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o600)
    proc = subprocess.run(
        [
            "munged",
            "--force",
            f"--socket={sock}",
            f"--key-file={key}",
            f"--log-file={dirs['log']}/munged.log",
            f"--pid-file={dirs['run']}/munged.pid",
            f"--seed-file={dirs['munge']}/seed",
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    if proc.returncode != 0:
        log = dirs["log"] / "munged.log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"
        raise AssertionError(f"munged did not start: {proc.stderr}\n--- {log}\n{tail}")
    return sock


def _read_pid(path: Path, timeout: float = 10.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return int(path.read_text().strip())
        except (OSError, ValueError):
            time.sleep(0.05)
    return 0


def _wait_idle(cluster: SlurmCluster, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = cluster.run("sinfo", "-h", "-N", "-o", "%N %t", check=False).stdout.split()
        if out[-1:] == ["idle"]:
            return
        dead = [name for name in ("slurmctld", "slurmd") if not _alive(cluster.pids.get(name, 0))]
        if dead:
            raise AssertionError(f"{', '.join(dead)} exited while starting\n{cluster.log_tail()}")
        time.sleep(0.3)
    raise AssertionError(f"Slurm node never became idle (sinfo: {out})\n{cluster.log_tail()}")


def start_cluster(base: Path) -> SlurmCluster:
    missing = [d for d in (*DAEMONS, "sbatch") if shutil.which(d) is None]
    if missing or os.getuid() != 0:
        raise AssertionError(f"the Slurm tests need root and {missing or DAEMONS}: run `scripts/setup --test`")
    dirs = _layout(base)
    sock = _start_munge(base, dirs)
    conf = base / "slurm.conf"
    conf.write_text(CONF.format(ctld_port=free_port(), d_port=free_port(), sock=sock, d=base))
    env = {**os.environ, "SLURM_CONF": str(conf)}
    cluster = SlurmCluster(base, env, OTHER_USER, ensure_user(OTHER_USER))
    cluster.pids["munged"] = _read_pid(dirs["run"] / "munged.pid")
    for name, argv in (
        ("slurmctld", ["slurmctld", "-f", str(conf)]),
        ("slurmd", ["slurmd", "-f", str(conf), "-N", "localhost"]),
    ):
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=30, check=False)
        cluster.pids[name] = _read_pid(dirs["run"] / f"{name}.pid") if proc.returncode == 0 else 0
        if not cluster.pids[name]:
            stop_cluster(cluster)
            raise AssertionError(f"{name} did not start: {proc.stderr}\n{cluster.log_tail()}")
    try:
        _wait_idle(cluster)
    except AssertionError:
        stop_cluster(cluster)
        raise
    return cluster


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for init to reap it counts as exited)."""
    if pid <= 0:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2 :][:1] not in ("Z", "X")


def processes_under(base: Path) -> list[str]:
    """Command lines of live processes that mention ``base`` in their command line or environment (what a leak
    would look like: ``slurmstepd: [1.batch]`` and ``slurmscriptd`` name it only in ``SLURM_CONF``)."""
    return [cmd for _, cmd in _under(base)]


def _under(base: Path) -> list[tuple[int, str]]:
    found = []
    needle = str(base).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes() if needle not in raw else b""
        except OSError:
            continue
        if (needle in raw or needle in environ) and _alive(int(entry.name)):
            found.append((int(entry.name), raw.replace(b"\0", b" ").decode(errors="replace")))
    return found


def stop_cluster(cluster: SlurmCluster) -> None:
    """Cancel jobs, then SIGTERM each daemon we started and wait for it (SIGKILL after 15 s)."""
    if cluster.pids.get("slurmctld"):
        cluster.cancel_all()
        deadline = time.monotonic() + 20
        while cluster.run("squeue", "-h", "-o", "%i", check=False).stdout.strip() and time.monotonic() < deadline:
            time.sleep(0.2)
    for name in reversed(DAEMONS):
        pid = cluster.pids.get(name, 0)
        if pid and _alive(pid):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 15
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


GUARDIAN = r"""
import os, shutil, signal, sys, time
from pathlib import Path
for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(sig, signal.SIG_IGN)
root = Path(sys.argv[1])
said = b""
while chunk := os.read(0, 64):
    said += chunk
if said != b"done":  # end of file without "done": the pytest that started the cluster died
    needle, me = str(root).encode(), os.getpid()
    for attempt in range(40):
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == me:
                continue
            try:
                raw = (entry / "cmdline").read_bytes()
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state not in ("Z", "X") and (needle in raw or needle in (entry / "environ").read_bytes()):
                    found.append(int(entry.name))
            except (OSError, IndexError):
                continue
        if not found:
            break
        for pid in found:
            try:
                os.kill(pid, signal.SIGTERM if attempt < 10 else signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.5)
    shutil.rmtree(root, ignore_errors=True)
"""
"""Run by the fixture's guardian (see the module): waits for pytest to close its pipe, and tears the cluster down
when pytest died without saying ``done`` (SIGTERM for 5 s, then SIGKILL, until nothing of it is left)."""


@dataclass
class Guardian:
    """The fixture's guardian process and the pipe that keeps it waiting."""

    proc: subprocess.Popen[bytes]
    pipe: int

    @classmethod
    def start(cls, root: Path) -> Guardian:
        read, write = os.pipe()  # not inheritable: only this process holds the write end
        try:
            proc = subprocess.Popen([sys.executable, "-c", GUARDIAN, str(root)], stdin=read,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    start_new_session=True)  # fmt: skip
        except BaseException:
            os.close(write)
            raise
        finally:
            os.close(read)
        return cls(proc, write)

    def done(self) -> None:
        """The cluster was torn down here: the guardian leaves without touching anything."""
        os.write(self.pipe, b"done")
        os.close(self.pipe)
        self.proc.wait(timeout=30)


_SHARED: dict[str, SlurmCluster] = {}
_GUARDS: dict[str, Guardian] = {}
_USERS = [0]


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[SlurmCluster]:
    """One cluster per test session, however many modules import this fixture (each import is its own
    fixture to pytest): the first user starts it, the last to tear down stops it."""
    if not _SHARED:
        # Not under pytest's tmp_path: that is mode 0700, and the second user's jobs must reach their files.
        # A short path also keeps the munge socket inside sun_path (108 bytes).
        base = Path(tempfile.mkdtemp(prefix="rankinv-slurm-"))
        _GUARDS["cluster"] = Guardian.start(base)  # first: a pytest killed while the cluster starts leaks nothing
        try:
            _SHARED["cluster"] = _start_with_retry(base)
        except BaseException:
            shutil.rmtree(base, ignore_errors=True)
            _GUARDS.pop("cluster").done()
            raise
    _USERS[0] += 1
    try:
        yield _SHARED["cluster"]
    finally:
        _USERS[0] -= 1
        if _USERS[0] == 0:
            cluster = _SHARED.pop("cluster")
            stop_cluster(cluster)
            shutil.rmtree(cluster.dir.parent, ignore_errors=True)
            _GUARDS.pop("cluster").done()


def _start_with_retry(base: Path, attempts: int = 2) -> SlurmCluster:
    """A free port can be taken between choosing it and slurmctld binding it: one more try on fresh ports."""
    for attempt in range(1, attempts + 1):
        try:
            return start_cluster(base / f"try{attempt}")
        except AssertionError:
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")


GRPO_JOB = '''\
#!/usr/bin/python3
"""A GRPO-shaped job: TRL-style log records with collapsing entropy; SIGUSR1 saves (and, in "exit" mode, exits)."""
import json, os, signal, socket, sys, time

run_dir, mode = sys.argv[1], sys.argv[2]
os.makedirs(run_dir, exist_ok=True)
step = 0


def write(name, text, how="a"):
    with open(os.path.join(run_dir, name), how) as f:
        f.write(text)
        f.flush()


def on_usr1(signum, frame):
    write("usr1.log", f"{time.time()} step {step}\\n")
    os.makedirs(os.path.join(run_dir, f"checkpoint-{step}"), exist_ok=True)
    if mode == "exit":
        sys.exit(0)


signal.signal(signal.SIGUSR1, on_usr1)
manifest = {"kind": "grpo", "host": socket.gethostname(), "pid": os.getpid(),
            "slurm": {k: v for k, v in os.environ.items() if k.startswith("SLURM_")}}
write("rankinv-run.json", json.dumps(manifest), "w")
while True:
    step += 1
    entropy = 0.9 * 0.97 ** step
    record = {"step": step, "entropy": entropy, "reward": 0.3 + 0.6 * (1 - 0.97 ** step),
              "frac_reward_zero_std": 1 - 0.97 ** step, "completions/mean_length": 40.0}
    write("rankinv.jsonl", json.dumps(record) + "\\n")
    time.sleep(0.05)
'''


def submit_grpo_job(
    cluster: SlurmCluster, run: str, mode: str = "continue", user: str | None = None, name: str | None = None
) -> tuple[str, Path]:
    """Submit the GRPO-shaped job writing into ``jobs/<run>``; returns (job id, run dir)."""
    jobs = cluster.dir / "jobs"
    script = jobs / "grpo_job.py"
    if not script.exists():
        script.write_text(GRPO_JOB)
        script.chmod(0o755)
    run_dir = jobs / run
    run_dir.mkdir(parents=True, exist_ok=True)  # the job's working directory: Slurm's record ties it to the run
    if user is not None:
        shutil.chown(run_dir, user)
    job_id = cluster.sbatch(
        "-J", name or run, "-D", str(run_dir), "-o", str(jobs / f"{run}.out"), str(script), str(run_dir), mode,
        user=user,
    )  # fmt: skip
    return job_id, run_dir


def wait_for(predicate: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
