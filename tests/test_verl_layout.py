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
