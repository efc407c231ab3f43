"""The few functions a backward formula calls, for an array or a Tensor alike.

A Function's ``backward`` is written once (see function.py): in a first-order
backward its values are arrays, under create_graph they are Tensors. Operators
(``gy * y``, ``a @ b``, ``x.sum(axis=1, keepdims=True)``) already work on both;
these functions cover the rest. Each takes the array path with the backend
module (NumPy or CuPy) and the Tensor path with the recorded op, so a formula
such as ``gy * either.cos(x)`` is differentiable again under create_graph.
"""
from minitl import backend
from minitl.autograd.tensor import Tensor


def array(x):
    """The values of x as an array (a Tensor's .data): for masks and conditions, which are constants."""
    return x.data if isinstance(x, Tensor) else x


def exp(x):
    return x.exp() if isinstance(x, Tensor) else backend.get_array_module(x).exp(x)


def log(x):
    return x.log() if isinstance(x, Tensor) else backend.get_array_module(x).log(x)


def log1p(x):
    return x.log1p() if isinstance(x, Tensor) else backend.get_array_module(x).log1p(x)


def relu(x):
    """max(x, 0)."""
    return x.relu() if isinstance(x, Tensor) else backend.get_array_module(x).maximum(x, 0)


def cos(x):
    return x.cos() if isinstance(x, Tensor) else backend.get_array_module(x).cos(x)


def sin(x):
    return x.sin() if isinstance(x, Tensor) else backend.get_array_module(x).sin(x)


def tanh(x):
    return x.tanh() if isinstance(x, Tensor) else backend.get_array_module(x).tanh(x)


def sign(x):
    """sign(x) as a constant array (its derivative is 0 wherever it exists), for an array or a Tensor."""
    values = array(x)
    return backend.get_array_module(values).sign(values)


def where(condition, a, b):
    """a where `condition` (a constant bool array) is true, else b; either may be a number."""
    if isinstance(a, Tensor):
        return a.where(condition, b)
    if isinstance(b, Tensor):
        return b.where(~condition, a)
    return backend.get_array_module(condition).where(condition, a, b)


def broadcast_to(x, shape):
    return x.expand(shape) if isinstance(x, Tensor) else backend.get_array_module(x).broadcast_to(x, shape)


def to_device(x, device):
    """x moved to `device` ('cpu' or 'cuda'): a differentiable copy for a Tensor."""
    return x.to(device) if isinstance(x, Tensor) else backend.to_device(x, device)
