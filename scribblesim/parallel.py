"""Run a function over many items in joblib workers, and the settings of those worker processes.

Nothing here knows what the items are: :mod:`scribblesim.sets.build` hands it one image
per item. The process settings (glibc's ``mallopt``, Linux's ``prctl``, OpenCV's
threads) belong to the processes, not to any output format, hence this module's place
beside :mod:`.errors` rather than under a floor; it imports nothing of scribblesim.
"""

from __future__ import annotations

import ctypes
import gc
import itertools
import os
import signal
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

#: joblib's own backends, and dask's (registered when dask.distributed is imported). Named
#: here so that parsing options does not import joblib (a fifth of a second).
JOBLIB_BACKENDS = ("dask", "loky", "multiprocessing", "sequential", "threading")
#: joblib backends whose workers are processes on this machine.
PROCESS_BACKENDS = ("loky", "multiprocessing")
#: The default backend: forked workers start with everything imported (loky's start afresh,
#: about a second each, which halves the gain of a second job on a small build).
DEFAULT_BACKEND = "multiprocessing" if sys.platform.startswith("linux") else "loky"
#: Items handed out per worker at a time by the multiprocessing backend, which returns
#: results a batch at a time (a progress bar moves by batches).
CHUNK_PER_WORKER = 32

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
    """Have the kernel end this worker when the process ``parent`` dies (Linux only).

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


#: Whether the command is stopping (a stop signal arrived); see :func:`stopping`.
_stopping = False


def stopping(flag: bool = True) -> None:
    """Say that the command is stopping (or, with ``False``, no longer): workers started from now end at once.

    A pool may replace a worker just as it terminates the others (CPython's Pool starts
    the replacement after its terminate loop), and then waits for the new one forever; a
    worker forked while the flag is up inherits it and ends before it takes work.
    """
    global _stopping
    _stopping = flag


def start_worker(parent: int) -> None:
    """Initializer of worker processes: they end with ``parent`` and on SIGTERM, keep freed memory,
    ignore Ctrl-C and run OpenCV on one thread.

    Ctrl-C reaches the whole process group; the parent alone answers it (one line, exit
    130) and ends its workers, which would otherwise each print a traceback. The workers
    are the parallelism: OpenCV's own threads (one per core by default) would only
    compete with them. ``setNumThreads(0)`` (run sequentially), not ``1``: in a worker
    forked after the parent ran OpenCV, ``setNumThreads(1)`` waits forever on the
    parent's thread pool.
    """
    if _stopping:
        os._exit(0)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A forked worker inherits the command's SIGTERM handler, which turns the signal into an
    # exception that the pool's worker loop survives: the pool's terminate() would then wait
    # for it forever. A worker ends on SIGTERM.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    die_with_parent(parent)
    keep_freed_memory()
    import cv2

    cv2.setNumThreads(0)


def worker_options(backend: str) -> dict:
    """The ``joblib.parallel_config`` options that start each worker process of ``backend`` with
    :func:`start_worker` (none for backends without processes).

    Every pool of a command needs them: the command's stop handlers are inherited by forked
    workers, and without them a pool's ``terminate()`` can wait forever for a worker.
    """
    return {"initializer": start_worker, "initargs": (os.getpid(),)} if backend in PROCESS_BACKENDS else {}


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity (SLURM, taskset, a container's
    cpuset), not every core of the machine; ``os.cpu_count()`` where affinity is unknown."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _workers(jobs: int) -> int:
    """Workers that ``jobs`` means in joblib's terms (-1 = all usable cores, -2 = all but one)."""
    return jobs if jobs > 0 else max(1, usable_cores() + 1 + jobs)


def _call_in(directory: str, function: Callable, *args):
    """``function(*args)`` in the caller's working directory ``directory``.

    A worker pool outlives one call (loky's reusable executor, a dask cluster) and may
    have been started from another directory. The items' relative paths must mean what
    they mean to the caller, and they cannot be resolved before dispatch: a dataset's
    paths appear as given in the reasons a build records for a skipped image (in
    ``meta.json`` and its warnings), so resolving them would change those bytes.
    """
    if os.getcwd() != directory:
        os.chdir(directory)
    return function(*args)


def _in_chunks(tasks: Iterator, size: int) -> Iterator:
    """Results of ``tasks`` a chunk at a time, from one worker pool for all of them.

    One item per dispatch: joblib's automatic batches of several items leave a worker
    idle while another finishes the chunk's last batch.
    """
    import joblib

    with joblib.Parallel(batch_size=1) as parallel:
        while chunk := list(itertools.islice(tasks, size)):
            yield from parallel(chunk)


@contextmanager
def in_workers(function: Callable, items: Iterable, *args, jobs: int, backend: str) -> Iterator[Iterator]:
    """``function(item, *args)`` for every item, in item order, computed by joblib workers.

    Parameters
    ----------
    function : callable
        A module-level function (workers import it by name).
    items : iterable
        One task each; consumed as the workers need them.
    *args
        Passed to every call after the item.
    jobs : int
        Worker count (joblib semantics: -1 = all cores).
    backend : str
        A joblib backend: ``"multiprocessing"`` (forked workers; the default on Linux),
        ``"loky"`` (the default elsewhere), ``"threading"``, ``"sequential"`` or
        ``"dask"`` (needs a ``dask.distributed`` client).

    Yields
    ------
    iterator
        The results, to be consumed inside the ``with`` block.
    """
    keep_freed_memory()  # forked workers inherit it; spawned ones set it in start_worker
    if _workers(jobs) == 1 and backend in (*PROCESS_BACKENDS, "sequential"):
        # What joblib does with one process-backed job, without its import.
        yield (function(item, *args) for item in items)
        return
    import joblib

    with joblib.parallel_config(backend=backend, n_jobs=jobs, **worker_options(backend)), _frozen_for_fork(backend):
        here = os.getcwd()
        tasks = (joblib.delayed(_call_in)(here, function, item, *args) for item in items)
        yield (
            _in_chunks(tasks, CHUNK_PER_WORKER * _workers(jobs))
            if backend == "multiprocessing"
            else joblib.Parallel(return_as="generator")(tasks)
        )


@contextmanager
def _frozen_for_fork(backend: str) -> Iterator[None]:
    """While forked workers run, the parent's objects sit in the collector's permanent generation.

    A forked worker shares the parent's memory until it writes to a page. Its garbage
    collector would write to every object the parent holds (a COCO index: millions of
    them) as it traverses them, and so copy the parent's heap page by page into the
    worker; frozen objects are never traversed (``gc.freeze``, as Python's docs advise
    before a fork).
    """
    if backend != "multiprocessing":
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
