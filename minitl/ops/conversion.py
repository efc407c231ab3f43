"""Copies to another device or dtype, differentiable: the gradient goes back to where the value came from.

``to`` accepts PyTorch's forms: ``x.to(dtype)``, ``x.to(device)``,
``x.to(device, dtype)``, ``x.to(other_tensor)`` and the keywords.
"""
import numpy as np

from minitl import backend
from minitl.autograd import Function, Tensor, either


class Copy(Function):
    """y = x on another device and/or with another dtype;  dx = gy (the engine moves and casts it back)."""

    def __init__(self, device, dtype):
        self.device, self.dtype = device, dtype

    def forward(self, x):
        self.x_device = backend.device_of(x)
        return backend.to_device(x, self.device).astype(self.dtype, copy=False)

    def backward(self, gy):
        return (either.to_device(gy, self.x_device),)


class Clone(Function):
    """y = a copy of x;  dx = gy."""

    def forward(self, x):
        return x.copy()

    def backward(self, gy):
        return (gy,)


def clone(x):
    """A copy with its own array, differentiable (``x.clone()``)."""
    return Clone()(x)


def _is_dtype(value):
    """True for what names a dtype (tl.float64, np.dtype('float32'), 'float64'); devices ('cpu') are not."""
    try:
        np.dtype(value)
    except TypeError:
        return False
    return value is not None


def to(x, *args, device=None, dtype=None):
    """x on `device` with `dtype` (either may be None: unchanged); x itself if nothing changes."""
    for arg in args:
        if isinstance(arg, Tensor):
            device, dtype = arg.device, arg.dtype
        elif _is_dtype(arg):
            dtype = arg
        else:
            device = arg
    device = backend.normalize_device(device) or x.device
    dtype = x.dtype if dtype is None else np.dtype(dtype)
    if device == x.device and dtype == x.dtype:
        return x
    return Copy(device, dtype)(x)


def cast(x, dtype):
    """x as `dtype`, differentiably; x itself when it already has it."""
    return x if x.dtype == dtype else Copy(x.device, dtype)(x)
