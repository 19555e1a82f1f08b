"""A run known only by its stdout: the Slurm job that writes it, when Slurm itself ties the job to the run.

The evidence input is the job id in a stdout file's name (``slurm-4242.out`` in the run directory, or
``logs/grpo-4242.out`` whose job's working directory is the run); the job is the run's only if Slurm's own
record (``scontrol show job``) names that file as the job's ``StdOut`` and either the file lies in the run
directory, the job's ``WorkDir`` is the run directory, or (verl) the file names the run's TensorBoard folder
relative to that ``WorkDir``. One such job is the target; none or several: no target.
"""

from __future__ import annotations

from pathlib import Path

from rankinv.daemon.actions.slurm import Slurm, SlurmError

from rankinv.ingest.barelogs import LOG_FOLDERS, trainer_logs
from rankinv.ingest.slurmlog import job_id_from_name, lookup, verl_owner
from rankinv.ingest.verl_layout import TENSORBOARD
from rankinv.slurmjob import SlurmJob


def _ties(info: SlurmJob, run_dir: Path) -> bool:
    stdout = Path(info.stdout) if info.stdout else None
    if stdout is None or job_id_from_name(stdout) != info.job_id or not stdout.is_file():
        return False
    run = run_dir.resolve()
    if run_dir.is_file():  # a run that is a stdout file of its own: the job must write that very file
        return stdout.resolve() == run
    if stdout.resolve().parent == run or (bool(info.workdir) and Path(info.workdir).resolve() == run):
        return True
    # verl: the job's stdout names the run's TensorBoard folder, relative to the job's own WorkDir
    owner = verl_owner(stdout, info.workdir or None)
    return owner is not None and owner[0].resolve() == run


def _verl_logs(run_dir: Path) -> list[Path]:
    """For a verl TensorBoard run (``<base>/tensorboard_log/<project>/<experiment>``): the stdout files in its
    submit directory ``<base>`` (and its ``logs/``) that name this folder as theirs."""
    parts = run_dir.parts
    if len(parts) < 4 or parts[-3] != TENSORBOARD:
        return []
    base = Path(*parts[:-3])
    logs = [log for folder in (base, *(base / f for f in LOG_FOLDERS)) for log in trainer_logs(folder)]
    run = run_dir.resolve()
    return [log for log in logs if (o := verl_owner(log, None)) is not None and o[0].resolve() == run]


def stdout_jobs(run_dir: Path, slurm: Slurm) -> list[str]:
    """Job ids Slurm ties to the run through its stdout file (from the run's logs, the verl logs that name it, and
    the user's own jobs)."""
    logs = [run_dir] if run_dir.is_file() else [*trainer_logs(run_dir), *_verl_logs(run_dir)]
    candidates = {j for j in (job_id_from_name(p) for p in logs) if j}
    run = str(run_dir.resolve())
    try:
        mine = slurm.squeue(me=True)
    except SlurmError as exc:
        if exc.kind != "missing":
            raise
        mine = []  # no Slurm on this host: no job can be tied to the run
    candidates |= {j.job_id for j in mine if j.active and j.workdir in (run, str(run_dir))}
    tied = []
    for job_id in sorted(candidates):
        info = lookup(job_id, slurm.env)
        if info is not None and _ties(info, run_dir):
            tied.append(job_id)
    return tied
