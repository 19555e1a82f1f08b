"""verl's default layout: one run spread over two folders.

verl writes checkpoints to ``<base>/checkpoints/<project>/<experiment>/global_step_N`` and TensorBoard files to
``<base>/tensorboard_log/<project>/<experiment>``. Each folder alone looks like a run (one with checkpoints and
no metrics, one with metrics and no checkpoints); they are one run per ``<project>/<experiment>``. The
TensorBoard folder is the run (it exists from the first logged step, so the run keeps its name when the first
checkpoint is saved); the checkpoints folder is its *twin*, whose checkpoints belong to it.
"""

from __future__ import annotations

from pathlib import Path

CHECKPOINTS = "checkpoints"
TENSORBOARD = "tensorboard_log"


def twin(run: Path) -> Path | None:
    """The other folder of the same ``<project>/<experiment>``, whether or not it exists."""
    parts = run.parts
    if len(parts) < 3 or parts[-3] not in (CHECKPOINTS, TENSORBOARD):
        return None
    other = TENSORBOARD if parts[-3] == CHECKPOINTS else CHECKPOINTS
    return Path(*parts[:-3], other, *parts[-2:])


def merge(runs: list[Path]) -> tuple[list[Path], dict[Path, Path]]:
    """The runs with each verl checkpoints folder folded into its TensorBoard folder; twin folder → run."""
    found = set(runs)
    twins: dict[Path, Path] = {}
    for run in runs:
        other = twin(run)
        if other is None or run.parts[-3] != TENSORBOARD:
            continue
        twins[other] = run  # checkpoints saved later join this run too
    kept = [r for r in runs if r not in twins or twins[r] not in found]
    return kept, {t: r for t, r in twins.items() if r in found}
