"""Rich output for people: a progress bar on stderr while triage runs, and a summary table after."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from rankinv.stats import Interval
from rankinv.triage.report import TriageReport


@contextlib.contextmanager
def progress_bar() -> Iterator[Callable[[str, int], Callable[[int], None]]]:
    """A phase factory for :func:`rankinv.triage.run.run_triage`: each phase gets its own bar."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=False) as progress:

        def phase(description: str, total: int) -> Callable[[int], None]:
            task = progress.add_task(description, total=total)
            return lambda n: progress.advance(task, n)

        yield phase


def _fmt(interval: Interval | None, digits: int = 3) -> tuple[str, str]:
    if interval is None:
        return "n/a", "not measured (vLLM backend, or --no-probe)"
    return f"{interval.estimate:.{digits}f}", f"[{interval.lo:.{digits}f}, {interval.hi:.{digits}f}]"


def summary_table(report: TriageReport) -> Table:
    m, s, g = report.metrics, report.sampling, report.group_size
    table = Table(title=f"triage of {report.checkpoint}\n{s.prompts} prompts x {s.samples} samples, T={s.temperature}, "
                  f"g={g}, {s.backend}, reward {s.reward}")
    for column in ("metric", "estimate", "95% interval over prompts"):
        table.add_column(column)
    rows = [
        ("pass@1", m.pass_at_1),
        *((f"pass@{k}", v) for k, v in m.pass_at_k.items() if k != "1"),
        (f"expected advantage variance at g={g}", m.expected_advantage_variance),
        ("expected degenerate-group fraction", m.degenerate_fraction),
        (f"prompts below p*(g)={report.p_star:.3f}", m.fraction_below_p_star),
        ("prompts never solved", m.never_solved_fraction),
        ("headroom p / p*(g)", m.headroom),
        ("truncated rollouts", m.truncation_rate),
        ("rollout entropy, exact (nats/token)", m.entropy_token_mean),
        ("rollout entropy, per sequence", m.entropy_per_sequence),
        ("rollout entropy, Monte-Carlo", m.entropy_monte_carlo),
        ("probe entropy (paper's)", m.entropy_probe),
    ]
    for label, interval in rows:
        table.add_row(label, *_fmt(interval))
    if report.sft is not None:  # from the checkpoint's own trainer_state.json: a value, not an interval
        table.add_row("SFT eval loss (held-out data)", f"{report.sft.eval_loss:.3f}",
                      f"lowest so far {report.sft.eval_loss_min:.3f} ({report.sft.points} evaluations)")
    return table


def print_summary(report: TriageReport, written: str | None, console: Console | None = None) -> None:
    console = console or Console()
    console.print(summary_table(report))
    t = report.timing
    console.print(f"{t.generated_tokens} tokens in {t.sample_s:.1f} s ({t.tokens_per_s:.0f} tokens/s); "
                  f"total {t.total_s:.1f} s")
    if report.flag.flagged:
        console.print("[bold red]FLAGGED[/bold red] for stage 1:")
        for reason in report.flag.reasons:
            console.print(f"  - {reason.message}")
    else:
        console.print(f"[green]not flagged[/green] (entropy basis: {report.flag.entropy_basis})")
    if written:
        console.print(f"report: {written}")
