"""Making tensors: ``tensor`` from data, ``from_numpy``, and the factories (zeros, ones, arange, randn...).

Floating-point data becomes float32 unless ``dtype`` asks otherwise, even
Python floats and float64 NumPy arrays: float32 is the default everywhere, and
float64 is a deliberate choice (gradient checks, parity tests).
"""
import numpy as np

from minitl import backend, random
from minitl.autograd import Tensor
from minitl.ops.shape import shape_args

float32 = np.float32
float64 = np.float64
int64 = np.int64


def _finish(array, requires_grad):
    tensor = Tensor(array)
    return tensor.requires_grad_(True) if requires_grad else tensor


def tensor(data, dtype=None, requires_grad=False, device=None):
    """A new leaf tensor holding a copy of `data` (numbers, nested lists, arrays or a Tensor)."""
    if isinstance(data, Tensor):
        data = data.data
    device = backend.normalize_device(device) or backend.device_of(data)
    xp = backend.module_for(device)
    array = xp.array(backend.to_device(data, device) if backend.is_array(data) else data, dtype=dtype)
    if dtype is None and array.dtype.kind == "f":
        array = array.astype(float32, copy=False)
    return _finish(array, requires_grad)


def _filled(fill, shape, dtype, requires_grad, device):
    xp = backend.module_for(device or "cpu")
    return _finish(xp.full(shape_args(shape), fill, dtype=dtype or float32), requires_grad)


def zeros(*shape, dtype=None, requires_grad=False, device=None):
    return _filled(0, shape, dtype, requires_grad, device)


def ones(*shape, dtype=None, requires_grad=False, device=None):
    return _filled(1, shape, dtype, requires_grad, device)


def full(shape, fill_value, dtype=None, requires_grad=False, device=None):
    return _filled(fill_value, (shape,), dtype, requires_grad, device)


def zeros_like(other, dtype=None, requires_grad=False):
    return zeros(other.shape, dtype=dtype or other.dtype, requires_grad=requires_grad, device=other.device)


def ones_like(other, dtype=None, requires_grad=False):
    return ones(other.shape, dtype=dtype or other.dtype, requires_grad=requires_grad, device=other.device)


def arange(start, end=None, step=1, dtype=None, device=None):
    """start, start+step, ... below end (integers stay int64, as in PyTorch)."""
    if end is None:
        start, end = 0, start
    xp = backend.module_for(device or "cpu")
    array = xp.arange(start, end, step, dtype=dtype)
    if dtype is None and array.dtype.kind == "f":
        array = array.astype(float32)
    return Tensor(array)


def rand(*shape, dtype=None, requires_grad=False, device=None):
    """Uniform samples from [0, 1)."""
    array = random.uniform(shape_args(shape), dtype=dtype or float32, device=device or "cpu")
    return _finish(array, requires_grad)


def randn(*shape, dtype=None, requires_grad=False, device=None):
    """Standard normal samples."""
    array = random.normal(shape_args(shape), dtype=dtype or float32, device=device or "cpu")
    return _finish(array, requires_grad)


def linspace(start, end, steps, dtype=None, requires_grad=False, device=None):
    """`steps` evenly spaced values from start to end, both included."""
    xp = backend.module_for(device or "cpu")
    return _finish(xp.linspace(start, end, steps, dtype=dtype or float32), requires_grad)


def eye(n, m=None, dtype=None, requires_grad=False, device=None):
    """The n x m identity matrix (n x n by default)."""
    xp = backend.module_for(device or "cpu")
    return _finish(xp.eye(n, m, dtype=dtype or float32), requires_grad)


def randint(low, high=None, size=None, dtype=None, device=None):
    """Integers drawn uniformly from [low, high): ``randint(high, size)`` or ``randint(low, high, size)``."""
    if size is None:  # randint(high, size), as torch.randint's short form
        low, high, size = 0, low, high
    if size is None:
        raise TypeError("randint() needs a size, e.g. tl.randint(0, 10, (3,))")
    values = random.generator().integers(low, high, size=shape_args((size,)), dtype=dtype or int64)
    return Tensor(backend.to_device(values, device or "cpu"))


def from_numpy(array):
    """A tensor sharing the memory of a NumPy array (no copy, dtype kept: float64 stays float64)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy() needs a numpy.ndarray, got a {type(array).__name__}")
    return Tensor(array)
