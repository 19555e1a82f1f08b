"""The TUI at scale: 1,000 runs with 50-step curves each, every one updated by the "daemon" once a second.

Measures what a user feels: start-up to the first frame with the ranked rows (a fresh process, so interpreter
start and imports count), the store read of one snapshot, applying a snapshot to the screen and re-rendering,
and the whole path from the daemon's commit to the new values on screen (includes the 0.3 s poll interval).
The app runs headless (Textual's test driver): everything but the terminal writes. With ``RANKINV_BENCH_BASELINE``
set to another interpreter (e.g. main's venv), the batch updates are also measured with its rankinv, on a copy of
the same store, in the same run (this file run as a script by that interpreter).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rankinv.store import ReadStore, Store

if __name__ != "__main__":  # run as a script by another interpreter (the baseline), only the measuring is needed
    from benchmarks import Result


def seed(path: Path, runs: int) -> None:
    with Store.open(path) as store:
        with store.transaction():
            for i in range(runs):
                name = f"grpo-{i:04d}"
                store.upsert_run(name, f"/runs/{name}", kind="grpo", job_id=str(10000 + i), job_state="RUNNING")
                store.put_verdict(name, None, step=10, decision="WATCH", confidence=0.5, stage="2",
                                  summary="warming up", reasons=[])
                store.add_metrics(name, [(step, metric, 0.5 + (i % 7) / 20 - step / 400, None) for step in range(50)
                                         for metric in ("entropy", "reward_mean", "frac_reward_zero_std")])
        update(store, runs, 0)
        store.set_health(watch_mode="inotify", armed=False, heartbeat=time.time(), last_event=time.time(), errors=0)


def predicted(i: int, tick: int, reshuffle: bool) -> float:
    """Run ``i``'s prediction at ``tick``: a new random rank each tick, or a drift that keeps the ranking."""
    if reshuffle:
        return ((i * 7919 + tick * 104729) % 1000) / 1000
    return 0.95 - i * 0.0009 - tick * 0.00001


def update(store: Store, runs: int, tick: int, reshuffle: bool = True) -> None:
    """One daemon cycle: a new monitor reading and prediction for every run, in one transaction."""
    with store.transaction():
        for i in range(runs):
            name = f"grpo-{i:04d}"
            value = ((i * 7919 + tick * 104729) % 1000) / 1000
            store.put_monitor(name, step=10 + tick, entropy=0.4 - value / 10, entropy_drop=value / 2,
                              zero_std_fraction=value)
            p = predicted(i, tick, reshuffle)
            store.put_prediction(name, None, step=10 + tick, value=p, lo=p - 0.05, hi=p + 0.05, basis="prior")


PROBE = """
import asyncio, sys, time
from rankinv.tui.app import make_app

async def main():
    app = make_app(sys.argv[1], store_path=sys.argv[2], manage_daemon=False, alerts_on=False)
    async with app.run_test(size=(160, 50)) as pilot:
        while app.main.snapshot is None:
            await pilot.pause(0.01)
        await pilot.pause()
        print(time.time(), time.process_time())

asyncio.run(main())
"""


def startup(root: Path, path: Path) -> tuple[float, float]:
    """Wall time from launching the process to its first frame, and the CPU time the process used for it."""
    start = time.time()
    out = subprocess.run([sys.executable, "-c", PROBE, str(root), str(path)], capture_output=True, text=True,
                         check=True).stdout
    shown, cpu = (float(x) for x in out.strip().splitlines()[-1].split())
    return shown - start, cpu


@contextlib.contextmanager
def frame_stopwatch() -> Iterator[list[float]]:
    """Wall and CPU seconds spent rendering frames (the screen's compositor) while inside: ``[wall, cpu]``, reset
    by the caller."""
    from textual.screen import Screen

    spent = [0.0, 0.0]
    compose = Screen._compositor_refresh

    def timed(screen: Screen[Any]) -> None:
        t0, c0 = time.perf_counter(), time.thread_time()
        compose(screen)
        spent[0] += time.perf_counter() - t0
        spent[1] += time.thread_time() - c0

    Screen._compositor_refresh = timed  # type: ignore[method-assign]
    try:
        yield spent
    finally:
        Screen._compositor_refresh = compose  # type: ignore[method-assign]


