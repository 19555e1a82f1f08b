"""``RankinvCallback``: a TRL/transformers ``TrainerCallback`` that records what rankinv needs, from rank zero only.

It appends every ``on_log`` record to ``<output_dir>/rankinv.jsonl`` (flushed per record, fsynced on each save)
and writes the run manifest ``<output_dir>/rankinv-run.json`` (kind, group size, groups per logged step and the
batch arguments it comes from, temperature, max completion length, reward function names, model path, Slurm job,
host, pid, process start time, run token, rankinv version),
and holds the log open for writing for the whole training: the daemon's proof that this process is the run.
Analysis stays in the daemon; this is a thin emitter.

Importing this module imports neither transformers nor trl: ``RankinvCallback`` is built on first access,
subclassing ``transformers.TrainerCallback`` then::

    from rankinv.integrations.trl import RankinvCallback
    trainer = GRPOTrainer(..., callbacks=[RankinvCallback()])
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from rankinv import __version__
from rankinv.errors import RankinvError
from rankinv.ingest.sources import CALLBACK_LOG_NAME, MANIFEST_NAME

LOG_NAME = CALLBACK_LOG_NAME
TOKEN_ENV = "RANKINV_RUN_TOKEN"  # the run's token, also in the manifest: ties processes to the run
RUN_DIR_ENV = "RANKINV_RUN_DIR"  # the run directory the token belongs to
_REWARD_KEY_PREFIX = "rewards/"


def process_start_time(pid: int | None = None) -> float | None:
    """Unix time the process started, from /proc (None where there is no /proc)."""
    try:
        stat = Path(f"/proc/{pid or os.getpid()}/stat").read_text()
        boot = [line for line in Path("/proc/stat").read_text().splitlines() if line.startswith("btime ")]
        btime = int(boot[0].split()[1])
        ticks = int(stat.rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None
    return btime + ticks / os.sysconf("SC_CLK_TCK")


def process_start_ticks(pid: int | None = None) -> int | None:
    """Start time of the process in clock ticks since boot (``/proc/PID/stat`` field 22), or None."""
    try:
        stat = Path(f"/proc/{pid or os.getpid()}/stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def run_token(run_dir: Path) -> str:
    """The run's token: the one a launcher exported for this run directory, else a new random one.

    It is put in this process's environment with the run directory, so processes started from now on carry
    it (``/proc/PID/environ`` of a process shows only what it was started with, so for this process itself the
    daemon relies on the callback log it holds open)."""
    token = os.environ.get(TOKEN_ENV, "")
    named = os.environ.get(RUN_DIR_ENV, "")
    if not (token and named and os.path.realpath(named) == os.path.realpath(run_dir)):
        token = secrets.token_hex(16)
    os.environ[TOKEN_ENV], os.environ[RUN_DIR_ENV] = token, str(Path(run_dir).resolve())
    return token


def reward_names_from_logs(logs: dict[str, Any]) -> list[str]:
    """TRL logs ``rewards/<fn>/mean`` (older: ``rewards/<fn>``) per reward function."""
    names = []
    for key in logs:
        if key.startswith(_REWARD_KEY_PREFIX):
            name = key[len(_REWARD_KEY_PREFIX) :].removesuffix("/mean").removesuffix("/std")
            if name and name not in names:
                names.append(name)
    return names


def _kind(args: Any) -> str:
    if hasattr(args, "num_generations"):
        return "GRPO"
    return "SFT" if "SFT" in type(args).__name__ else "unknown"


def _model_path(model: Any) -> str | None:
    peft_config = getattr(model, "peft_config", None)
    if isinstance(peft_config, dict) and peft_config:
        base = getattr(next(iter(peft_config.values())), "base_model_name_or_path", None)
        if base:
            return str(base)
    path = getattr(model, "name_or_path", None) or getattr(getattr(model, "config", None), "_name_or_path", None)
    return str(path) if path else None


def _int(x: Any) -> int | None:
    return x if isinstance(x, int) and not isinstance(x, bool) and x >= 1 else None


def batch_arguments(args: Any) -> dict[str, Any]:
    """The GRPOConfig fields that decide how many groups a step generates (None where the trainer has none)."""
    names = ("per_device_train_batch_size", "gradient_accumulation_steps", "world_size", "generation_batch_size",
             "steps_per_generation", "num_iterations", "scale_rewards", "multi_objective_aggregation")  # fmt: skip
    out: dict[str, Any] = {}
    for name in names:
        value = getattr(args, name, None)
        out[name] = value if isinstance(value, (int, str)) or value is None else str(value)
    return out


def groups_per_step(args: Any, state: Any) -> int | None:
    """Groups of ``num_generations`` completions behind each logged ``frac_reward_zero_std`` of a TRL GRPO run,
    or None when they are not one number for every logged step.

    TRL (1.x, ``GRPOTrainer._prepare_inputs``) generates ``generation_batch_size`` completions (per device batch
    x processes x ``steps_per_generation``, gathered over processes) once every ``steps_per_generation x
    num_iterations`` micro-batches, and logs the mean of each generation's zero-std share over the
    ``logging_steps x gradient_accumulation_steps`` micro-batches since the last log. So a logged step holds
    ``generation_batch_size / num_generations`` groups when it spans at most one generation, and a whole
    multiple of that when it spans several, except a first step logged early (``logging_first_step``), the
    leftover steps logged at the end of training, and a resume that is not on a logging step, which hold fewer:
    then None. Also None when the share is not a share of groups (``scale_rewards="batch"`` or
    ``multi_objective_aggregation="normalize_then_sum"`` test the whole batch's std), for logging by epoch, and
    for a TRL without ``generation_batch_size`` (before 0.18)."""
    a = batch_arguments(args)
    g, per_generation = _int(getattr(args, "num_generations", None)), _int(a["generation_batch_size"])
    accumulate, every = _int(a["gradient_accumulation_steps"]), _int(a["steps_per_generation"])
    iterations, logging = _int(a["num_iterations"]) or 1, _int(getattr(state, "logging_steps", None))
    strategy = getattr(getattr(args, "logging_strategy", None), "value", getattr(args, "logging_strategy", None))
    scale = {True: "group", False: "none"}.get(a["scale_rewards"], a["scale_rewards"])
    if None in (g, per_generation, accumulate, every, logging) or strategy != "steps":
        return None
    assert g is not None and per_generation is not None and accumulate is not None and every is not None
    assert logging is not None
    if per_generation % g or scale not in ("group", "none", None):
        return None
    if a["multi_objective_aggregation"] not in ("sum_then_normalize", None):
        return None
    window, period = logging * accumulate, every * iterations  # micro-batches a log spans; between generations
    if period % window == 0:  # at most one generation in any log's span, a first or last one too
        return per_generation // g
    if window % period:
        return None  # a log spans one generation or two: no one count
    first_early = bool(getattr(args, "logging_first_step", False)) and logging > 1
    max_steps, resumed = _int(getattr(state, "max_steps", None)), getattr(state, "global_step", 0)
    if first_early or max_steps is None or max_steps % logging or not isinstance(resumed, int) or resumed % logging:
        return None
    return window // period * (per_generation // g)


class RankinvCallbackCore:
    """The callback's behaviour; :data:`RankinvCallback` adds ``transformers.TrainerCallback`` as a base."""

    def __init__(
        self,
        output_dir: str | Path | None = None,
        *,
        kind: str | None = None,
        reward_names: list[str] | None = None,
        triage_on_save: Callable[[Path], object] | None = None,
    ) -> None:
        """``triage_on_save``: called on rank zero with each saved checkpoint directory once the save is durable
        (None: off); :class:`rankinv.integrations.triage_on_save.TriageOnSave` is one, triaging inside the job."""
        if triage_on_save is not None and not callable(triage_on_save):
            raise RankinvError("triage_on_save must be None or a callable taking the checkpoint directory")
        self.output_dir = Path(output_dir) if output_dir is not None else None
        self.kind = kind
        self.reward_names = list(reward_names or [])
        self.triage_on_save = triage_on_save
        self._file: IO[str] | None = None
        self._manifest: dict[str, Any] = {}

    def _dir(self, args: Any) -> Path:
        return self.output_dir or Path(args.output_dir)

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.is_world_process_zero:
            self._manifest = self.manifest(args, kwargs.get("model"), state)
            self._write_manifest(args)
            self._open(args)  # held open for writing all along: the daemon's proof that this process is the run

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if not state.is_world_process_zero or logs is None:
            return
        record = {"step": state.global_step, "time": time.time(), "epoch": state.epoch, "logs": dict(logs)}
        log = self._open(args)
        log.write(json.dumps(record, default=str) + "\n")
        log.flush()
        new = [n for n in reward_names_from_logs(logs) if n not in self.reward_names]
        if new:
            self.reward_names.extend(new)
            self._manifest["reward_functions"] = list(self.reward_names)
            self._write_manifest(args)

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not state.is_world_process_zero:
            return
        self._sync()
        if self.triage_on_save is not None:
            self.triage_on_save(self._dir(args) / f"checkpoint-{state.global_step}")

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.is_world_process_zero:
            self._sync()
            if self._file is not None:
                self._file.close()
                self._file = None

    def _open(self, args: Any) -> IO[str]:
        if self._file is None:
            self._dir(args).mkdir(parents=True, exist_ok=True)
            self._file = (self._dir(args) / LOG_NAME).open("a", encoding="utf-8")
        return self._file

    def _sync(self) -> None:
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())

    def manifest(self, args: Any, model: Any, state: Any = None) -> dict[str, Any]:
        slurm = {k: v for k, v in sorted(os.environ.items()) if k.startswith("SLURM_")}
        kind = self.kind or _kind(args)
        return {
            "kind": kind,
            "group_size": getattr(args, "num_generations", None),
            "groups_per_step": groups_per_step(args, state) if kind == "GRPO" else None,
            "batch": batch_arguments(args) if kind == "GRPO" else None,
            "temperature": getattr(args, "temperature", None),
            "max_completion_length": getattr(args, "max_completion_length", None),
            "reward_functions": list(self.reward_names),
            "model_path": _model_path(model),
            "logging_steps": getattr(args, "logging_steps", None),
            "output_dir": str(self._dir(args)),
            "trainer_args": type(args).__name__,
            "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
            "slurm": slurm,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "process_start_time": process_start_time(),
            "pid_start_ticks": process_start_ticks(),
            "run_token": run_token(self._dir(args)),
            "rankinv_version": __version__,
            "written_at": time.time(),
        }

    def _write_manifest(self, args: Any) -> None:
        """Atomically (write, fsync, rename): a reader never sees half a manifest, and a symlink planted at its
        name is replaced, not written through."""
        from rankinv.boundary.atomic import write_atomic

        path = self._dir(args) / MANIFEST_NAME
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(self._manifest, indent=2, default=str))


_built: dict[str, type] = {}


def _build() -> type:
    if "RankinvCallback" not in _built:
        try:
            from transformers import TrainerCallback
        except ImportError:
            raise RankinvError("RankinvCallback needs transformers: pip install 'rankinv[trl]'") from None
        _built["RankinvCallback"] = type(
            "RankinvCallback", (RankinvCallbackCore, TrainerCallback), {"__module__": __name__, "__doc__": __doc__}
        )
    return _built["RankinvCallback"]


if TYPE_CHECKING:

    class RankinvCallback(RankinvCallbackCore):
        """RankinvCallbackCore with transformers.TrainerCallback as a base (built lazily at runtime)."""

else:

    def __getattr__(name: str) -> Any:
        if name == "RankinvCallback":
            return _build()
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
