"""``rankinv.toml``: every threshold and setting, with documented defaults.

Each section is a frozen dataclass; a field's ``metadata["doc"]`` is its one-line documentation, used
both by ``rankinv init`` (the commented template) and by error messages. Loading is strict: an unknown
key, a wrong type or a number outside the setting's allowed range (``metadata["within"]``, interval notation
such as ``(0, 1]``) fails with the file, line and key at fault, because a silently ignored typo in a kill
threshold is worse than a refusal to start.
"""

from __future__ import annotations

import dataclasses
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

from rankinv.boundary.files import read_bytes
from rankinv.errors import RankinvError

CONFIG_FILENAME = "rankinv.toml"
STAGE2_POLICIES = ("groups", "tau2")


def setting(default: Any, doc: str, path: str | None = None, within: str | None = None) -> Any:
    """A config field with its documentation.

    ``path`` marks a setting that may name a file relative to the config file: ``"file"`` (resolved when the
    file exists there, so names like ``humaneval`` still work), ``"spec"`` (``file.py:function``; the file part
    resolved likewise) or ``"dir"`` (always resolved). ``within`` is the allowed range of a number, e.g.
    ``"(0, 1]"`` (every numeric setting has one; infinities and NaN are never allowed).
    """
    metadata: dict[str, str] = {"doc": doc}
    if path is not None:
        metadata["path"] = path
    if within is not None:
        Interval.parse(within)  # a malformed range is a bug here, not in the user's file
        metadata["within"] = within
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class Interval:
    """An allowed range in interval notation: ``[`` / ``]`` include the bound, ``(`` / ``)`` exclude it."""

    low: float
    high: float
    low_open: bool
    high_open: bool

    @classmethod
    def parse(cls, text: str) -> Interval:
        match = re.fullmatch(r"([\[(])\s*([^,\s]+)\s*,\s*([^\])\s]+)\s*([\])])", text)
        if match is None:
            raise ValueError(f"not an interval: {text!r}")
        return cls(float(match[2]), float(match[3]), match[1] == "(", match[4] == ")")

    def __contains__(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def describe(self, name: str) -> str:
        """``0 < tau_2 <= 1``."""
        low, high = (str(int(v)) if v.is_integer() else f"{v:g}" for v in (self.low, self.high))
        return f"{low} {'<' if self.low_open else '<='} {name} {'<' if self.high_open else '<='} {high}"


@dataclass(frozen=True)
class TriageConfig:
    """Stage 1: triage of each new SFT checkpoint."""

    samples: int = setting(8, "rollouts per prompt (use the GRPO group size)", within="[1, 100000]")
    group_size: int = setting(
        8, "GRPO group size g used for p*(g), headroom and degenerate fraction", within="[2, 100000]"
    )
    temperature: float = setting(1.0, "sampling temperature; GRPO samples at 1.0", within="(0, 10]")
    max_new_tokens: int = setting(256, "maximum completion length in tokens", within="[1, 1000000]")
    seed: int = setting(0, "sampling seed", within="[0, 4294967295]")
    tau_h: float = setting(
        0.18, "flag when rollout entropy (nats) is below this; the paper's value for one family", within="[0, 100]"
    )
    min_headroom: float = setting(1.0, "flag when mean pass rate / p*(g) is below this", within="[0, 1000000]")
    max_degenerate_fraction: float = setting(
        0.75, "flag when the expected share of degenerate groups is above this", within="[0, 1]"
    )
    allow_code_exec: bool = setting(False, "run generated code against unit tests (NOT a security sandbox)")
    prompts: str = setting(
        "", "prompt set to triage with: a JSONL path, humaneval, or a bundled name (toy-add)", path="file"
    )
    reward: str = setting(
        "auto", "tests, exact, normalized, or a TRL reward function as module:function or file.py:function",
        path="spec",
    )
    pass_threshold: float = setting(
        0.5, "a rollout passes when its reward is at least this (rewards are 0/1)", within="[-1000000, 1000000]"
    )
    backend: str = setting("auto", "auto (vLLM when installed with a GPU), transformers or vllm")
    batch_size: int = setting(32, "rollouts per generate call (transformers backend)", within="[1, 65536]")
    flag_entropy: str = setting("rollout", "entropy the tau_h flag reads: rollout (exact, else Monte-Carlo) or probe")
    exec_timeout_s: float = setting(10.0, "wall-clock limit per executed sample, seconds", within="(0, 86400]")
    exec_memory_mb: int = setting(1024, "address-space limit per executed sample, MiB", within="[16, 1048576]")
    exec_disk_mb: int = setting(
        64, "total disk a sample may write, MiB (tmpfs size under bwrap)", within="[1, 1048576]"
    )
    exec_isolation: str = setting("auto", "auto (bubblewrap when it works here), bwrap or rlimit: see README")
    slurm_template: str = setting(
        "", "sbatch template file for triage on a GPU node (empty: built-in); $job_name $log $command are filled in",
        path="file",
    )


@dataclass(frozen=True)
class MonitorConfig:
    """Stage 2: live entropy during GRPO."""

    baseline_step: int = setting(
        10, "entropy baseline step s0 (or the first logged step after it)", within="[0, 1000000000]"
    )
    decision_step: int = setting(150, "step by which the relative entropy drop is judged", within="[1, 1000000000]")
    tau_2: float = setting(
        0.5, "kill threshold on the relative entropy drop from s0 to the decision step", within="(0, 1]"
    )
    entropy_metric: str = setting("entropy", "entropy series to follow: mean token entropy, or a worst-token series")
    entropy_floor: float | None = setting(
        None, "entropy (nats) to project a crossing for; unset: baseline*(1-tau_2)", within="[0, 100]"
    )
    slope_window: int = setting(100, "steps of recent history for the Theil-Sen slopes", within="[2, 1000000000]")
    signal_window: int = setting(
        20, "steps averaged for the zero-std fraction and the reward level", within="[1, 1000000000]"
    )


@dataclass(frozen=True)
class VerdictConfig:
    """Kill / continue decisions."""

    warmup_steps: int = setting(
        20, "never KILL before this step (optimiser and reward still settling)", within="[0, 1000000000]"
    )
    hold_steps: int = setting(
        20, "a kill condition must hold over this many steps, never at one point", within="[0, 1000000000]"
    )
    hold_points: int = setting(2, "... and over at least this many logged points", within="[1, 1000000]")
    max_zero_std: float = setting(
        0.9, "group signal is dead when the rolling zero-std fraction stays above this", within="[0, 1]"
    )
    protect_headroom: float = setting(
        4.0, "pass rate / p*(g) above which entropy drop alone never kills", within="[0, 1000000]"
    )
    min_predicted: float = setting(
        0.1, "WATCH when the predicted final pass@10's upper bound is below this", within="[0, 1]"
    )
    stage2_policy: str = setting(
        "groups", "groups (tell all-pass from all-fail degenerate groups) or tau2 (the paper: entropy drop alone)"
    )
    reward_ceiling: float | None = setting(
        None, "highest mean reward; unset: one per reward function (each 0/1)", within="(0, 1000000]"
    )
    coverage_alpha: float = setting(
        0.01, "groups policy: chance, at most, of calling a run's coverage lost when it was not", within="(0, 1)"
    )
    groups_per_step: int = setting(
        0, "groups policy: groups of g behind each logged step (the trainer's batch / g); 0: the run manifest's "
        "(the TRL callback writes it), else read from the logged zero-std shares, a lower bound", within="[0, 1000000]"
    )

    def __post_init__(self) -> None:
        if self.stage2_policy not in STAGE2_POLICIES:
            raise RankinvError(f"[verdict] stage2_policy = {self.stage2_policy!r}: use one of "
                               f"{', '.join(STAGE2_POLICIES)}")


@dataclass(frozen=True)
class PredictConfig:
    """Predicted final pass@10 (see README "How the prediction works")."""

    k: int = setting(10, "the k of the predicted final pass@k", within="[1, 1000000]")
    coverage_k: int = setting(64, "pass@k at this k is the coverage RL can sharpen into pass@10", within="[1, 1000000]")
    entropy_scale: float = setting(
        0.18, "entropy (nats) at which samples count as ~63% independent tries", within="(0, 100]"
    )
    halfwidth: float = setting(
        0.15, "half-width of the prior's interval; widened when features are estimated", within="[0, 1]"
    )
    interval_level: float = setting(
        0.8, "central probability of the prior's interval under its stated error model", within="(0, 1)"
    )
    seed_spread: float = setting(
        0.06, "between-seed spread (sd) of pass@10 after GRPO from one checkpoint; measured on the hump ladder's "
        "development seeds: re-measure on your own runs", within="[0, 1]"
    )
    prior_error: float = setting(
        0.05, "sd of the prior's own misfit beyond the seed spread; measured on the hump ladder's seeds 0-10: "
        "re-measure on your own runs", within="[0, 1]"
    )
    trajectory_points: int = setting(
        20, "RL points at which the run's own trajectory weighs as much as the prior", within="[1, 1000000]"
    )
    min_history: int = setting(
        5, "finished runs with a measured pass@10 needed before fitting on history", within="[2, 1000000]"
    )
    ridge: float = setting(1.0, "ridge penalty of the fitted model (standardised features)", within="(0, 1000000]")
    fail_fraction: float = setting(
        0.85, "calibrate: a run failed when its pass@10 is below this share of the best", within="(0, 1]"
    )


@dataclass(frozen=True)
class DaemonConfig:
    """The watching daemon."""

    watch: str = setting("auto", "auto (inotify, or polling on NFS/Lustre/GPFS/CIFS/FUSE), inotify or polling")
    poll_interval: float = setting(2.0, "seconds between stat scans in polling mode", within="[0.05, 3600]")
    debounce_seconds: float = setting(
        0.3, "collect a burst of file events this long before acting on it", within="[0, 60]"
    )
    rescan_seconds: float = setting(
        60.0, "full rescan of the root this often, even when no event arrived", within="[1, 86400]"
    )
    poll_rescan_seconds: float = setting(
        600.0, "in polling mode, the full rescan this often instead (at least rescan_seconds): the stat scans "
        "already see every change within their bound", within="[1, 86400]"
    )
    heartbeat_seconds: float = setting(
        5.0, "how often the daemon writes its heartbeat to the store", within="[0.1, 3600]"
    )
    settle_seconds: float = setting(
        10.0, "a checkpoint counts as complete once its files are unchanged this long", within="[0, 86400]"
    )
    triage_executor: str = setting("auto", "auto, local (subprocess), sbatch, callback (report from training) or none")
    triage_concurrency: int = setting(1, "local triage subprocesses at once", within="[1, 256]")
    scan_workers: int = setting(
        0, "worker processes that read a root of many runs new to the store in a one-shot `rankinv status` "
        "(0: one per usable core, at most 4, and none while the load average leaves less than half a core free; "
        "1: none, the scan reads every run itself)", within="[0, 64]"
    )
    state_dir: str = setting(
        "", "base directory of the store, pidfile and log (empty: $XDG_STATE_HOME/rankinv)", path="dir"
    )
    max_cached_runs: int = setting(
        4096, "runs whose list of log files is cached between events (memory bound)", within="[1, 10000000]"
    )
    evaluate_seconds: float = setting(
        0.5, "judge a logging run at most this often; its new points wait about this long for a verdict "
        "(the first time, or after a pause as long, at once)", within="[0, 86400]"
    )
    follow_symlinks_outside_root: bool = setting(
        False, "read logs, manifests and configs through symlinks that point outside the runs root"
    )
    job_poll_seconds: float = setting(
        30.0, "ask Slurm this often about the runs' jobs (one squeue call for all; 0: never)", within="[0, 86400]"
    )
    job_poll_timeout: float = setting(
        5.0, "seconds before that squeue call counts as unanswered (the job column shows slurm?)", within="(0, 600]"
    )


@dataclass(frozen=True)
class ActionsConfig:
    """Acting on verdicts (Slurm, local processes)."""

    armed: bool = setting(False, "actually stop jobs; false means dry-run (record and alert only)")
    graceful_signal: str = setting("USR1", "signal to the batch step first, so the job can save and exit; empty skips")
    grace_seconds: float = setting(
        120.0, "wait this long after the graceful signal before scancel", within="[0, 86400]"
    )
    confirm_seconds: float = setting(
        60.0, "after scancel, wait this long for the job to leave the queue, then retry", within="[1, 86400]"
    )
    max_kills_per_hour: int = setting(
        3, "never stop more jobs than this in any hour; further KILLs only alert", within="[0, 1000]"
    )
    match_by: tuple[str, ...] = setting(
        (), "without SLURM_JOB_ID in the run manifest, match `squeue --me` by: workdir, name, comment"
    )
    opt_out: tuple[str, ...] = setting((), "run names (or run directories) never acted on, only alerted")
    slurm_timeout: float = setting(15.0, "seconds before squeue/scancel count as hung", within="(0, 3600]")
    slurm_retries: int = setting(3, "attempts per squeue/scancel call before reporting failure", within="[1, 100]")


@dataclass(frozen=True)
class NotifyConfig:
    """Alerts."""

    terminal: bool = setting(True, "desktop alerts as terminal escape sequences (travel back over SSH)")
    terminal_protocol: str = setting("auto", "auto, osc9 (iTerm2, WezTerm), osc777 (VTE, foot), osc99 (kitty), bell")
    desktop: bool = setting(True, "notify-send when a local desktop session is present")
    webhooks: tuple[dict[str, str], ...] = setting(
        (),
        "list of { format = generic|ntfy|slack|discord, url = ..., url_env = VAR, token_env = VAR }; secrets from env",
    )
    webhook_timeout: float = setting(5.0, "seconds per webhook request", within="(0, 300]")
    webhook_retries: int = setting(
        3, "attempts per webhook before giving up (backoff doubles from 0.5 s)", within="[1, 100]"
    )
    command: str = setting("", "command run per alert with the event as JSON on stdin ('' = none)")
    command_timeout: float = setting(10.0, "seconds before the command hook is killed", within="(0, 3600]")
    dedup_seconds: float = setting(600.0, "the same alert is sent at most once in this window", within="[0, 604800]")
    max_per_hour: int = setting(30, "per channel; alerts beyond this in an hour are dropped", within="[0, 100000]")


@dataclass(frozen=True)
class Config:
    triage: TriageConfig = field(default_factory=TriageConfig)
    monitor: MonitorConfig = field(default_factory=MonitorConfig)
    verdict: VerdictConfig = field(default_factory=VerdictConfig)
    predict: PredictConfig = field(default_factory=PredictConfig)
    daemon: DaemonConfig = field(default_factory=DaemonConfig)
    actions: ActionsConfig = field(default_factory=ActionsConfig)
    notify: NotifyConfig = field(default_factory=NotifyConfig)


class ConfigError(RankinvError, ValueError):
    """A config file that cannot be used; the message names the file, line and key."""


def _line_of(text: str, section: str, key: str | None) -> int | None:
    """Best-effort line number of ``[section]`` or ``key`` inside it."""
    lines = text.splitlines()
    in_section = False
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        header = re.match(r"^\[\s*([^\]]+?)\s*\]", stripped)
        if header:
            in_section = header.group(1) == section
            if in_section and key is None:
                return number
            continue
        if in_section and key is not None and re.match(rf"^{re.escape(key)}\s*=", stripped):
            return number
    return None


def _coerce(value: Any, annotation: Any) -> Any:
    """Check ``value`` against a simple annotation (bool, int, float, str, optional, list, dict)."""
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is not None and type(None) in args:  # X | None
        if value is None:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(value, inner[0])
    if annotation is bool:
        if not isinstance(value, bool):
            raise TypeError(f"expected true or false, got {value!r}")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"expected an integer, got {value!r}")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"expected a number, got {value!r}")
        if math.isnan(value):
            raise TypeError("expected a number, got nan")
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise TypeError(f"expected a string, got {value!r}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise TypeError(f"expected a list, got {value!r}")
        items = [_coerce(v, args[0]) for v in value] if args else list(value)
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise TypeError(f"expected a table, got {value!r}")
        return dict(value)
    return value


def _build_section(cls: type[Any], data: Any, source: str, text: str, section: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: [{section}] must be a table")
    hints = get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        line = _line_of(text, section, key)
        where = f"{source}:{line}" if line else source
        if key not in known:
            suggestion = ", ".join(sorted(known)) or "(none)"
            raise ConfigError(f"{where}: unknown key '{key}' in [{section}]; known keys: {suggestion}")
        try:
            kwargs[key] = _coerce(value, hints[key])
        except TypeError as exc:
            raise ConfigError(f"{where}: [{section}] {key}: {exc}") from None
        within = next(f.metadata.get("within") for f in dataclasses.fields(cls) if f.name == key)
        if within is not None and kwargs[key] is not None and kwargs[key] not in Interval.parse(within):
            allowed = Interval.parse(within).describe(key)
            raise ConfigError(f"{where}: [{section}] {key} = {kwargs[key]!r} is out of range; allowed: {allowed}")
    built = cls(**kwargs)
    _check_order(built, source, text, section)
    return built


ORDERED = {"monitor": ("baseline_step", "decision_step", True), "predict": ("k", "coverage_k", False)}


def _check_order(built: Any, source: str, text: str, section: str) -> None:
    """Settings that only make sense in order: the baseline step before the decision step, k up to coverage_k."""
    if section not in ORDERED:
        return
    first, second, strict = ORDERED[section]
    a, b = getattr(built, first), getattr(built, second)
    if a > b or (strict and a == b):
        line = _line_of(text, section, second) or _line_of(text, section, first)
        where = f"{source}:{line}" if line else source
        need = "greater than" if strict else "at least"
        raise ConfigError(f"{where}: [{section}] {second} must be {need} {first} ({first} = {a}, {second} = {b})")


def parse_config(text: str, source: str = CONFIG_FILENAME) -> Config:
    """Parse TOML text into a :class:`Config`, failing with the line and key at fault."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    hints = get_type_hints(Config)
    sections: dict[str, Any] = {}
    for name, data in raw.items():
        if name not in hints:
            line = _line_of(text, name, None)
            where = f"{source}:{line}" if line else source
            known = ", ".join(f"[{n}]" for n in hints)
            raise ConfigError(f"{where}: unknown section [{name}]; known sections: {known}")
        sections[name] = _build_section(hints[name], data, source, text, name)
    return Config(**sections)


def load_config(path: str | Path | None) -> Config:
    """Load ``path``; None or a missing default file gives the defaults."""
    if path is None:
        return Config()
    p = Path(path)
    try:
        text = read_bytes(p, 1 << 20).decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: config file not found (create one with `rankinv init`)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read config: {exc}") from None
    return resolve_paths(parse_config(text, str(p)), p.resolve().parent)


def _resolve_one(value: str, kind: str, base: Path) -> str:
    if kind == "spec":
        head, sep, tail = value.rpartition(":")
        if sep and head.endswith(".py") and not Path(head).is_absolute() and (base / head).is_file():
            return f"{base / head}:{tail}"
        return value
    if not value or Path(value).expanduser().is_absolute():
        return value
    candidate = base / value
    return str(candidate) if kind == "dir" or candidate.exists() else value


def resolve_paths(config: Config, base: Path) -> Config:
    """Settings naming files relative to the config file (``path`` metadata) made absolute against ``base``."""
    sections = {}
    for section in dataclasses.fields(config):
        value = getattr(config, section.name)
        changes = {
            f.name: _resolve_one(getattr(value, f.name), f.metadata["path"], base)
            for f in dataclasses.fields(value)
            if "path" in f.metadata and isinstance(getattr(value, f.name), str)
        }
        sections[section.name] = dataclasses.replace(value, **changes)
    return Config(**sections)


def find_config(root: str | Path) -> Path | None:
    """``ROOT/rankinv.toml`` if it exists."""
    candidate = Path(root) / CONFIG_FILENAME
    return candidate if candidate.is_file() else None


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    return repr(value)


def render_template(config: Config | None = None) -> str:
    """A commented ``rankinv.toml`` listing every setting with its documentation and default."""
    config = config or Config()
    out = ["# rankinv configuration. Every setting is shown with its default; delete what you do not change.", ""]
    for section in dataclasses.fields(config):
        value = getattr(config, section.name)
        doc = (type(value).__doc__ or "").strip().splitlines()[0]
        out.append(f"# {doc}")
        out.append(f"[{section.name}]")
        for f in dataclasses.fields(value):
            current = getattr(value, f.name)
            within = f.metadata.get("within")
            allowed = f" (allowed: {Interval.parse(within).describe(f.name)})" if within else ""
            out.append(f"# {f.metadata.get('doc', '')}{allowed}")
            if current is None:
                out.append(f"# {f.name} =   (unset)")
            else:
                out.append(f"{f.name} = {_toml_value(current)}")
        out.append("")
    return "\n".join(out)
