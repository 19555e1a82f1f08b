"""Forked read-ahead workers: each item done once, by a worker or by the caller; failures and dead workers leave
their items to the caller; closing reaps every worker.

Real forked processes. A test that wants the workers' results first waits (with a deadline) until they have
claimed every item, so what it checks does not depend on which process the scheduler ran first.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

from rankinv.daemon.readahead import FREE, ReadAhead, idle_cores


def _all_claimed(ahead: ReadAhead, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while FREE in bytes(ahead.claims):
        assert time.monotonic() < deadline, "the workers did not claim every item"
        time.sleep(0.01)


def _reaped(pids: list[int]) -> bool:
    for pid in pids:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            continue
        return False
    return True


def _square(i: int) -> tuple[int, int, int]:
    return i, i * i, os.getpid()


def test_every_item_comes_from_a_worker_once_claimed_by_it() -> None:
    items = list(range(300))
    ahead = ReadAhead(items, _square, workers=2)
    pids = list(ahead.pids)
    try:
        _all_claimed(ahead)
        order = items[:]
        random.Random(7).shuffle(order)
        got = {i: ahead.take(i) for i in order}
    finally:
        ahead.close()
    assert all(got[i][:2] == (i, i * i) for i in items)  # each its own item's result
    assert {r[2] for r in got.values()} <= set(pids) and os.getpid() not in {r[2] for r in got.values()}
    assert ahead.taken == len(items)
    assert _reaped(pids)


def test_the_caller_does_what_no_worker_claimed_and_no_item_is_done_twice(tmp_path: Path) -> None:
    marks = tmp_path  # each compute leaves a file named after its item: two of one item would collide
    items = list(range(400))

    def compute(i: int) -> int:
        (marks / str(i)).touch(exist_ok=False)
        return i

    ahead = ReadAhead(items, compute, workers=1)
    try:
        for i in items:  # the caller starts at once: it claims some, the worker others
            if ahead.take(i) is None:
                compute(i)
    finally:
        ahead.close()
    assert sorted(int(p.name) for p in marks.iterdir()) == items


def test_an_item_that_fails_or_a_worker_that_dies_is_left_to_the_caller() -> None:
    items = list(range(50))

    def compute(i: int) -> int:
        if i == 40:
            raise ValueError("unreadable")
        if i == 10:
            os._exit(3)  # the worker dies with item 10 in hand
        return -i

    ahead = ReadAhead(items, compute, workers=1)
    pids = list(ahead.pids)
    try:
        deadline = time.monotonic() + 60
        while 0 in ahead.pipes:  # until the worker is gone (its pipe closed)
            assert time.monotonic() < deadline
            ahead._drain(block=True)
        got = {i: ahead.take(i) for i in items}
    finally:
        ahead.close()
    assert got[40] is None and got[10] is None  # failed, and in hand when the worker died: the caller's
    assert all(got[i] == -i for i in range(11, 50) if i != 40)  # done before it died
    assert all(got[i] is None for i in range(10))  # never reached: the caller's
    assert _reaped(pids)


def test_closing_with_results_unread_stops_and_reaps_the_workers() -> None:
    ahead = ReadAhead(list(range(5000)), _square, workers=2)
    pids = list(ahead.pids)
    ahead.take(4999)  # a worker's result or the caller's to do: either way the rest is left unread
    ahead.close()
    assert _reaped(pids) and not ahead.pipes


def test_idle_cores_leaves_this_process_its_own() -> None:
    assert 0 <= idle_cores() <= max(0, len(os.sched_getaffinity(0)) - 1)
