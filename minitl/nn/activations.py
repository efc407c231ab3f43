"""Activations beyond the core's relu/sigmoid/tanh: leaky ReLU, GELU, softmax, log-softmax.

softmax(x)_i = e**x_i / sum_j e**x_j along `dim`. Subtracting max(x) first
changes nothing mathematically but keeps every exponent <= 0, so logits of
1e4 do not overflow:

    log_softmax(x) = (x - m) - log(sum_j e**(x_j - m)),   m = max(x)

Backward (sums along `dim`):
    softmax:      dx = y * (gy - sum(gy * y))
    log_softmax:  dx = gy - softmax(x) * sum(gy)

GELU (Hendrycks & Gimpel 2016) weighs x by the probability that a standard
normal variable is below it, Phi(x) = (1 + erf(x / sqrt(2))) / 2:

    gelu(x) = x Phi(x),   dx = gy (Phi(x) + x phi(x)),   phi(x) = e**(-x**2 / 2) / sqrt(2 pi)

approximate='tanh' replaces Phi(x) by (1 + tanh(u)) / 2, u = sqrt(2 / pi) (x + 0.044715 x**3):

    dx = gy ((1 + tanh(u)) / 2 + x (1 - tanh(u)**2) sqrt(2 / pi) (1 + 3 * 0.044715 x**2) / 2)
"""
import math

from minitl import backend
from minitl.autograd import Function
from minitl.nn.arguments import tensor_argument


def stable_log_softmax(x, axis):
    """log_softmax of an array, with the max subtracted first."""
    xp = backend.get_array_module(x)
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))


def erf(x, terms=60):
    """The error function of an array, to a few ulp in float64 (NumPy has none; this runs on CuPy too).

    |x| < 3: the series erf(x) = 2/sqrt(pi) e**(-x**2) sum_n x (2 x**2)**n / (1 3 5 ... (2n+1)), whose
    terms are all positive (no cancellation); |x| >= 3: erf = 1 - erfc with erfc's continued fraction
    erfc(x) = e**(-x**2) / sqrt(pi) / (x + (1/2) / (x + (2/2) / (x + (3/2) / ...))), evaluated from the tail.
    """
    xp = backend.get_array_module(x)
    size = abs(x)
    small = xp.minimum(size, 3.0)
    term, total, ratio = small.copy(), small.copy(), 2 * small * small
    for n in range(1, terms):
        term *= ratio / (2 * n + 1)
        total += term
    series = (2 / math.sqrt(math.pi)) * xp.exp(-small * small) * total
    large = xp.maximum(size, 3.0)
    fraction = large
    for k in range(terms, 0, -1):
        fraction = large + (k / 2) / fraction
    complement = xp.exp(-large * large) / (math.sqrt(math.pi) * fraction)
    return xp.sign(x) * xp.where(size < 3.0, series, 1 - complement)


class NormalCDF(Function):
    """y = Phi(x) = (1 + erf(x / sqrt(2))) / 2;  dx = gy phi(x)."""

    def forward(self, x):
        return 0.5 * (1 + erf(x / math.sqrt(2)))

    def backward(self, gy):
        x = self.inputs[0].data
        return (gy * backend.get_array_module(x).exp(-0.5 * x * x) / math.sqrt(2 * math.pi),)

    def backward_graph(self, gy):
        x = self.inputs[0]
        return (gy * (-0.5 * x * x).exp() / math.sqrt(2 * math.pi),)


class GELU(Function):
    """y = x Phi(x), exact or with the tanh approximation; see the module docstring."""
    tanh_scale = math.sqrt(2 / math.pi)
    cubic = 0.044715

    def __init__(self, approximate):
        self.approximate = approximate

    def forward(self, x):
        xp = backend.get_array_module(x)
        self.x = x
        if self.approximate == "tanh":
            self.tanh = xp.tanh(self.tanh_scale * (x + self.cubic * x ** 3))
            return 0.5 * x * (1 + self.tanh)
        self.cdf = 0.5 * (1 + erf(x / math.sqrt(2)))
        return x * self.cdf

    def backward(self, gy):
        xp = backend.get_array_module(gy)
        x = self.x
        if self.approximate == "tanh":
            slope = self.tanh_scale * (1 + 3 * self.cubic * x * x)
            return (gy * (0.5 * (1 + self.tanh) + 0.5 * x * (1 - self.tanh * self.tanh) * slope),)
        pdf = xp.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
        return (gy * (self.cdf + x * pdf),)

    def backward_graph(self, gy):
        x = self.inputs[0]
        if self.approximate == "tanh":
            tanh = (self.tanh_scale * (x + self.cubic * x * x * x)).tanh()
            slope = self.tanh_scale * (1 + 3 * self.cubic * x * x)
            return (gy * (0.5 * (1 + tanh) + 0.5 * x * (1 - tanh * tanh) * slope),)
        return (gy * (NormalCDF()(x) + x * (-0.5 * x * x).exp() / math.sqrt(2 * math.pi)),)


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
    return LeakyReLU(negative_slope)(tensor_argument(x, "leaky_relu", "input"))


def gelu(x, approximate="none"):
    """x Phi(x) with Phi the standard normal CDF; approximate='tanh' uses the tanh formula (GPT-2's)."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return GELU(approximate)(tensor_argument(x, "gelu", "input"))


def softmax(x, dim):
    """Probabilities along `dim` (required: PyTorch's implicit choice of dim is deprecated)."""
    x = tensor_argument(x, "softmax", "input")
    return Softmax(dim % x.ndim)(x)


def log_softmax(x, dim):
    """Log-probabilities along `dim`, stable for large logits."""
    x = tensor_argument(x, "log_softmax", "input")
    return LogSoftmax(dim % x.ndim)(x)
