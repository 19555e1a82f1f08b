"""verl's default layout is one run per <project>/<experiment>: TensorBoard metrics and checkpoints together."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
from rankinv.daemon.pipeline.layout import owner, scan
from safetensors.numpy import save_file

from rankinv.discovery import discover
from rankinv.ingest.verl_layout import twin

EVENTS = Path(__file__).parent / "data" / "reallogs" / "sft-ls2-eval3-tb" / "runs" / "events.out.tfevents.real"


def verl_checkpoint(folder: Path) -> None:
    hf = folder / "actor" / "huggingface"
    hf.mkdir(parents=True)
    save_file({"w": np.zeros((4, 4), np.float32)}, str(hf / "model.safetensors"))
    (hf / "config.json").write_text(json.dumps({"model_type": "qwen2"}))
    old = time.time() - 3600
    for p in hf.iterdir():
        os.utime(p, (old, old))


def verl_root(tmp_path: Path) -> Path:
    for exp in ("exp-a", "exp-b"):
        tb = tmp_path / "tensorboard_log" / "proj" / exp
        tb.mkdir(parents=True)
        shutil.copy(EVENTS, tb / "events.out.tfevents.1")
    verl_checkpoint(tmp_path / "checkpoints" / "proj" / "exp-a" / "global_step_10")
    verl_checkpoint(tmp_path / "checkpoints" / "proj" / "exp-a" / "global_step_20")
    return tmp_path


def test_one_run_per_project_and_experiment(tmp_path: Path) -> None:
    root = verl_root(tmp_path)
    runs = {r.name: r for r in discover(root)}
    assert set(runs) == {"tensorboard_log/proj/exp-a", "tensorboard_log/proj/exp-b"}
    a = runs["tensorboard_log/proj/exp-a"]
    assert [(c.step, c.complete) for c in a.checkpoints] == [(10, True), (20, True)]
    assert a.kind == "SFT"  # from the metric names in its TensorBoard file
    assert runs["tensorboard_log/proj/exp-b"].checkpoints == ()


def test_the_daemon_maps_a_new_checkpoint_to_the_same_run(tmp_path: Path) -> None:
    root = verl_root(tmp_path)
    layout = scan(root)
    run = root / "tensorboard_log" / "proj" / "exp-b"
    assert layout.runs[run] == "tensorboard_log/proj/exp-b" and len(layout.runs) == 2
    new = root / "checkpoints" / "proj" / "exp-b" / "global_step_5"
    assert owner(new, layout.runs, root, layout.attached, layout.twins) == run  # before it exists: the twin
    assert twin(run) == root / "checkpoints" / "proj" / "exp-b"


CORPUS = Path(__file__).parent / "data" / "frameworklogs" / "verl-0.9.1"


def _submit_dir(tmp_path: Path) -> Path:
    """A verl job's submit directory as Slurm and verl leave it: ``slurm-77.out`` (the real console output of
    verl 0.9.1, which prints ``Saving tensorboard log to tensorboard_log/reallogs/grpo.``), the TensorBoard
    folder verl wrote, and the checkpoints folder."""
    base = tmp_path / "root" / "proj"
    shutil.copytree(CORPUS / "tensorboard_log", base / "tensorboard_log")
    verl_checkpoint(base / "checkpoints" / "reallogs" / "grpo" / "global_step_10")
    shutil.copy(CORPUS / "stdout.out", base / "slurm-77.out")
    return base


def test_a_verl_log_in_the_submit_directory_belongs_to_the_tensorboard_run(tmp_path: Path) -> None:
    base = _submit_dir(tmp_path)
    assert "Saving tensorboard log to tensorboard_log/reallogs/grpo." in (base / "slurm-77.out").read_text()
    (run,) = discover(tmp_path / "root")
    assert run.name == "proj/tensorboard_log/reallogs/grpo" and run.kind == "GRPO"
    assert [c.step for c in run.checkpoints] == [10]
    assert base / "slurm-77.out" in [s.path for s in run.sources]  # read with the run, not left unread
    assert run.last_step == 20  # the corpus's last logged step (expected.json)
    assert json.loads((CORPUS / "expected.json").read_text())["records"][-1]["step"] == 20


def _ray_config_print(project: str, experiment: str, filler_lines: int) -> str:
    """What verl's TaskRunner prints at start, as Ray forwards it: ``pprint`` of the resolved config (Python's own
    pprint, which verl calls), each line prefixed ``(TaskRunner pid=N)``, after other workers' warnings."""
    import pprint

    config = {"actor_rollout_ref": {"rollout": {"n": 8, "name": "vllm", "temperature": 1.0}},
              "data": {"train_batch_size": 32},
              "trainer": {"default_local_dir": f"checkpoints/{project}/{experiment}", "experiment_name": experiment,
                          "logger": ["console", "tensorboard"], "project_name": project}}  # fmt: skip
    ray = "2025-04-02 21:02:59,766\tINFO worker.py:1843 -- Started a local Ray instance.\n"
    warnings = ray + "".join(f"(pid={4000 + i}) FutureWarning: The pynvml package is deprecated.\n"
                             for i in range(filler_lines))  # fmt: skip
    printed = "".join(f"(TaskRunner pid=480334) {line}\n" for line in pprint.pformat(config).splitlines())
    return warnings + printed


