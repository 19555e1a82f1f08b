"""``RankinvCallback``: a TRL/transformers ``TrainerCallback`` that records what rankinv needs, from rank zero only.

It appends every ``on_log`` record to ``<output_dir>/rankinv.jsonl`` (flushed per record, fsynced on each save)
and writes the run manifest ``<output_dir>/rankinv-run.json`` (kind, group size, temperature, max completion
length, reward function names, model path, Slurm job, host, pid, process start time, run token, rankinv version),
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
            self._manifest = self.manifest(args, kwargs.get("model"))
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

    def manifest(self, args: Any, model: Any) -> dict[str, Any]:
        slurm = {k: v for k, v in sorted(os.environ.items()) if k.startswith("SLURM_")}
        return {
            "kind": self.kind or _kind(args),
            "group_size": getattr(args, "num_generations", None),
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
