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
while a model computes (a Module's call, a backward pass, a parallel call),
BLAS is held to one thread (``blas_held``), and gets its own count back
after: a student's own NumPy or scikit-learn code between two steps still
runs on BLAS's threads. BLAS is a
C library found at run time (OpenBLAS, MKL or BLIS, under various names);
``threadpoolctl`` (used by scikit-learn) finds whichever one NumPy loaded and
sets its thread count. Without threadpoolctl, minitl runs on one thread and
says so once.

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

from minitl import allocator, backend


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
_blas = None          # threadpoolctl's handles on the BLAS libraries, found when minitl first computes
_blas_lock = threading.Lock()
_blas_holders = 0     # parallel calls under way (several user threads may compute at once)
_blas_own_threads = []  # each BLAS library's own thread count, given back when the last call ends
_local = threading.local()  # .busy: this thread is already running a piece of a parallel call


def get_num_threads():
    """How many threads minitl computes with (default: $MINITL_NUM_THREADS, else the cores this process may use)."""
    return _num_threads


def set_num_threads(n):
    """Compute with `n` threads, as ``torch.set_num_threads``; BLAS runs one thread in each piece.

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


def _find_blas():
    """threadpoolctl's handles on the BLAS libraries NumPy loaded, once; without threadpoolctl, none, and
    minitl runs on one thread (its threads would fight BLAS's), with a warning."""
    global _blas, _num_threads
    if _blas is not None:
        return _blas
    allocator.keep_freed_memory()  # minitl's other process-wide setting, also made when it first computes
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        warnings.warn("threadpoolctl is not installed, so minitl cannot hold BLAS to one thread per worker: "
                      "it runs on one thread (pip install threadpoolctl)", RuntimeWarning, stacklevel=4)
        _num_threads, _blas = 1, []
        return _blas
    _blas = ThreadpoolController().select(user_api="blas").lib_controllers
    return _blas


class _BlasHold:
    """``with threads.blas_held:`` BLAS runs one thread inside, and gets its own count back when the last
    hold ends (holds nest, and several user threads may hold it at once: they are counted).

    minitl holds it around a Module's call, a backward pass and each parallel call, so a model's
    products run on one BLAS thread, as in round 2: their results never depend on BLAS's threads
    (OpenBLAS's two-thread products differ from its one-thread ones in the last bits), and on a loaded
    machine no BLAS thread spin-waits beside minitl's. Outside (a student's own NumPy or scikit-learn
    code, and a product of tensors outside any Module, ``x @ w``) BLAS keeps its threads. Not around
    every Function: OpenBLAS takes about 10 microseconds to change its count, more than a small
    operation's own time, so a hold is worth its cost only around a whole model or pass."""

    def __enter__(self):
        global _blas_holders, _blas_own_threads
        libraries = _find_blas()
        with _blas_lock:
            if _blas_holders == 0:
                _blas_own_threads = [library.num_threads for library in libraries]
                _set_blas_threads(libraries, [1] * len(libraries))
            _blas_holders += 1

    def __exit__(self, *exception):
        global _blas_holders
        with _blas_lock:
            _blas_holders -= 1
            if _blas_holders == 0:
                _set_blas_threads(_blas, _blas_own_threads)


def _set_blas_threads(libraries, counts):
    """Each library's thread count set. threadpoolctl lets only the thread that first set OpenBLAS's
    count set it again, and silently ignores the others; minitl's own lock already orders its holds, so
    the thread holding now takes control first (a user thread computing with minitl must be able to)."""
    for library, count in zip(libraries, counts, strict=True):
        take_control = getattr(library, "clear_controlling_thread", None)  # OpenBLAS's controller has it
        if take_control is not None:
            take_control(force=True)
        library.set_num_threads(count)


blas_held = _BlasHold()


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
    (the threads are already busy). BLAS runs one thread meanwhile. An exception in any
    piece is raised here.
    """
    pieces = list(pieces)
    if getattr(_local, "busy", False):  # inside a piece: BLAS is already held
        return [function(piece) for piece in pieces]
    with blas_held:
        if _num_threads == 1 or len(pieces) < 2:
            return [function(piece) for piece in pieces]
        return _shared_out(function, pieces)


def _shared_out(function, pieces):
    """parallel_map's work shared among the pool's threads and the caller."""
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
