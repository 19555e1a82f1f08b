"""Run discovery on a runs root built file by file: which runs, what kind, complete checkpoints, parent links."""

from __future__ import annotations

import io
import json
import os
import pickle
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from safetensors.numpy import save_file

from rankinv.cli import main
from rankinv.discovery import RunInfo, discover
from rankinv.errors import RankinvError

OLD = time.time() - 3600


class _Evil:
    """Unpickling this creates a marker file: proof that training_args.bin was never unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


def weights(path: Path, seed: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    save_file({"w": rng.standard_normal((8, 4)).astype(np.float32), "b": np.zeros(4, np.float32)}, str(path))


def config(path: Path, **extra: Any) -> None:
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps({"model_type": "qwen2", **extra}))


def torch_zip(path: Path, finalised: bool = True) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
        archive.writestr("archive/data/0", b"\x00" * 4096)
    data = buffer.getvalue()
    path.write_bytes(data if finalised else data[: data.rfind(b"PK\x01\x02")])


def jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def age_everything(root: Path) -> None:
    for dirpath, _, files in os.walk(root):
        for name in files:
            os.utime(Path(dirpath) / name, (OLD, OLD))


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("runs")
    sft = root / "sft"
    # complete single-file checkpoint
    config(sft / "checkpoint-10")
    weights(sft / "checkpoint-10" / "model.safetensors")
    state = {"global_step": 10, "logging_steps": 5, "log_history": [
        {"loss": 2.1, "mean_token_accuracy": 0.4, "step": 5}, {"loss": 1.7, "mean_token_accuracy": 0.5, "step": 10}]}
    (sft / "checkpoint-10" / "trainer_state.json").write_text(json.dumps(state))
    # sharded, one shard missing
    config(sft / "checkpoint-20")
    weights(sft / "checkpoint-20" / "model-00001-of-00002.safetensors")
    index = {"metadata": {}, "weight_map": {"w": "model-00001-of-00002.safetensors",
                                            "b": "model-00002-of-00002.safetensors"}}
    (sft / "checkpoint-20" / "model.safetensors.index.json").write_text(json.dumps(index))
    # truncated safetensors (copy in progress)
    config(sft / "checkpoint-30")
    weights(sft / "checkpoint-30" / "model.safetensors")
    data = (sft / "checkpoint-30" / "model.safetensors").read_bytes()
    (sft / "checkpoint-30" / "model.safetensors").write_bytes(data[:-16])
    (sft / "training_args.bin").write_bytes(pickle.dumps(_Evil(root / "UNPICKLED")))

    # GRPO run with a manifest, .bin checkpoints
    grpo = root / "grpo"
    grpo.mkdir()
    manifest = {"kind": "GRPO", "group_size": 8, "model_path": str(sft / "checkpoint-10")}
    (grpo / "rankinv-run.json").write_text(json.dumps(manifest))
    config(grpo / "checkpoint-4")
    torch_zip(grpo / "checkpoint-4" / "pytorch_model.bin")
    config(grpo / "checkpoint-6")
    torch_zip(grpo / "checkpoint-6" / "pytorch_model.bin", finalised=False)
    records = [{"step": s, "time": 1.0, "logs": {"entropy": 1.0, "reward": 0.5}} for s in (1, 2, 7)]
    jsonl(grpo / "rankinv.jsonl", records)

    # LoRA GRPO run without a manifest: kind from its metric names, parent from adapter_config.json
    lora = root / "sweeps" / "lora-a"
    (lora / "checkpoint-5").mkdir(parents=True)
    (lora / "checkpoint-5" / "adapter_config.json").write_text(
        json.dumps({"base_model_name_or_path": str(sft / "checkpoint-10"), "r": 8}))
    weights(lora / "checkpoint-5" / "adapter_model.safetensors")
    (lora / "checkpoint-6").mkdir()
    (lora / "checkpoint-6" / "adapter_config.json").write_text("{}")
    (lora / "train.log").write_text("{'loss': '0.1', 'reward': '0.25', 'frac_reward_zero_std': '0.5'}\n")

    # verl layout: HF weights under global_step_N/actor/huggingface, console log
    verl = root / "verl" / "exp1"
    config(verl / "global_step_10" / "actor" / "huggingface")
    weights(verl / "global_step_10" / "actor" / "huggingface" / "model.safetensors")
    (verl / "main.log").write_text("(TaskRunner pid=1) step:12 - actor/entropy:np.float64(0.5)\n")

    # not runs: a bare model, a hidden folder
    config(root / "base-model")
    weights(root / "base-model" / "model.safetensors")
    jsonl(root / ".trash" / "old" / "rankinv.jsonl", [{"step": 1, "logs": {"loss": 1.0}}])

    age_everything(root)
    # written just now: not stable yet
    config(root / "fresh" / "checkpoint-1")
    weights(root / "fresh" / "checkpoint-1" / "model.safetensors")
    return root


@pytest.fixture(scope="module")
def runs(root: Path) -> dict[str, RunInfo]:
    return {r.name: r for r in discover(root, settle_seconds=600)}


def test_which_folders_are_runs(runs: dict[str, RunInfo]) -> None:
    assert sorted(runs) == ["fresh", "grpo", "sft", "sweeps/lora-a", "verl/exp1"]


def test_kinds(runs: dict[str, RunInfo]) -> None:
    assert runs["grpo"].kind == "GRPO"  # manifest
    assert runs["sweeps/lora-a"].kind == "GRPO"  # metric names in its stdout log
    assert runs["verl/exp1"].kind == "GRPO"
    assert runs["sft"].kind == "SFT"  # loss and token accuracy only
    assert runs["fresh"].kind == "unknown"


def test_checkpoint_completeness(runs: dict[str, RunInfo]) -> None:
    sft = {c.step: c for c in runs["sft"].checkpoints}
    assert sft[10].complete and sft[10].reason == "model.safetensors"
    assert not sft[20].complete and "missing shard model-00002-of-00002.safetensors" in sft[20].reason
    assert not sft[30].complete and "header says" in sft[30].reason
    grpo = {c.step: c for c in runs["grpo"].checkpoints}
    assert grpo[4].complete
    assert not grpo[6].complete and "not finalised" in grpo[6].reason
    lora = {c.step: c for c in runs["sweeps/lora-a"].checkpoints}
    assert lora[5].complete and "LoRA" in lora[5].reason
    assert not lora[6].complete and "without adapter_model" in lora[6].reason
    (verl,) = runs["verl/exp1"].checkpoints
    assert verl.complete and verl.path.parts[-2:] == ("actor", "huggingface")
    (fresh,) = runs["fresh"].checkpoints
    assert not fresh.complete and "stability" in fresh.reason


def test_a_settled_checkpoint_becomes_complete(root: Path) -> None:
    (fresh,) = next(r for r in discover(root, settle_seconds=0) if r.name == "fresh").checkpoints
    assert fresh.complete


def test_parents_and_last_steps(runs: dict[str, RunInfo], root: Path) -> None:
    sft_checkpoint = str((root / "sft" / "checkpoint-10").resolve())
    assert runs["grpo"].parent == sft_checkpoint and runs["grpo"].parent_run == "sft"
    assert runs["sweeps/lora-a"].parent == sft_checkpoint and runs["sweeps/lora-a"].parent_run == "sft"
    assert runs["sft"].parent is None
    assert runs["grpo"].manifest == {"kind": "GRPO", "group_size": 8, "model_path": str(root / "sft" / "checkpoint-10")}
    assert runs["grpo"].last_step == 7  # from its JSONL, past its last checkpoint
    assert runs["sft"].last_step == 30


def test_training_args_bin_is_never_unpickled(runs: dict[str, RunInfo], root: Path) -> None:
    assert runs["sft"].kind == "SFT"
    assert not (root / "UNPICKLED").exists()


def test_runs_command_json(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", str(root), "--json", "--settle", "600"]) == 0
    out = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert out["grpo"]["parent_run"] == "sft"
    assert [c["complete"] for c in out["sft"]["checkpoints"]] == [True, False, False]


def test_runs_command_table_and_errors(root: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["runs", str(root)]) == 0
    table = capsys.readouterr().out
    assert "sweeps/lora-a" in table and "GRPO" in table
    assert main(["runs", str(tmp_path / "nope")]) == 2
    assert "is not a directory" in capsys.readouterr().err
    with pytest.raises(RankinvError):
        discover(tmp_path / "nope")


def test_rankinvs_own_files_never_unsettle_a_checkpoint(tmp_path: Path) -> None:
    """A triage report, its sbatch script and log written into a settled checkpoint leave it complete."""
    run = tmp_path / "sft"
    weights(run / "checkpoint-10" / "model.safetensors")
    config(run / "checkpoint-10")
    age_everything(tmp_path)
    for name in ("rankinv-triage.json", "rankinv-triage.sbatch", "rankinv-triage.log"):
        (run / "checkpoint-10" / name).write_text("{}")
    (run_info,) = discover(tmp_path, settle_seconds=10)
    assert run_info.checkpoints[0].complete, run_info.checkpoints[0].reason


def test_a_triaged_checkpoint_is_ranked_whatever_its_runs_kind(tmp_path: Path) -> None:
    from rankinv.store import Store
    from rankinv.triage.digest import summarize
    from tests.support.reports import make_report

    store = Store.open(tmp_path / "store.sqlite")
    store.upsert_run("mystery", "/runs/mystery", kind="unknown")
    store.upsert_checkpoint("mystery", "/runs/mystery/checkpoint-5", 5, True, "ok")
    store.upsert_checkpoint("mystery", "/runs/mystery/checkpoint-9", 9, True, "ok")
    report = make_report("/runs/mystery/checkpoint-5", [0, 1, 4, 8, 2, 0, 3, 8])
    store.put_triage_report("/runs/mystery/checkpoint-5", report, summarize(report))
    subjects = {c.checkpoint: c for c in store.snapshot().candidates}
    assert "/runs/mystery/checkpoint-5" in subjects
    assert subjects["/runs/mystery/checkpoint-5"].pass1 == summarize(report).pass1
    assert "/runs/mystery/checkpoint-9" not in subjects  # untriaged checkpoints of a non-SFT run are not candidates
    store.close()
