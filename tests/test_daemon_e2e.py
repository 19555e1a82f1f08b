"""The daemon as a real process watching a temp root while real tiny TRL runs write into it.

Two daemons watch the same root at once, one with inotify and one stat-polling (``--poll``), each with its
own state directory (so its own lock and store). An SFT run with a checkpoint is copied in, then a real TRL
GRPO job trains from that checkpoint into the root. Both daemons must discover both runs, ingest the GRPO
metrics exactly as the logs have them, triage the SFT checkpoint (the inotify daemon runs
``rankinv triage`` as a subprocess; the polling daemon uses the callback executor and picks up the report
the other one wrote), and store a prediction and a verdict for the checkpoint and for the GRPO run.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rankinv.store import Store
from tests.support import daemon as D
from tests.support.fakelog import expected_points
from tests.support.slurm_cluster import SlurmCluster, slurm_cluster

pytestmark = pytest.mark.slow
__all__ = ["slurm_cluster"]  # the session fixture, imported so pytest finds it here

CONFIG = """
[daemon]
settle_seconds = 1.0
debounce_seconds = 0.2
heartbeat_seconds = 1.0
poll_interval = 0.3
triage_executor = "{executor}"

[triage]
prompts = "{prompts}"
samples = 4
group_size = 4
max_new_tokens = 4
"""


@pytest.fixture(scope="session")
def sft_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real TRL SFT run (callback on) with one saved checkpoint, built once."""
    from rankinv.integrations.trl import RankinvCallback
    from tests.support.tinylm import ToyTask, save_base, sft

    base = tmp_path_factory.mktemp("base")
    out = tmp_path_factory.mktemp("sft") / "sft"
    save_base(base)
    sft(base, ToyTask().sft_rows(), out, epochs=2, save_steps=4, callbacks=[RankinvCallback()])
    return out


def _prompts(path: Path) -> Path:
    from tests.support.tinylm import ToyTask

    rows = [{"id": f"p{i}", "prompt": p, "answer": a} for i, (p, a) in enumerate(ToyTask().answers().items())]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _same(a: dict[tuple[str, int], float], b: dict[tuple[str, int], float]) -> bool:
    return a.keys() == b.keys() and all(a[k] == b[k] or (a[k] != a[k] and b[k] != b[k]) for k in a)


def _checkpoint_done(root: Path, state: Path) -> tuple[str, ...] | None:
    def probe(store: Store) -> tuple[str, ...] | None:
        done = tuple(c.path for c in store.checkpoints("sft") if c.triage_state == "done")
        return done or None

    return D.read(root, state, probe)


