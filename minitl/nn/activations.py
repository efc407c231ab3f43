"""Activations beyond the core's relu/sigmoid/tanh: leaky ReLU, GELU; softmax and log-softmax (from ops.softmax).

GELU (Hendrycks & Gimpel 2016) weighs x by the probability that a standard
normal variable is below it, Phi(x) = (1 + erf(x / sqrt(2))) / 2:

    gelu(x) = x Phi(x),   dx = gy (Phi(x) + x phi(x)),   phi(x) = e**(-x**2 / 2) / sqrt(2 pi)

approximate='tanh' replaces Phi(x) by (1 + tanh(u)) / 2, u = sqrt(2 / pi) (x + 0.044715 x**3):

    dx = gy ((1 + tanh(u)) / 2 + x (1 - tanh(u)**2) sqrt(2 / pi) (1 + 3 * 0.044715 x**2) / 2)
"""
import math

from minitl import backend
from minitl.autograd import Function, either
from minitl.nn.arguments import tensor_argument
from minitl.ops.softmax import log_softmax as log_softmax_op
from minitl.ops.softmax import softmax as softmax_op


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
        self.save_for_backward(x)
        return 0.5 * (1 + erf(x / math.sqrt(2)))

    def backward(self, gy):
        (x,) = self.saved_tensors
        return (gy * either.exp(-0.5 * x * x) / math.sqrt(2 * math.pi),)


class GELUFunction(Function):
    """y = x Phi(x), exact or with the tanh approximation; see the module docstring.

    Backward recomputes Phi(x) (or tanh(u)) from x instead of keeping it: one formula then serves the first
    derivative and, on tensors, the higher ones.
    """
    tanh_scale = math.sqrt(2 / math.pi)
    cubic = 0.044715

    def __init__(self, approximate):
        self.approximate = approximate

    def forward(self, x):
        self.save_for_backward(x)
        if self.approximate == "tanh":
            return 0.5 * x * (1 + backend.get_array_module(x).tanh(self.tanh_scale * (x + self.cubic * x ** 3)))
        return x * NormalCDF().forward(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        if self.approximate == "tanh":
            tanh = either.tanh(self.tanh_scale * (x + self.cubic * x ** 3))
            slope = self.tanh_scale * (1 + 3 * self.cubic * x * x)
            return (gy * (0.5 * (1 + tanh) + 0.5 * x * (1 - tanh * tanh) * slope),)
        pdf = either.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
        return (gy * (NormalCDF().on(x) + x * pdf),)


class LeakyReLUFunction(Function):
    """y = x for x > 0, slope * x otherwise;  dx = gy or slope * gy (the mask is a constant)."""

    def __init__(self, slope):
        self.slope = slope

    def forward(self, x):
        self.positive = x > 0
        return backend.get_array_module(x).where(self.positive, x, x * self.slope)

    def backward(self, gy):
        return (either.where(self.positive, gy, gy * self.slope),)


def leaky_relu(x, negative_slope=0.01):
    return LeakyReLUFunction(negative_slope)(tensor_argument(x, "leaky_relu", "input"))


def gelu(x, approximate="none"):
    """x Phi(x) with Phi the standard normal CDF; approximate='tanh' uses the tanh formula (GPT-2's)."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return GELUFunction(approximate)(tensor_argument(x, "gelu", "input"))


def softmax(x, dim):
    """Probabilities along `dim` (required: PyTorch's implicit choice of dim is deprecated)."""
    return softmax_op(tensor_argument(x, "softmax", "input"), dim)


def log_softmax(x, dim):
    """Log-probabilities along `dim`, stable for large logits."""
    return log_softmax_op(tensor_argument(x, "log_softmax", "input"), dim)
