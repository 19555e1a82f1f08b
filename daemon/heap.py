"""Keep the heap the daemon frees between the parts of a long read, for the next part, instead of handing it back.

A long log is read in parts (:data:`rankinv.daemon.service.READ_BYTES`): each part reads 8 MiB blocks and copies
them a few times (the unfinished line joined to the next block, the complete lines cut off, the lowercased copy
the stdout reader searches), then frees them. glibc returns the top of its heap to the kernel as soon as more than
twice its adaptive mmap threshold is free there, so every part asked the kernel for about 35 MiB of fresh, zeroed
pages again: 600k page faults (about 1.3 s of CPU) for the first read of a 1 GB Slurm log, against 100k when it
was read in one go. With fixed thresholds up to :data:`KEEP_BYTES` of freed heap is kept and reused (28k faults).
Only glibc has ``mallopt``; with another C library this does nothing.
"""

from __future__ import annotations

import ctypes

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_BYTES = 32 << 20
"""Allocations below this come from the heap (glibc's largest allowed mmap threshold on 64-bit)."""
KEEP_BYTES = 64 << 20
"""Free heap kept at its top before any is returned to the kernel (the process's peak RSS grows by at most this)."""


def keep_freed_heap() -> bool:
    """Set glibc's thresholds; False when the C library has no ``mallopt`` or refuses a value."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return int(mallopt(M_MMAP_THRESHOLD, MMAP_BYTES)) == 1 and int(mallopt(M_TRIM_THRESHOLD, KEEP_BYTES)) == 1
