"""Making tensors: ``tensor`` from data, ``from_numpy``, and the factories (zeros, ones, arange, randn...).

Python floats become float32 unless ``dtype`` asks otherwise: float32 is the
default everywhere, and float64 a deliberate choice (gradient checks, parity
tests). A NumPy array keeps its dtype, as in PyTorch (``tl.tensor(np.zeros(3))``
is float64): write ``dtype=tl.float32`` where float32 is wanted.
"""
import numpy as np

from minitl import backend, random
from minitl.autograd import Tensor
from minitl.ops.shape import shape_args

float16 = np.float16
float32 = np.float32
float64 = np.float64
uint8 = np.uint8
int8 = np.int8
int16 = np.int16
int32 = np.int32
int64 = np.int64
bool_ = np.bool_  # tl.bool (minitl/__init__.py gives the dtypes torch's short names: tl.float, tl.long...)


def get_default_dtype():
    """The dtype of Python floats made into tensors and of the factories: float32."""
    return float32


def is_tensor(obj):
    """True for a minitl Tensor (``torch.is_tensor``)."""
    return isinstance(obj, Tensor)


def numel(x):
    """The number of elements of a tensor."""
    return x.numel()


def _finish(array, requires_grad):
    tensor = Tensor(array)
    return tensor.requires_grad_(True) if requires_grad else tensor


def tensor(data, dtype=None, requires_grad=False, device=None):
    """A new leaf tensor holding a copy of `data` (numbers, nested lists, arrays or a Tensor)."""
    if isinstance(data, Tensor):
        data = data.data
    device = backend.normalize_device(device) or (backend.device_of(data) if backend.is_array(data)
                                                   else backend.get_default_device())
    xp = backend.module_for(device)
    from_array = backend.is_array(data) or isinstance(data, np.generic)  # keeps its dtype, as in PyTorch
    array = xp.array(backend.to_device(data, device) if backend.is_array(data) else data, dtype=dtype)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"tensor(): expected numbers (a number, a nested list of numbers or a numeric array), "
                        f"got data of dtype {array.dtype} ({_first_element(data)!r})")
    if dtype is None and not from_array and array.dtype.kind == "f":
        array = array.astype(float32, copy=False)
    return _finish(array, requires_grad)


def _first_element(data):
    while isinstance(data, (list, tuple)) and data:
        data = data[0]
    return data


def as_tensor(data, dtype=None, device=None):
    """`data` as a tensor, sharing its memory when it already is one (or a NumPy array) of the dtype and
    device asked for; a copy otherwise (``torch.as_tensor``)."""
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype)
    if backend.is_array(data) and (dtype is None or data.dtype == dtype) and (
            device is None or backend.normalize_device(device) == backend.device_of(data)):
        return Tensor(data)
    return tensor(data, dtype=dtype, device=device)


def _filled(fill, shape, dtype, requires_grad, device):
    xp = backend.module_for(device or backend.get_default_device())
    return _finish(xp.full(shape_args(shape), fill, dtype=dtype or float32), requires_grad)


def zeros(*shape, dtype=None, requires_grad=False, device=None):
    return _filled(0, shape, dtype, requires_grad, device)


def ones(*shape, dtype=None, requires_grad=False, device=None):
    return _filled(1, shape, dtype, requires_grad, device)


def full(shape, fill_value, dtype=None, requires_grad=False, device=None):
    return _filled(fill_value, (shape,), dtype, requires_grad, device)


def empty(*shape, dtype=None, requires_grad=False, device=None):
    """A new tensor of `shape` (minitl fills it with zeros; torch leaves whatever was in memory)."""
    return _filled(0, shape, dtype, requires_grad, device)


def zeros_like(other, dtype=None, requires_grad=False, device=None):
    return zeros(other.shape, dtype=dtype or other.dtype, requires_grad=requires_grad, device=device or other.device)


def ones_like(other, dtype=None, requires_grad=False, device=None):
    return ones(other.shape, dtype=dtype or other.dtype, requires_grad=requires_grad, device=device or other.device)


def empty_like(other, dtype=None, requires_grad=False, device=None):
    return zeros_like(other, dtype, requires_grad, device)


def full_like(other, fill_value, dtype=None, requires_grad=False, device=None):
    return full(other.shape, fill_value, dtype=dtype or other.dtype, requires_grad=requires_grad,
                device=device or other.device)


def rand_like(other, dtype=None, requires_grad=False, device=None, generator=None):
    return rand(other.shape, dtype=dtype or other.dtype, requires_grad=requires_grad, device=device or other.device,
                generator=generator)


def randn_like(other, dtype=None, requires_grad=False, device=None, generator=None):
    return randn(other.shape, dtype=dtype or other.dtype, requires_grad=requires_grad, device=device or other.device,
                 generator=generator)


def arange(start, end=None, step=1, dtype=None, device=None):
    """start, start+step, ... below end (integers stay int64, as in PyTorch)."""
    if end is None:
        start, end = 0, start
    xp = backend.module_for(device or backend.get_default_device())
    array = xp.arange(start, end, step, dtype=dtype)
    if dtype is None and array.dtype.kind == "f":
        array = array.astype(float32)
    return Tensor(array)


def rand(*shape, dtype=None, requires_grad=False, device=None, generator=None):
    """Uniform samples from [0, 1)."""
    array = random.uniform(shape_args(shape), dtype=dtype or float32, device=device or backend.get_default_device(),
                           generator=generator)
    return _finish(array, requires_grad)


def randn(*shape, dtype=None, requires_grad=False, device=None, generator=None):
    """Standard normal samples."""
    array = random.normal(shape_args(shape), dtype=dtype or float32, device=device or backend.get_default_device(),
                          generator=generator)
    return _finish(array, requires_grad)


def randperm(n, *, dtype=None, device=None, generator=None):
    """A random permutation of 0, 1, ..., n - 1 (int64)."""
    values = random.rng_of(generator).permutation(n).astype(dtype or int64)
    return Tensor(backend.to_device(values, device or backend.get_default_device()))


def linspace(start, end, steps, dtype=None, requires_grad=False, device=None):
    """`steps` evenly spaced values from start to end, both included."""
    xp = backend.module_for(device or backend.get_default_device())
    return _finish(xp.linspace(start, end, steps, dtype=dtype or float32), requires_grad)


def eye(n, m=None, dtype=None, requires_grad=False, device=None):
    """The n x m identity matrix (n x n by default)."""
    xp = backend.module_for(device or backend.get_default_device())
    return _finish(xp.eye(n, m, dtype=dtype or float32), requires_grad)


def randint(low, high=None, size=None, dtype=None, device=None, generator=None):
    """Integers drawn uniformly from [low, high): ``randint(high, size)`` or ``randint(low, high, size)``."""
    if size is None:  # randint(high, size), as torch.randint's short form
        low, high, size = 0, low, high
    if size is None:
        raise TypeError("randint() needs a size, e.g. tl.randint(0, 10, (3,))")
    values = random.rng_of(generator).integers(low, high, size=shape_args((size,)), dtype=dtype or int64)
    return Tensor(backend.to_device(values, device or backend.get_default_device()))


def from_numpy(array):
    """A tensor sharing the memory of a NumPy array (no copy, dtype kept: float64 stays float64)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy() needs a numpy.ndarray, got a {type(array).__name__}")
    return Tensor(array)
