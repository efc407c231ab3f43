"""The C allocator told to keep the memory minitl frees, for the next step, instead of handing it back.

A training step makes the same arrays every step and frees them all at its
end: activations, gradients, each chunk's temporaries. glibc (the C library
of most Linux systems) hands freed memory at the top of its heap back to the
operating system once more than ``M_TRIM_THRESHOLD`` bytes are free, and
gives every block above ``M_MMAP_THRESHOLD`` a mapping of its own, unmapped
when freed. The next step then touches that memory afresh, one page fault
per 4 KiB page, and with two threads each unmapping also stops the other
thread (measured, ResNet-20 train step at batch 64 on 2 threads: 34-85 ms of
system CPU time per step and 3,600-7,700 page faults; with the thresholds
below, 1-3 ms and none; docs/performance.md).

``keep_freed_memory`` sets, with glibc's ``mallopt``:

    M_MMAP_THRESHOLD = 32 MiB    the largest value glibc's own adaptive rule reaches: a block above it
                                 still gets its own mapping, handed back as soon as it is freed
    M_TRIM_THRESHOLD = 512 MiB   freed memory kept at the top of the heap, up to this much

(setting either one turns glibc's adaptive rule off, so both are set). The
cost: after a step the process keeps up to 512 MiB it no longer uses; its
peak is unchanged. The setting is the whole process's, as the allocator is;
minitl makes it when it first computes (not on import), and
``MINITL_KEEP_FREED_MEMORY=0`` leaves the allocator alone. Where the C
library is not glibc (macOS, Windows, musl), nothing is done.
"""
import ctypes
import os
import sys
import threading

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers, from glibc's <malloc.h>
KEPT_MMAP_THRESHOLD = 32 * 2 ** 20
KEPT_TRIM_THRESHOLD = 512 * 2 ** 20

_done = False
_lock = threading.Lock()


def _glibc_mallopt():
    """glibc's mallopt, or None where the C library is another."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return None
    if not hasattr(libc, "gnu_get_libc_version"):  # only glibc has it (musl's mallopt does nothing)
        return None
    mallopt = libc.mallopt
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return mallopt


def keep_freed_memory():
    """Set the two thresholds of the module docstring, once per process; True when they were set."""
    global _done
    with _lock:
        if _done:
            return False
        _done = True
        if os.environ.get("MINITL_KEEP_FREED_MEMORY", "1").strip() == "0":
            return False
        mallopt = _glibc_mallopt()
        if mallopt is None:
            return False
        return bool(mallopt(M_MMAP_THRESHOLD, KEPT_MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD,
                                                                                  KEPT_TRIM_THRESHOLD))