def test_daemon_follows_real_trl_runs_with_inotify_and_polling(tmp_path: Path, sft_run: Path) -> None:
    from tests.support.tinylm import run_grpo_subprocess

    root = tmp_path / "root"
    root.mkdir()
    prompts = _prompts(tmp_path / "prompts.jsonl")
    cfg_local = tmp_path / "local.toml"
    cfg_local.write_text(CONFIG.format(executor="local", prompts=prompts))
    cfg_callback = tmp_path / "callback.toml"
    cfg_callback.write_text(CONFIG.format(executor="callback", prompts=prompts))
    s_ino, s_poll = tmp_path / "state-inotify", tmp_path / "state-poll"
    ino = D.start(root, s_ino, "--config", str(cfg_local))
    poll = D.start(root, s_poll, "--config", str(cfg_callback), "--poll")
    grpo = None
    try:
        for state, mode in ((s_ino, "inotify"), (s_poll, "polling")):
            health = D.wait_for(f"{mode} daemon heartbeat",
                                lambda s=state: D.read(root, s, lambda st: st.health().alive and st.health()))
            assert health.alive and health.get("watch_mode") == mode

        shutil.copytree(sft_run, root / "sft")  # a new SFT run appears, checkpoint and all
        checkpoint = root / "sft" / "checkpoint-4"
        grpo = run_grpo_subprocess(checkpoint, root / "grpo", wait=False, max_steps=6)
        for state in (s_ino, s_poll):  # discovered and ingesting while the job is still training
            D.wait_for("the GRPO run's first metrics",
                       lambda s=state: D.read(root, s, lambda st: st.metric_count("grpo")))
        assert grpo.poll() is None or grpo.returncode == 0
        assert grpo.wait(timeout=300) == 0, (root / "grpo" / "train.log").read_text()[-2000:]

        expected = expected_points(root / "grpo", "grpo")  # from rankinv.jsonl: the callback's full precision
        assert ("entropy", 6) in expected and ("reward_mean", 6) in expected
        jsonl = [json.loads(line) for line in (root / "grpo" / "rankinv.jsonl").read_text().splitlines()]
        assert expected[("entropy", 6)] == next(r["logs"]["entropy"] for r in jsonl if r["step"] == 6)
        for state, mode in ((s_ino, "inotify"), (s_poll, "polling")):
            D.wait_for(f"{mode}: every GRPO point, exactly", lambda s=state: _same(
                D.read(root, s, lambda st: D.metrics(st, "grpo")), expected))
            done = D.wait_for(f"{mode}: the SFT checkpoint triaged", lambda s=state: _checkpoint_done(root, s),
                              timeout=180)  # fmt: skip
            assert str(checkpoint) in done
            verdict = D.wait_for(f"{mode}: a verdict for the GRPO run",
                                 lambda s=state: D.read(root, s, lambda st: st.latest_verdict("grpo")))  # fmt: skip
            assert verdict.decision in ("KILL", "WATCH", "CONTINUE") and verdict.reasons is not None
            ck_verdict = D.wait_for(f"{mode}: a stage-1 verdict for the checkpoint", lambda s=state: D.read(
                root, s, lambda st: st.latest_verdict("sft", str(checkpoint))))
            assert ck_verdict.stage == "1"
            run = D.read(root, state, lambda st: st.run("grpo"))
            assert run is not None and run.kind == "grpo" and run.parent == str(checkpoint.resolve())
            snap = D.read(root, state, lambda st: st.snapshot())
            ranked = {c.subject: c for c in snap.candidates}
            assert ranked["grpo"].predicted is not None and ranked["grpo"].pre_rl_entropy is not None
            assert ranked[f"sft@{checkpoint}"].triage_state == "done"
        report = json.loads((checkpoint / "rankinv-triage.json").read_text())
        stored = D.read(root, s_poll, lambda st: (st.triage_report(str(checkpoint)),
                                                  st.triage_summary(str(checkpoint))))
        assert stored[0] is not None and stored[0].created_at == report["created_at"]  # read, not recomputed
        assert stored[1] is not None and stored[1].pass_rates == tuple(p["pass_rate"] for p in report["prompts"])
        assert D.read(root, s_poll, lambda st: st.health().get("triage")).startswith("reports written by")
    finally:
        if grpo is not None and grpo.poll() is None:
            grpo.kill()
            grpo.wait()
        codes = [D.stop(ino), D.stop(poll)]
    assert codes == [0, 0]


SBATCH_TEMPLATE = """#!/bin/bash
#SBATCH --job-name=$job_name
#SBATCH --output=$log
set -euo pipefail
$command
"""


def test_sbatch_executor_triages_a_checkpoint_as_a_real_slurm_job(
    tmp_path: Path, sft_run: Path, slurm_cluster: SlurmCluster
) -> None:
    """The sbatch executor on the one-node test cluster (no GPU there: the template asks for none)."""
    root, state = tmp_path / "root", tmp_path / "state"
    root.mkdir()
    template = tmp_path / "triage.sbatch"
    template.write_text(SBATCH_TEMPLATE)
    config = tmp_path / "sbatch.toml"
    config.write_text(CONFIG.format(executor="sbatch", prompts=_prompts(tmp_path / "prompts.jsonl"))
                      + f'slurm_template = "{template}"\n')  # fmt: skip
    shutil.copytree(sft_run, root / "sft")
    checkpoint = str(root / "sft" / "checkpoint-4")
    proc = D.start(root, state, "--config", str(config), extra_env=slurm_cluster.env)
    try:
        job = D.wait_for("a Slurm job submitted", lambda: D.read(root, state, lambda s: next(
            (c.triage_job for c in s.checkpoints("sft") if c.path == checkpoint and c.triage_job), None)))
        assert job.startswith("slurm ") and job.removeprefix("slurm ").isdigit()
        D.wait_for("the Slurm triage collected", lambda: _checkpoint_done(root, state), timeout=240)
        assert (Path(checkpoint) / "rankinv-triage.sbatch").read_text().startswith("#!/bin/bash")
        assert D.read(root, state, lambda s: s.triage_report(checkpoint)) is not None
    finally:
        assert D.stop(proc) == 0
