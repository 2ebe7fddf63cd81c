"""Settings of a build's processes: how they hand memory back, and that workers end with the build."""

from __future__ import annotations

import ctypes
import os
import signal
import sys

#: glibc's ``mallopt`` parameters (malloc.h) and Linux's ``prctl`` option.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_PR_SET_PDEATHSIG = 1
#: Blocks up to this size come from the heap (glibc's largest allowed threshold on 64-bit).
HEAP_BLOCKS_UP_TO = 32 * 2**20
#: Free memory at the top of the heap is handed back only beyond this much.
KEEP_FREE_UP_TO = 256 * 2**20


def keep_freed_memory() -> bool:
    """Have glibc keep freed memory for the next arrays instead of unmapping it.

    glibc maps every block above 128 KB afresh and unmaps it when it is freed (its
    adaptive threshold stops at 32 MB), so each full-image array of a build starts with
    a page fault per 4 KB, which the kernel zeroes: about 150,000 faults and 7 % of the
    time per 100 COCO images. Forked workers inherit the setting. Returns whether it
    took (glibc only; elsewhere nothing changes).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, HEAP_BLOCKS_UP_TO)) and bool(mallopt(_M_TRIM_THRESHOLD, KEEP_FREE_UP_TO))


def die_with_parent(parent: int) -> None:
    """Have the kernel end this worker when the build process ``parent`` dies (Linux only).

    A worker pool outlives a parent killed with SIGKILL otherwise: nothing tells the
    workers, and they wait for work that never comes. A worker whose parent died before
    this ran exits at once.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the pool's idle timeout ends the workers
        return
    if os.getppid() != parent:
        os._exit(1)


def start_worker(parent: int) -> None:
    """Initializer of a build's worker processes: they end with ``parent``, keep freed memory and ignore Ctrl-C.

    Ctrl-C reaches the whole process group; the build process alone answers it (one
    line, exit 130) and ends its workers, which would otherwise each print a traceback.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent(parent)
    keep_freed_memory()