def test_a_verl_config_print_past_the_first_64_kib_names_the_run(tmp_path: Path) -> None:
    """No ``Saving tensorboard log`` line (the log was cut before RL started): the project and experiment of the
    config print name the default folder, ``tensorboard_log/<project>/<experiment>``."""
    base = tmp_path / "root" / "proj"
    tb = base / "tensorboard_log" / "gsm8k" / "qwen-7b-lr1e-6"
    tb.mkdir(parents=True)
    shutil.copy(next((CORPUS / "tensorboard_log" / "reallogs" / "grpo").glob("events.out.tfevents.*")), tb)
    head = _ray_config_print("gsm8k", "qwen-7b-lr1e-6", filler_lines=1500)
    assert head.index("'project_name'") > 64 << 10
    (base / "slurm-78.out").write_text(head + "".join(line for line in (CORPUS / "stdout.out").open()
                                                      if line.startswith("step:")))  # fmt: skip
    (run,) = discover(tmp_path / "root")
    assert run.name == "proj/tensorboard_log/gsm8k/qwen-7b-lr1e-6"
    assert base / "slurm-78.out" in [s.path for s in run.sources]


def test_a_verl_log_naming_no_folder_here_is_a_run_of_its_own(tmp_path: Path) -> None:
    """Evidence that names nothing under the root (a folder that is not there, a name that climbs out of it) gives
    the log to no run; the log is still read, as a run of its own, never dropped."""
    base = _submit_dir(tmp_path)
    text = (base / "slurm-77.out").read_text()
    (base / "slurm-77.out").write_text(text.replace("tensorboard_log/reallogs/grpo.", "tensorboard_log/gone/x."))
    (base / "slurm-79.out").write_text(_ray_config_print("..", "..", 0) + text.split("\n", 2)[2])
    runs = {r.name: r for r in discover(tmp_path / "root")}
    assert set(runs) == {"proj/tensorboard_log/reallogs/grpo", "proj/slurm-77.out", "proj/slurm-79.out"}
    assert all(s.path.parent != base for s in runs["proj/tensorboard_log/reallogs/grpo"].sources)


def test_a_lone_stdout_beside_subfolders_is_read_as_a_run(tmp_path: Path) -> None:
    """A submit directory holding the job's stdout and folders of its own (code, data): the stdout is a run of its
    own (it was left unread before)."""
    base = tmp_path / "root" / "proj"
    (base / "src").mkdir(parents=True)
    shutil.copy(CORPUS / "stdout.out", base / "train.log")
    (run,) = discover(tmp_path / "root")
    assert run.name == "proj/train.log" and run.kind == "GRPO" and run.last_step == 20


def test_two_folders_the_log_could_mean_are_not_guessed_between(tmp_path: Path) -> None:
    """A log in ``logs/`` naming a relative folder that exists both beside it and beside ``logs/``: no owner."""
    root = tmp_path / "root"
    for where in (root / "logs", root):
        shutil.copytree(CORPUS / "tensorboard_log", where / "tensorboard_log")
    shutil.copy(CORPUS / "stdout.out", root / "logs" / "grpo-80.out")
    names = {r.name for r in discover(root)}
    assert "logs/grpo-80.out" in names, names


def test_hostile_printed_folders_are_no_evidence_and_no_error(tmp_path: Path) -> None:
    """A printed "folder" longer than the OS allows, with a NUL, or of a name too long for one path part: no owner,
    no exception; each log is still a run of its own."""
    base = _submit_dir(tmp_path)
    text = (base / "slurm-77.out").read_text()
    for job, name in ((81, "a" * 10_000), (82, "x\x00y"), (83, "b" * 300)):
        (base / f"slurm-{job}.out").write_text(text.replace("tensorboard_log/reallogs/grpo.", f"{name}."))
    (base / "slurm-77.out").unlink()
    names = {r.name for r in discover(tmp_path / "root")}
    assert names == {"proj/tensorboard_log/reallogs/grpo", *(f"proj/slurm-{j}.out" for j in (81, 82, 83))}


def test_the_daemon_moves_a_verl_log_to_its_tensorboard_run_when_that_folder_appears(tmp_path: Path) -> None:
    """Before verl's first TensorBoard step the log is a run of its own; once the folder it names exists, the log
    is that run's (its step follows the log) and the daemon says where the first run went (the real daemon, the
    real log)."""
    from tests.support import daemon as D

    root, state = tmp_path / "root", tmp_path / "state"
    (root / "proj" / "src").mkdir(parents=True)
    shutil.copy(CORPUS / "stdout.out", root / "proj" / "slurm-77.out")
    proc = D.start(root, state)
    try:
        D.wait_for("the log as a run of its own", lambda: D.read(root, state, lambda s: s.run("proj/slurm-77.out")))
        shutil.copytree(CORPUS / "tensorboard_log", root / "proj" / "tensorboard_log")
        run = "proj/tensorboard_log/reallogs/grpo"
        old = D.wait_for("the first run to be left", lambda: (r := D.read(root, state, lambda s: s.run(
            "proj/slurm-77.out"))) is not None and r.status == "vanished" and r)  # fmt: skip
        assert old.error == f"{root / 'proj' / 'slurm-77.out'} now belongs to run {run}"
        log = root / "proj" / "slurm-77.out"  # a step only the log holds (the event files end at 20)
        last = next(line for line in log.read_text().splitlines() if line.startswith("step:20 "))
        with log.open("a") as f:
            f.write(last.replace("step:20 ", "step:21 ", 1) + "\n")
        # The run's metrics come from its one primary source (the event files); the log is its evidence and its step
        D.wait_for("the log's step on the TensorBoard run", lambda: 21 in [c["step"] for c in json.loads(D.cli(
            "status", str(root), "--state-dir", str(state), "--json").stdout)["candidates"] if c["run"] == run])
    finally:
        assert D.stop(proc) == 0
