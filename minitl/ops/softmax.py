"""Softmax and log-softmax along one dimension, stable for large logits.

softmax(x)_i = e**x_i / sum_j e**x_j along `dim`. Subtracting max(x) first
changes nothing mathematically but keeps every exponent <= 0, so logits of
1e4 do not overflow:

    log_softmax(x) = (x - m) - log(sum_j e**(x_j - m)),   m = max(x)

Backward (sums along `dim`):
    softmax:      dx = y * (gy - sum(gy * y))
    log_softmax:  dx = gy - e**y * sum(gy)          (e**y is softmax(x))
"""
from minitl import backend
from minitl.autograd import Function, either


def stable_log_softmax(x, axis):
    """log_softmax of an array, with the max subtracted first."""
    xp = backend.get_array_module(x)
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))


class SoftmaxFunction(Function):
    """y = softmax(x) along `axis`;  dx = y * (gy - sum(gy * y))."""

    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        y = backend.get_array_module(x).exp(stable_log_softmax(x, self.axis))
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return (y * (gy - (gy * y).sum(axis=self.axis, keepdims=True)),)


class LogSoftmaxFunction(Function):
    """y = log_softmax(x) along `axis`;  dx = gy - e**y * sum(gy)."""

    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        y = stable_log_softmax(x, self.axis)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return (gy - either.exp(y) * gy.sum(axis=self.axis, keepdims=True),)


def _floating_only(x, name):
    """torch's error for an integer input (NumPy would compute it in float64)."""
    if x.dtype.kind != "f":
        raise NotImplementedError(f"{name}(): not implemented for dtype {x.dtype}: convert the input with .float()")


def softmax(x, dim):
    """Probabilities along `dim` (required: PyTorch's implicit choice of dim is deprecated)."""
    _floating_only(x, "softmax")
    return SoftmaxFunction(dim % x.ndim)(x)


def log_softmax(x, dim):
    """Log-probabilities along `dim`, stable for large logits."""
    _floating_only(x, "log_softmax")
    return LogSoftmaxFunction(dim % x.ndim)(x)
