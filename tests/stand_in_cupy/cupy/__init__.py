"""A NumPy-backed stand-in for CuPy, to test minitl's device plumbing on a machine without a GPU.

Its arrays are a subclass of NumPy's ndarray that minitl must treat as
device arrays: ``backend`` sees ``cupy.ndarray`` and says ``'cuda'``, results
of operations stay device arrays, and ``.get()`` copies back to the host.
So the GPU suite, run with this directory on PYTHONPATH (see
test_device_plumbing.py), checks which array module each step uses, where
tensors, gradients, optimizer state and checkpoints end up, and the moves
between devices. It cannot check CUDA kernels or GPU numerics (it computes
with NumPy), nor catch a NumPy call on a device array (NumPy accepts its
own subclass); test_device_lint.py covers that by reading the code.
"""
import types

import numpy as _np


class ndarray(_np.ndarray):
    """A 'device' array: NumPy data in a distinct type."""

    def get(self):
        """Copy to a host NumPy array, as cupy.ndarray.get does."""
        return _np.array(self).view(_np.ndarray)

    def __array_wrap__(self, array, context=None, return_scalar=False):
        return array.view(ndarray)  # CuPy returns 0-d arrays, never NumPy scalars


def _on_device(value):
    if isinstance(value, (_np.ndarray, _np.generic)) and not isinstance(value, ndarray):
        return _np.asarray(value).view(ndarray)
    if isinstance(value, (tuple, list)):
        return type(value)(_on_device(v) for v in value)
    return value


def asarray(array, dtype=None):
    """Host data to the 'device' (a copy), or the device array itself when nothing changes."""
    if isinstance(array, ndarray) and (dtype is None or array.dtype == dtype):
        return array
    return _np.array(array, dtype=dtype).view(ndarray)


def __getattr__(name):
    """Every other name is NumPy's; functions return device arrays."""
    attribute = getattr(_np, name)
    if not callable(attribute) or isinstance(attribute, type) or name in ("finfo", "iinfo"):
        return attribute

    def on_device(*args, **kwargs):
        return _on_device(attribute(*args, **kwargs))
    return on_device


class _Device:
    def synchronize(self):
        """Nothing is queued: NumPy has finished when it returns."""


cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=lambda: 1), Device=_Device)
# cupy.lib.stride_tricks.as_strided gives a device array (a view of the same memory), as CuPy's does
lib = types.SimpleNamespace(stride_tricks=types.SimpleNamespace(
    as_strided=lambda x, *args, **kwargs: _np.lib.stride_tricks.as_strided(x, *args, subok=True, **kwargs)))
