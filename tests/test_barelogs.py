"""A trainer's stdout alone is a run; a stdout in a shared logs folder joins the run the evidence names.

The stdout files are real TRL output from the corpus (``tests/data/reallogs``). Slurm evidence is tested on the
real one-node cluster in ``test_stdout_daemon_e2e``; here the evidence is the output directory a log prints, or
none at all.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from rankinv.daemon.pipeline.layout import scan

from rankinv.assess import primary_series
from rankinv.cli import main
from rankinv.config import load_config
from rankinv.discovery import discover
from rankinv.evaluate import verdict_history
from rankinv.ingest.slurmlog import job_id_from_name
from rankinv.verdict import PLATEAUED, Decision

CORPUS = Path(__file__).parent / "data" / "reallogs"
GRPO = CORPUS / "grpo-ls10-first-eval15" / "stdout.out"
SFT = CORPUS / "sft-ls2-eval3-tb" / "stdout.out"


def test_a_directory_holding_only_slurm_stdout_is_a_run_of_the_kind_its_metrics_say(tmp_path: Path) -> None:
    (tmp_path / "grpo-a").mkdir()
    shutil.copy(GRPO, tmp_path / "grpo-a" / "slurm-4242.out")
    (tmp_path / "sft-b").mkdir()
    shutil.copy(SFT, tmp_path / "sft-b" / "train.log")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.log").write_text("remember to check the lr\n{'a': 1}\n")
    runs = {r.name: r for r in discover(tmp_path)}
    assert set(runs) == {"grpo-a", "sft-b"}
    assert runs["grpo-a"].kind == "GRPO" and runs["sft-b"].kind == "SFT"
    assert set(scan(tmp_path).runs.values()) == {"grpo-a", "sft-b"}  # the daemon sees the same runs


def test_stdout_files_at_the_root_do_not_make_the_root_a_run(tmp_path: Path) -> None:
    """The root keeps being searched; its own stdout file is a run of its own, named after the file."""
    shutil.copy(GRPO, tmp_path / "slurm-1.out")
    (tmp_path / "sweep" / "lr1").mkdir(parents=True)
    shutil.copy(GRPO, tmp_path / "sweep" / "lr1" / "slurm-2.out")
    assert [r.name for r in discover(tmp_path)] == ["slurm-1.out", "sweep/lr1"]


def test_a_bare_stdout_runs_metrics_are_at_the_true_steps(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "grpo-a"
    run.mkdir()
    shutil.copy(GRPO, run / "slurm-4242.out")
    assert main(["metrics", str(run), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert sorted({r["step"] for r in rows if r["name"] == "loss"}) == [1, 10, 20, 30]
    assert sorted({r["step"] for r in rows if r["name"] == "eval/loss"}) == [15, 30]


def test_a_shared_logs_file_joins_the_output_directory_it_prints(tmp_path: Path) -> None:
    out = tmp_path / "grpo-lr3"
    out.mkdir()
    (tmp_path / "logs").mkdir()
    log = tmp_path / "logs" / "grpo-77.out"
    log.write_text(f"output_dir={out}\n" + GRPO.read_text())
    runs = {r.name: r for r in discover(tmp_path)}
    assert set(runs) == {"grpo-lr3"} and runs["grpo-lr3"].kind == "GRPO"
    layout = scan(tmp_path)
    assert layout.logs_of(out) == [log] and "logs" not in layout.runs.values()


def test_a_shared_logs_file_without_evidence_is_a_run_of_its_own(tmp_path: Path) -> None:
    """No Slurm record and no printed directory: the file is not given to the run beside it, nor merged with the
    other logs of the folder; each is a run named after its file, read at its true steps."""
    (tmp_path / "grpo-lr3" / "checkpoint-10").mkdir(parents=True)
    (tmp_path / "logs").mkdir()
    shutil.copy(GRPO, tmp_path / "logs" / "grpo-78.out")
    shutil.copy(SFT, tmp_path / "logs" / "sft-79.out")
    shutil.copy(GRPO, tmp_path / "slurm-80.out")
    runs = {r.name: r for r in discover(tmp_path)}
    assert set(runs) == {"grpo-lr3", "logs/grpo-78.out", "logs/sft-79.out", "slurm-80.out"}
    assert runs["logs/grpo-78.out"].kind == "GRPO" and runs["logs/sft-79.out"].kind == "SFT"
    layout = scan(tmp_path)
    assert layout.attached == {} and set(layout.runs.values()) == set(runs)


def test_the_daemon_reads_a_log_that_is_a_run_of_its_own(tmp_path: Path) -> None:
    from rankinv.daemon.pipeline.health import Health
    from rankinv.daemon.pipeline.runs import Pipeline
    from rankinv.daemon.pipeline.triage import TriageStage

    from rankinv.config import Config
    from rankinv.store import Store

    (tmp_path / "logs").mkdir()
    log = tmp_path / "logs" / "grpo-78.out"
    data = GRPO.read_bytes()
    log.write_bytes(data[: len(data) // 2])
    store = Store.open(tmp_path / "store.sqlite")
    config = Config()
    watched: set[Path] = set()

    class Dirs:
        def add(self, d: Path) -> None:
            watched.add(d)

        def discard(self, d: Path) -> None:
            watched.discard(d)

    triage = TriageStage(store, config, tmp_path / "state", None)
    pipe = Pipeline(tmp_path, config, store, triage=triage, health=Health(store, 60.0),
                    dirs=Dirs(), actions=None)  # fmt: skip
    pipe.handle(set(), rescan=True)
    with log.open("ab") as f:
        f.write(data[len(data) // 2 :])
    pipe.handle({str(log)})
    steps = store.series("logs/grpo-78.out")["loss"].steps
    assert steps == (1, 10, 20, 30) and store.run("logs/grpo-78.out").kind == "grpo"
    assert tmp_path / "logs" in watched
    store.close()


@pytest.mark.parametrize(
    ("name", "job"),
    [("slurm-4242.out", "4242"), ("grpo-1234.out", "1234"), ("slurm-77_3.out", "77"), ("train.log", None),
     ("run.v2.log", None)],
)  # fmt: skip
def test_job_id_in_a_stdout_name(name: str, job: str | None) -> None:
    assert job_id_from_name(Path(name)) == job


def test_explain_reads_a_stdout_file_that_is_a_run_of_its_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The held-out real collapse, as a lone ``logs/`` file: read at its true steps, and KILLed at step 24 by a
    daemon following it (its entropy drop held past the decision step, 20).

    Judged after the fact at step 40, the groups policy calls it plateaued instead (WATCH): its reward rose from
    0.03 over its own opening steps to 0.31, and then its groups agreed. That is the rule's known limit (README,
    Limitations): a run that trades pass@10 for pass@1 and then plateaus is not a collapse KILL once the gain
    shows. Asserted as it is, so that a change to it is seen."""
    (tmp_path / "logs").mkdir()
    log = tmp_path / "logs" / "grpo-78.out"
    shutil.copy(CORPUS / "heldout-grpo-collapse" / "stdout.out", log)
    (tmp_path / "rankinv.toml").write_text("[monitor]\nbaseline_step = 2\ndecision_step = 20\n"
                                           "[verdict]\nwarmup_steps = 5\nhold_steps = 4\n")  # fmt: skip
    assert main(["explain", "logs/grpo-78.out", "--root", str(tmp_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["monitor"]["baseline_step"] == 2
    assert out["monitor"]["points"] == 20 and out["monitor"]["last_step"] == 40
    assert out["verdict"]["decision"] == "WATCH" and out["verdict"]["reasons"][0]["metric"] == PLATEAUED
    cfg = load_config(tmp_path / "rankinv.toml")
    history = verdict_history(primary_series(log, "logs/grpo-78.out", cfg), None, cfg, name="logs/grpo-78.out")
    assert next(step for step, v in history if v.decision is Decision.KILL) == 24


def test_evidence_naming_no_run_under_the_root_leaves_the_log_where_it_lies(tmp_path: Path) -> None:
    """A job submitted from the root or from elsewhere (its WorkDir or printed dir says nothing) keeps its log."""
    root = tmp_path / "runs"
    (root / "grpo-a").mkdir(parents=True)
    (root / "grpo-a" / "train.log").write_text(f"output_dir={tmp_path / 'elsewhere'}\n" + GRPO.read_text())
    (tmp_path / "elsewhere").mkdir()
    (root / "logs").mkdir()
    (root / "logs" / "grpo-9.out").write_text(f"output_dir={root}\n" + GRPO.read_text())
    assert {r.name for r in discover(root)} == {"grpo-a", "logs/grpo-9.out"}


def test_an_unreadable_log_in_a_plain_folder_does_not_stop_discovery(tmp_path: Path) -> None:
    (tmp_path / "grpo-a").mkdir()
    shutil.copy(GRPO, tmp_path / "grpo-a" / "slurm-1.out")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "slurm-2.out").symlink_to("/proc/self/mem")  # a read fails with EIO
    (tmp_path / "broken" / "train.log").write_bytes(b"\x00\xff" * 5000)
    assert [r.name for r in discover(tmp_path)] == ["grpo-a"]


def test_a_slurm_that_does_not_answer_stalls_no_scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A scontrol that hangs: the first lookup waits for its timeout, the next ones are skipped."""
    import time

    from rankinv.ingest import slurmlog

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("scontrol", "sacct"):
        (bin_dir / name).write_text("#!/bin/sh\nexec sleep 30\n")  # a stand-in for an unresponsive controller
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setattr(slurmlog, "TIMEOUT_S", 0.5)
    monkeypatch.setattr(slurmlog, "_slow_until", [0.0])
    monkeypatch.setattr(slurmlog, "_cache", {})
    root = tmp_path / "runs"
    for i in range(5):
        (root / f"grpo-{i}").mkdir(parents=True)
        shutil.copy(GRPO, root / f"grpo-{i}" / f"slurm-{100 + i}.out")
    started = time.monotonic()
    assert len(discover(root)) == 5
    assert time.monotonic() - started < 5


def test_a_bare_stdout_runs_last_step_is_its_training_bars(tmp_path: Path) -> None:
    (tmp_path / "grpo-a").mkdir()
    shutil.copy(GRPO, tmp_path / "grpo-a" / "slurm-4242.out")
    (run,) = discover(tmp_path)
    assert run.last_step == 30  # the eval bar (4 batches) after it does not count


def test_explain_reads_a_runs_stdout_from_the_shared_logs_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run directory that is empty but for what its job wrote into ``logs/`` (the log names the directory): explain
    reads that log as `rankinv status` does, at the steps the trainer's own trainer_state.json gives."""
    out = tmp_path / "grpo-lr3"
    out.mkdir()
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "grpo-77.out").write_text(f"output_dir={out}\n" + GRPO.read_text())
    history = json.loads((GRPO.parent / "trainer_state.json").read_text())["log_history"]
    steps = [e["step"] for e in history if "entropy" in e]
    for run in ("grpo-lr3", str(out)):
        assert main(["explain", run, "--root", str(tmp_path), "--json"]) == 0
        got = json.loads(capsys.readouterr().out)
        assert got["run"] == "grpo-lr3"
        assert (got["monitor"]["points"], got["monitor"]["last_step"]) == (len(steps), steps[-1])
    assert main(["status", str(tmp_path), "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["candidates"]
    assert (row["run"], row["step"]) == ("grpo-lr3", steps[-1])


def test_explain_names_a_shared_log_that_is_a_run_of_its_own_as_status_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "logs").mkdir()
    shutil.copy(GRPO, tmp_path / "logs" / "grpo-79.out")
    assert main(["explain", "logs/grpo-79.out", "--root", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["run"] == "logs/grpo-79.out"


NOTQDM = CORPUS / "grpo-ls2-notqdm"  # a real TRL GRPO run with disable_tqdm=True, logging_steps=2


def _cli_json(*argv: str) -> object:
    """The installed CLI as a subprocess (as a user runs it), its stdout read as JSON."""
    done = subprocess.run([sys.executable, "-m", "rankinv", *argv], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def test_runs_shows_the_last_step_of_a_stdout_without_progress_bars_as_status_does(tmp_path: Path) -> None:
    """``rankinv runs`` gives a tqdm-less stdout's last step, the one ``rankinv status`` stores, in a run folder
    (with the manifest saying ``logging_steps``) and in a shared ``logs/`` folder (no manifest: counted 1, 2, …)."""
    root = tmp_path / "runs"
    (root / "grpo-a").mkdir(parents=True)
    shutil.copy(NOTQDM / "stdout.out", root / "grpo-a" / "slurm-123.out")
    shutil.copy(NOTQDM / "rankinv-run.json", root / "grpo-a")
    (root / "logs").mkdir()
    shutil.copy(NOTQDM / "stdout.out", root / "logs" / "slurm-124.out")
    text = (NOTQDM / "stdout.out").read_text()
    assert "/8 [" not in text  # no training bar (max_steps 8; only the weight loading bar): steps from logging_steps
    logged = sum(line.startswith("{'loss'") for line in text.splitlines())  # the Trainer's training log dicts
    expected = {"grpo-a": json.loads((NOTQDM / "trainer_state.json").read_text())["global_step"],
                "logs/slurm-124.out": logged}  # fmt: skip
    assert expected == {"grpo-a": 8, "logs/slurm-124.out": 4}
    runs = _cli_json("runs", str(root), "--json")
    assert isinstance(runs, list)
    assert {r["name"]: r["last_step"] for r in runs} == expected
    status = _cli_json("status", str(root), "--json", "--state-dir", str(tmp_path / "state"))
    assert isinstance(status, dict)
    assert {c["run"]: c["step"] for c in status["candidates"]} == expected


@pytest.mark.parametrize("case", ["openrlhf-0.11.2", "openrlhf-0.5.9"])
def test_runs_shows_the_last_step_of_an_openrlhf_stdout_as_status_does(case: str, tmp_path: Path) -> None:
    """OpenRLHF's bars number their redraws, not steps: ``rankinv runs`` reads the log as the daemon does and shows
    the last step OpenRLHF logged (the corpus's ``expected.json``, written from OpenRLHF's own values)."""
    corpus = Path(__file__).parent / "data" / "frameworklogs" / case
    root = tmp_path / "runs"
    (root / "job").mkdir(parents=True)
    shutil.copy(corpus / "stdout.out", root / "job" / "slurm-77.out")
    last = json.loads((corpus / "expected.json").read_text())["records"][-1]["step"]
    runs = _cli_json("runs", str(root), "--json")
    assert isinstance(runs, list) and [(r["name"], r["last_step"]) for r in runs] == [("job", last)]
    status = _cli_json("status", str(root), "--json", "--state-dir", str(tmp_path / "state"))
    assert isinstance(status, dict) and [c["step"] for c in status["candidates"]] == [last]


def test_the_job_column_of_a_stdout_only_slurm_run_says_no_job_is_known(tmp_path: Path) -> None:
    """A ``slurm-123.out`` with no manifest: nothing names its job, so Slurm is never asked about it; the job column
    says so instead of the run's record status ``active``, which reads as the job's state."""
    root = tmp_path / "runs"
    (root / "grpo-a").mkdir(parents=True)
    shutil.copy(GRPO, root / "grpo-a" / "slurm-123.out")
    argv = [sys.executable, "-m", "rankinv", "status", str(root), "--state-dir", str(tmp_path / "state")]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    header = next(line for line in out.splitlines() if line.startswith("┃"))
    row = next(line for line in out.splitlines() if "grpo-a" in line and line.startswith("│"))
    names, values = header.strip("┃").split("┃"), row.strip("│").split("│")
    cells = {n.strip(): v.strip() for n, v in zip(names, values, strict=True)}
    assert cells["job"] == "no job known"
    (candidate,) = json.loads(subprocess.run([*argv, "--json"], capture_output=True, text=True,
                                             check=True).stdout)["candidates"]  # fmt: skip
    assert candidate["job_id"] is None and candidate["job_state"] is None
