"""The daemon keeps the heap it frees between the parts of a long read: reusing it faults no pages in again.

Measured on the real C library in a fresh interpreter (the setting is process-wide): the page faults of reading
blocks the way a part does (8 MiB blocks, copied and freed), part after part, with and without the setting.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

_PARTS = """
import resource, sys
from rankinv.daemon.heap import keep_freed_heap
kept = keep_freed_heap() if sys.argv[1] == "keep" else None
def part(n):
    block = bytes([65 + n]) * (8 << 20)  # 8 MiB, written: every page is touched
    blocks = [block, block + b"\\n", block.lower(), block[:-1]]
    del block, blocks
part(0)  # the first part: its pages are new either way
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for n in range(1, 13):
    part(n)
print(kept, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> tuple[str, int]:
    out = subprocess.run([sys.executable, "-c", _PARTS, mode], capture_output=True, text=True, check=True)
    kept, faults = out.stdout.split()
    return kept, int(faults)


def test_parts_reuse_the_freed_heap_instead_of_faulting_it_in_again() -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("glibc's mallopt: Linux only")
    kept, with_setting = _faults("keep")
    _, without = _faults("plain")
    assert kept == "True"
    pages = 12 * 4 * (8 << 20) // 4096  # what the parts would fault in if no page were reused
    assert without > pages // 2, "the test must show the faults it guards against"
    assert with_setting < pages // 20