async def live(root: Path, path: Path, runs: int, ticks: int) -> dict[str, list[float]]:
    """Phase 1: the daemon commits once a second, the app's poller picks it up (end to end).
    Phase 2 (:func:`by_hand`): poller stopped, each update read and applied by hand."""
    from rankinv.tui.app import make_app

    app = make_app(root, store_path=path, manage_daemon=False, alerts_on=False)
    end_to_end: list[float] = []
    async with app.run_test(size=(160, 50)) as pilot:
        while app.main.snapshot is None:
            await pilot.pause(0.01)
        with Store.open(path) as writer, ReadStore.open(path) as reader:
            for tick in range(1, ticks + 1):
                started = time.perf_counter()
                update(writer, runs, tick)
                committed = time.perf_counter()
                while not _shows(app.main.snapshot, tick):
                    await pilot.pause(0.005)
                await pilot.pause()
                end_to_end.append(time.perf_counter() - committed)
                await asyncio.sleep(max(0.0, 1.0 - (time.perf_counter() - started)))  # once a second
            app.workers.cancel_group(app, "poll")
            while any(w.group == "poll" and not w.is_finished for w in app.workers):
                await pilot.pause(0.05)
            kept = await by_hand(app, pilot, writer, reader, runs=runs, ticks=range(ticks + 1, 2 * ticks + 1),
                                 reshuffle=False)  # fmt: skip
            shuffled = await by_hand(app, pilot, writer, reader, runs=runs,
                                     ticks=range(2 * ticks + 1, 3 * ticks + 1), reshuffle=True)  # fmt: skip
    return {**{f"{k}_kept": v for k, v in kept.items()}, **shuffled, "end_to_end": end_to_end}


async def by_hand(app: Any, pilot: Any, writer: Store, reader: ReadStore, *, runs: int, ticks: range,
                  reshuffle: bool) -> dict[str, list[float]]:  # fmt: skip
    """Each update read, then applied as the app applies a poll (the collector's due pass after the frame
    included): timing the read, the work (the screen's update plus the compositor's render of the next frame) and
    the wall time and process CPU until the test driver says the screen is idle again (which adds the driver's
    own wait, measured alone as "idle", and the collector's pass after the frame)."""
    from rankinv.tui.poller import read_rows

    out: dict[str, list[float]] = {"read": [], "apply": [], "apply_cpu": [], "work": [], "work_cpu": [], "idle": []}
    with frame_stopwatch() as rendering:
        for tick in ticks:
            update(writer, runs, tick, reshuffle)
            t0 = time.perf_counter()
            snap = reader.snapshot()
            rows = read_rows(reader, snap)  # the curves the sparklines and charts draw (top 60 runs)
            out["read"].append(time.perf_counter() - t0)
            t0, c0, rendering[:] = time.perf_counter(), time.process_time(), [0.0, 0.0]
            t1 = time.thread_time()
            app.main.show(snap, rows)
            shown, shown_cpu = time.perf_counter() - t0, time.thread_time() - t1
            collector = getattr(app, "_gc", None)
            if collector is not None and collector.started:  # as the app does after a polled snapshot is shown
                app.call_after_refresh(collector.frame_drawn)
            await pilot.pause()
            out["apply"].append(time.perf_counter() - t0)
            out["apply_cpu"].append(time.process_time() - c0)
            out["work"].append(shown + rendering[0])
            out["work_cpu"].append(shown_cpu + rendering[1])
            t0 = time.perf_counter()
            await pilot.pause()
            out["idle"].append(time.perf_counter() - t0)
            assert _shows(app.main.snapshot, tick, reshuffle)
    return {k: v[1:] for k, v in out.items()}  # the first update moves from the last phase's order: not counted


async def batches(root: Path, path: Path, runs: int, ticks: int) -> dict[str, list[float]]:
    """Only the batch updates applied by hand (kept ranking, then reshuffled), as :func:`live` measures them."""
    from rankinv.tui.app import make_app

    app = make_app(root, store_path=path, manage_daemon=False, alerts_on=False)
    async with app.run_test(size=(160, 50)) as pilot:
        while app.main.snapshot is None:
            await pilot.pause(0.01)
        app.workers.cancel_group(app, "poll")
        while any(w.group == "poll" and not w.is_finished for w in app.workers):
            await pilot.pause(0.05)
        with Store.open(path) as writer, ReadStore.open(path) as reader:
            kept = await by_hand(app, pilot, writer, reader, runs=runs, ticks=range(1, ticks + 1), reshuffle=False)
            shuffled = await by_hand(app, pilot, writer, reader, runs=runs, ticks=range(ticks + 1, 2 * ticks + 1),
                                     reshuffle=True)  # fmt: skip
    return {**{f"{k}_kept": v for k, v in kept.items()}, **shuffled}


