"""Replay the bundled runs into a demo root: ``python -m rankinv.daemon.demo.replay SRC DST SECONDS DONE``.

When every line and checkpoint is written it creates the file DONE, then keeps its stand-in jobs alive until
its standard input closes.

Each run gets a stand-in training process (a sleeping child, started with the run's token in its
environment) whose pid, start time and token go into the run's manifest, so the dry-run daemon can resolve
"the job" and record what it would stop. It exits when the replay ends. Paths in the manifests are rewritten
from where the runs were built to the demo root.

With ``--reports`` (no torch here to sample a checkpoint) each checkpoint gets the triage report the demo itself
wrote when the runs were bundled (``SRC/triage-reports/RUN/CHECKPOINT.json``), written next to it as a training
callback would write it; ``@DEMO@`` in it becomes the demo's folder.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from rankinv.daemon.demo.plan import LOG, MANIFEST, Step, read_run, schedule

from rankinv.integrations.trl import RUN_DIR_ENV, TOKEN_ENV


def _stand_in_job(run_dir: Path, token: str) -> subprocess.Popen[bytes]:
    """Started as a launcher would start a training job: with the run's token and directory in its environment."""
    env = {**os.environ, TOKEN_ENV: token, RUN_DIR_ENV: str(run_dir)}
    argv = [sys.executable, "-c", "import time; time.sleep(3600)"]
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, env=env)


def _start_time(pid: int) -> float:
    ticks = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    btime = next(int(x.split()[1]) for x in Path("/proc/stat").read_text().splitlines() if x.startswith("btime "))
    return btime + ticks / os.sysconf("SC_CLK_TCK")


def _manifest(src: Path, dst: Path, run: str, job: subprocess.Popen[bytes], token: str) -> str:
    data = json.loads((src / run / MANIFEST).read_text(encoding="utf-8"))
    model = Path(str(data.get("model_path") or ""))
    if (src / model.parent.name).is_dir():  # a checkpoint of another bundled run
        data["model_path"] = str(dst / model.parent.name / model.name)
    data.update(output_dir=str(dst / run), host=socket.gethostname(), pid=job.pid,
                process_start_time=_start_time(job.pid), written_at=time.time(), demo=True, run_token=token)
    return json.dumps(data, indent=2)


REPORTS = "triage-reports"
REPORT_NAME = "rankinv-triage.json"


def _report(src: Path, dst: Path, run: str, checkpoint: str) -> None:
    shipped = src / REPORTS / run / f"{checkpoint}.json"
    if shipped.is_file():
        text = shipped.read_text(encoding="utf-8").replace("@DEMO@", str(dst.parent))
        tmp = dst / run / checkpoint / f".{REPORT_NAME}.tmp"
        tmp.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(tmp.with_name(REPORT_NAME))  # whole, never half-written


def _do(step: Step, src: Path, dst: Path, jobs: dict[str, subprocess.Popen[bytes]], reports: bool) -> None:
    run_dir = dst / step.run
    if step.kind == "manifest":
        run_dir.mkdir(parents=True, exist_ok=True)
        token = secrets.token_hex(16)
        jobs[step.run] = _stand_in_job(run_dir, token)
        (run_dir / MANIFEST).write_text(_manifest(src, dst, step.run, jobs[step.run], token), encoding="utf-8")
    elif step.kind == "line":
        with (run_dir / LOG).open("a", encoding="utf-8") as f:
            f.write(step.payload + "\n")
    else:
        if reports:  # before the weights: the checkpoint is never complete without its report
            _report(src, dst, step.run, step.payload)
        shutil.copytree(src / step.run / step.payload, run_dir / step.payload, dirs_exist_ok=True)


def replay(src: Path, dst: Path, seconds_per_run: float, done: Path, reports: bool = False) -> None:
    runs = [read_run(p) for p in sorted(src.iterdir()) if (p / LOG).is_file()]
    jobs: dict[str, subprocess.Popen[bytes]] = {}
    begin = time.monotonic()
    try:
        for step in schedule(runs, seconds_per_run):
            delay = begin + step.at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            _do(step, src, dst, jobs, reports)
        done.touch()
        sys.stdin.read()  # keep the stand-in jobs alive until the demo closes our stdin
    finally:
        for job in jobs.values():
            job.kill()
            job.wait()


def main(argv: list[str]) -> int:
    src, dst, seconds, done = Path(argv[0]), Path(argv[1]), float(argv[2]), Path(argv[3])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    replay(src, dst, seconds, done, reports="--reports" in argv[4:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
