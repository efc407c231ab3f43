"""minitl's threads: the second core outside BLAS.

NumPy runs an elementwise loop or a copy on one core, and only its matrix
products (BLAS) use more. So minitl splits its big loops into independent
pieces (chunks of images for a convolution, blocks of channels for batch
norm, slices for ReLU and pooling) and runs the pieces on a small pool of
threads. Python threads help here because NumPy releases the GIL inside its
loops on large arrays, so two threads really run two loops at once.

Two levels of threads would fight: each of minitl's threads calling a BLAS
that starts threads of its own puts four busy threads on two cores, and
OpenBLAS's threads spin-wait for each other at every barrier, which on a
loaded machine makes a step up to 18 times slower (docs/performance.md). So
from the first time minitl computes, BLAS is held to one thread per minitl
thread, as ``torch.set_num_threads`` also sets the threads of PyTorch's BLAS.
BLAS is a C library found at run time (OpenBLAS, MKL or BLIS, under various
names); ``threadpoolctl`` (used by scikit-learn) finds whichever one NumPy
loaded and sets its thread count. Without threadpoolctl, minitl runs on one
thread and says so once.

Every parallel call is a thin layer over an ordinary loop: ``parallel_map(f,
pieces)`` returns ``[f(p) for p in pieces]``, and that loop is what runs on
one thread. Results never depend on the thread count: each piece is
computed the same way wherever it runs, and pieces are combined in order.
"""
import itertools
import os
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from minitl import backend


def _cores():
    """The cores this process may run on (the affinity mask, where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no affinity call
        return os.cpu_count() or 1


def _default_threads():
    """MINITL_NUM_THREADS when set (like OMP_NUM_THREADS for PyTorch), else every core."""
    setting = os.environ.get("MINITL_NUM_THREADS")
    if setting is None:
        return _cores()
    if not setting.strip().isdigit() or int(setting) < 1:
        raise ValueError(f"MINITL_NUM_THREADS must be a positive whole number, got {setting!r}")
    return int(setting)


_num_threads = _default_threads()
_pool = None          # the worker threads, made when first needed
_pool_lock = threading.Lock()
_blas_held = False    # set once minitl has held BLAS to one thread (or found it cannot)
_local = threading.local()  # .busy: this thread is already running a piece of a parallel call


def get_num_threads():
    """How many threads minitl computes with (default: $MINITL_NUM_THREADS, else the cores this process may use)."""
    return _num_threads


def set_num_threads(n):
    """Compute with `n` threads, as ``torch.set_num_threads``; BLAS runs one thread in each.

    ``set_num_threads(1)`` runs everything on the calling thread. Safe while
    other threads compute: a parallel call already under way finishes on the
    pool it started with, which then closes; later calls use the new count.
    """
    global _num_threads, _pool
    if isinstance(n, bool) or not isinstance(n, int):  # torch's errors, word for word
        raise RuntimeError(f"set_num_threads expects an int, but got {type(n).__name__}")
    if n < 1:
        raise RuntimeError("set_num_threads expects a positive integer")
    with _pool_lock:  # never between another thread's taking the pool and giving it its pieces
        old, _pool, _num_threads = _pool, None, n
    if old is not None:
        old.shutdown(wait=False)  # the pieces already given to it still run; then its threads end
    _hold_blas()


def _hold_blas():
    """Hold BLAS to one thread, once, when minitl first computes. Always one, whatever minitl's own
    thread count: results then never depend on it (BLAS's threads split some products' sums
    differently), and no BLAS thread ever spin-waits."""
    global _blas_held, _num_threads
    if _blas_held:
        return
    _blas_held = True  # one attempt: without threadpoolctl, warn once
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        warnings.warn("threadpoolctl is not installed, so minitl cannot hold BLAS to one thread per worker: "
                      "it runs on one thread (pip install threadpoolctl)", RuntimeWarning, stacklevel=3)
        _num_threads = 1
        return
    threadpool_limits(limits=1, user_api="blas")  # applied now; kept until the process ends


def _start_helpers(work, pieces):
    """`work` started on min(threads, pieces) - 1 helper threads of the pool (one fewer than the thread
    count: the caller works too); their futures. Under the pool's lock: two user threads computing at once
    make one pool, and set_num_threads cannot close it before it has the pieces."""
    global _pool
    with _pool_lock:
        if _num_threads == 1:
            return []
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=_num_threads - 1, thread_name_prefix="minitl")
        return [_pool.submit(work) for _ in range(min(_num_threads, pieces) - 1)]


def _forget_pool_in_child():
    """A forked child has a copy of the pool but none of its threads: it must make its own."""
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):  # not on Windows, which cannot fork
    os.register_at_fork(after_in_child=_forget_pool_in_child)


def parallel_map(function, pieces):
    """[function(piece) for piece in pieces], the pieces shared out among minitl's threads.

    Each thread, the caller's included, takes the next piece not yet taken until none are
    left, so uneven pieces balance out. A call made from inside a piece runs serially
    (the threads are already busy). An exception in any piece is raised here.
    """
    _hold_blas()
    pieces = list(pieces)
    if _num_threads == 1 or len(pieces) < 2 or getattr(_local, "busy", False):
        return [function(piece) for piece in pieces]
    results = [None] * len(pieces)
    next_index = itertools.count()  # next() on it is atomic under the GIL: each index goes to one thread

    def work():
        _local.busy = True
        try:
            while (index := next(next_index)) < len(pieces):
                results[index] = function(pieces[index])
        finally:
            _local.busy = False

    helpers = _start_helpers(work, len(pieces))
    try:
        work()
    finally:
        for helper in helpers:
            helper.result()  # waits; re-raises a helper's exception
    return results


# Below this many array elements a loop is split no more: a piece's Python overhead (a few
# microseconds per NumPy call) would cost more than the second core saves.
MIN_PARALLEL_SIZE = 2 ** 16


def blocks(length, size):
    """Slices of range(length) (of channels, of images...), one per thread, for work on `size`
    array elements; a single slice when the work is too small to be worth sharing."""
    return split(length, _num_threads if size >= MIN_PARALLEL_SIZE else 1)


def work_size(array):
    """The elements of `array` as work for minitl's threads; 0 for a GPU array, whose every operation
    already runs in parallel on the device (splitting it among host threads only adds launches:
    measured on an H200, a ResNet-20 train step took 597 ms on 16 threads, 69 ms on one)."""
    return array.size if backend.get_array_module(array) is np else 0


def rows(array):
    """Index of blocks of `array`'s first axis, one per thread (``array[index]`` is a block), for
    work that treats every element alike; a single block holding everything when the array is
    small, 0-d or on a GPU."""
    return [...] if array.ndim == 0 else blocks(array.shape[0], work_size(array))


def split(length, pieces):
    """`pieces` consecutive slices covering range(length), as even as possible (none empty)."""
    pieces = max(1, min(pieces, length))
    bounds = [length * k // pieces for k in range(pieces + 1)]
    return [slice(start, stop) for start, stop in itertools.pairwise(bounds)]