def baseline_batches(python: str, root: Path, path: Path, runs: int, ticks: int) -> dict[str, list[float]]:
    """:func:`batches` run by another interpreter (its own rankinv and Textual) on a store seeded the same way."""
    import json

    copy = path.with_name("baseline.sqlite")
    seed(copy, runs)  # the same store (seeding is deterministic)
    out = subprocess.run([python, __file__, str(root), str(copy), str(runs), str(ticks)], capture_output=True,
                         text=True, check=True, cwd=tempfile.gettempdir()).stdout  # fmt: skip
    got: dict[str, list[float]] = json.loads(out.strip().splitlines()[-1])
    return got


def _shows(snapshot: Any, tick: int, reshuffle: bool = True) -> bool:
    """The screen's snapshot has this tick's values (checked on the run whose value we know)."""
    first = next(c for c in snapshot.candidates if c.run == "grpo-0000")
    return bool(abs(first.predicted - predicted(0, tick, reshuffle)) < 1e-9)


def _ms(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"{statistics.median(values) * 1000:.0f} (p95 {p95 * 1000:.0f})"


def run(quick: bool) -> Result:
    runs, ticks, starts = (100, 3, 1) if quick else (1000, 20, 3)
    baseline = os.environ.get("RANKINV_BENCH_BASELINE", "")
    start_load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        root, path = Path(tmp), Path(tmp) / "store.sqlite"
        seed(path, runs)
        base = baseline_batches(baseline, root, path, runs, ticks) if baseline else {}
        launches = [startup(root, path) for _ in range(starts)]
        t = asyncio.run(live(root, path, runs, ticks))
        if baseline:  # once before and once after this rankinv's, so both see the same spread of load
            after = baseline_batches(baseline, root, path, runs, ticks)
            base = {k: v + after[k] for k, v in base.items()}
    rows = [
        ["start-up to first frame (fresh process; target ≤ 1.0 s)", runs, _ms([w for w, _ in launches]),
         _ms([c for _, c in launches])],
        ["store snapshot read", runs, _ms(t["read"]), "—"],
        ["apply + render the frame, every run's values changed, ranking kept (work; target ≤ 50 ms)", runs,
         _ms(t["work_kept"]), _ms(t["work_cpu_kept"])],
        ["apply + render the frame, every run changed and the ranking reshuffled (work)", runs, _ms(t["work"]),
         _ms(t["work_cpu"])],
        ["apply + render (reshuffled), until the test driver is idle", runs, _ms(t["apply"]), _ms(t["apply_cpu"])],
        *([["baseline: apply + render, ranking kept (work)", runs, _ms(base["work_kept"]), _ms(base["work_cpu_kept"])],
           ["baseline: apply + render, ranking reshuffled (work)", runs, _ms(base["work"]), _ms(base["work_cpu"])],
           ["baseline: apply + render (reshuffled), until the test driver is idle", runs, _ms(base["apply"]),
            _ms(base["apply_cpu"])]]
          if base else []),
        ["the test driver's idle pause alone", runs, _ms(t["idle"]), "—"],
        ["daemon commit → on screen (poll 0.3 s)", runs, _ms(t["end_to_end"]), "—"],
    ]
    load = os.getloadavg()[0]
    notes = [
        f"median (p95) over {ticks} one-second updates of all {runs} runs; start-up over {starts} launches",
        f"load average {start_load:.1f} at the start, {load:.1f} at the end, on {os.cpu_count()} CPUs: wall times"
        " include waiting for a CPU",
        f"baseline: {baseline or 'none (set RANKINV_BENCH_BASELINE to an interpreter with another rankinv)'}"
        " (its batches measured before and after this rankinv's, both in its rows)",
    ]
    return Result("TUI, every run updated each second", ["operation", "runs", "wall ms", "CPU ms"], rows, notes)


if __name__ == "__main__":  # the baseline's measurement: root, store, runs, ticks → medians as JSON on stdout
    import json

    _root, _path, _runs, _ticks = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    print(json.dumps(asyncio.run(batches(_root, _path, _runs, _ticks))))
