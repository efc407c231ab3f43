"""ReLU by blocks of rows on minitl's threads, beside its plain reference.

Every element is on its own, so any block of rows may run on any thread
and the result is the same bit for bit on any thread count; ``out=``
buffers write each block in place instead of allocating per block.
"""
from minitl import backend, threads


def relu(x):
    """(y, positive): y = max(x, 0) and the mask x > 0 that backward needs."""
    xp = backend.get_array_module(x)
    y, positive = xp.empty_like(x), xp.empty(x.shape, dtype=bool)

    def relu_rows(rows):
        xp.greater(x[rows], 0, out=positive[rows])
        xp.maximum(x[rows], 0, out=y[rows])
    threads.parallel_map(relu_rows, threads.rows(x))
    return y, positive


def relu_backward(gy, positive):
    """dx = gy where x > 0, else 0."""
    xp = backend.get_array_module(gy)
    gx = xp.empty_like(gy)
    threads.parallel_map(lambda rows: xp.multiply(gy[rows], positive[rows], out=gx[rows]), threads.rows(gy))
    return gx


def reference_relu(x):
    """The plain version of relu: one NumPy expression each."""
    return backend.get_array_module(x).maximum(x, 0), x > 0


def reference_relu_backward(gy, positive):
    return gy * positive
