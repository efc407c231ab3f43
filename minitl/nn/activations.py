"""Activations beyond the core's relu/sigmoid/tanh: leaky ReLU, softmax, log-softmax.

softmax(x)_i = e**x_i / sum_j e**x_j along `dim`. Subtracting max(x) first
changes nothing mathematically but keeps every exponent <= 0, so logits of
1e4 do not overflow:

    log_softmax(x) = (x - m) - log(sum_j e**(x_j - m)),   m = max(x)

Backward (sums along `dim`):
    softmax:      dx = y * (gy - sum(gy * y))
    log_softmax:  dx = gy - softmax(x) * sum(gy)
"""
from minitl import backend
from minitl.autograd import Function


def stable_log_softmax(x, axis):
    """log_softmax of an array, with the max subtracted first."""
    xp = backend.get_array_module(x)
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))


class LeakyReLU(Function):
    """y = x for x > 0, slope * x otherwise;  dx = gy or slope * gy."""

    def __init__(self, slope):
        self.slope = slope

    def forward(self, x):
        self.positive = x > 0
        return backend.get_array_module(x).where(self.positive, x, x * self.slope)

    def backward(self, gy):
        return (backend.get_array_module(gy).where(self.positive, gy, gy * self.slope),)

    def backward_graph(self, gy):
        slopes = backend.get_array_module(self.positive).where(self.positive, 1, self.slope).astype(gy.dtype)
        return (gy * slopes,)  # a constant array: the derivative of the slope is 0


class Softmax(Function):
    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        self.y = backend.get_array_module(x).exp(stable_log_softmax(x, self.axis))
        return self.y

    def backward(self, gy):
        return (self.y * (gy - (gy * self.y).sum(axis=self.axis, keepdims=True)),)

    def backward_graph(self, gy):
        y = Softmax(self.axis)(self.inputs[0])
        return (y * (gy - (gy * y).sum(dim=self.axis, keepdim=True)),)


class LogSoftmax(Function):
    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        self.y = stable_log_softmax(x, self.axis)
        return self.y

    def backward(self, gy):
        xp = backend.get_array_module(gy)
        return (gy - xp.exp(self.y) * gy.sum(axis=self.axis, keepdims=True),)

    def backward_graph(self, gy):
        probabilities = Softmax(self.axis)(self.inputs[0])
        return (gy - probabilities * gy.sum(dim=self.axis, keepdim=True),)


def leaky_relu(x, negative_slope=0.01):
    return LeakyReLU(negative_slope)(x)


def softmax(x, dim):
    """Probabilities along `dim` (required: PyTorch's implicit choice of dim is deprecated)."""
    return Softmax(dim % x.ndim)(x)


def log_softmax(x, dim):
    """Log-probabilities along `dim`, stable for large logits."""
    return LogSoftmax(dim % x.ndim)(x)
