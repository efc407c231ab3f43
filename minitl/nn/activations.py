"""Activations beyond the core's relu/sigmoid/tanh: leaky ReLU, GELU, ELU, SiLU, softplus, hardtanh, PReLU;
softmax and log-softmax (from ops.softmax). `inplace=True` works as PyTorch's: the input then stands for the
result (refused on a leaf that requires grad, recorded in the graph otherwise; see ``ops.inplace``).

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
from minitl.ops import elementwise
from minitl.ops.elementwise import Sigmoid
from minitl.ops.inplace import _in_place
from minitl.ops.shape import where
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


class ELUFunction(Function):
    """y = x for x > 0, alpha (e**x - 1) otherwise;  dx = gy for x > 0, gy alpha e**x otherwise.

    e**x is taken of x times the (constant) mask of x <= 0, so a large positive x never overflows it.
    """

    def __init__(self, alpha):
        self.alpha = alpha

    def forward(self, x):
        self.save_for_backward(x)
        xp = backend.get_array_module(x)
        self.negative = (x <= 0).astype(x.dtype)
        return xp.where(x > 0, x, self.alpha * xp.expm1(x * self.negative))

    def backward(self, gy):
        (x,) = self.saved_tensors
        return (either.where(self.negative > 0, gy * self.alpha * either.exp(x * self.negative), gy),)


class SoftplusFunction(Function):
    """y = log(1 + e**(beta x)) / beta, or x where beta x > threshold (PyTorch's linear region);
    dx = gy sigmoid(beta x), or gy in the linear region."""

    def __init__(self, beta, threshold):
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        xp = backend.get_array_module(x)
        self.save_for_backward(x)
        self.linear = self.beta * x > self.threshold
        return xp.where(self.linear, x, xp.logaddexp(0, self.beta * x) / self.beta).astype(x.dtype, copy=False)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return (either.where(self.linear, gy, gy * Sigmoid().on(self.beta * x)),)


def _maybe_in_place(x, inplace, name, function):
    """function(x), or with `inplace` x made to stand for it (``x.relu_()``'s rules)."""
    if not inplace:
        return function(x)
    return _in_place(x, name, lambda a, _: function(a), None)


def relu(input, inplace=False):
    """max(x, 0)."""
    return _maybe_in_place(tensor_argument(input, "relu", "input"), inplace, "relu_", elementwise.relu)


def leaky_relu(x, negative_slope=0.01, inplace=False):
    """x for x > 0, negative_slope * x otherwise."""
    return _maybe_in_place(tensor_argument(x, "leaky_relu", "input"), inplace, "leaky_relu_",
                           LeakyReLUFunction(negative_slope))


def elu(input, alpha=1.0, inplace=False):
    """x for x > 0, alpha (e**x - 1) otherwise (Clevert et al. 2015)."""
    return _maybe_in_place(tensor_argument(input, "elu", "input"), inplace, "elu_", ELUFunction(alpha))


def silu(input, inplace=False):
    """x sigmoid(x) (the swish of Ramachandran et al. 2017), composed of differentiable ops."""
    tensor_argument(input, "silu", "input")
    return _maybe_in_place(input, inplace, "silu_", lambda x: x * elementwise.sigmoid(x))


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + e**(beta x)) / beta, a smooth relu; x itself where beta x > threshold."""
    return SoftplusFunction(beta, threshold)(tensor_argument(input, "softplus", "input"))


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """x clamped to [min_val, max_val] (``clamp``'s gradient: 1 inside, boundaries included)."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return _maybe_in_place(tensor_argument(input, "hardtanh", "input"), inplace, "hardtanh_",
                           lambda x: elementwise.clip(x, min_val, max_val))


def prelu(input, weight):
    """x for x > 0, a x otherwise, with a learned slope `weight`: one (shape (1,)) or one per channel (dim 1)."""
    tensor_argument(input, "prelu", "input")
    tensor_argument(weight, "prelu", "weight")
    if weight.numel() != 1:
        if input.ndim < 2 or input.shape[1] != weight.numel():
            raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found parameter numbers = "
                               f"{weight.numel()} and channel size = {input.shape[1] if input.ndim > 1 else 1}.")
        weight = weight.reshape((-1,) + (1,) * (input.ndim - 2))
    return where(input.data > 0, input, weight * input)


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
