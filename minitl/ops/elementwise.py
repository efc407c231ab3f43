"""Elementwise functions of one tensor: y = f(x), so dx = gy * f'(x).

Where f'(x) is cheaper to write with y than with x (exp, sqrt, tanh,
sigmoid), backward keeps y instead of x. The transcendental functions of an
integer tensor are float32, as in PyTorch (not NumPy's float64).
"""
from minitl import backend
from minitl.autograd import Function, Tensor, either
from minitl.kernels import elementwise as elementwise_kernels
from minitl.ops.conversion import cast
from minitl.ops.promotion import DEFAULT_FLOAT, result_dtype


def _floating(x):
    """x itself if floating-point, else x as the default float dtype."""
    return x if x.dtype.kind == "f" else cast(x, DEFAULT_FLOAT)


class Exp(Function):
    """y = e**x;  dx = gy * y."""

    def forward(self, x):
        y = backend.get_array_module(x).exp(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return (gy * y,)


class Log(Function):
    """y = ln x;  dx = gy / x."""

    def forward(self, x):
        self.save_for_backward(x)
        return backend.get_array_module(x).log(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return (gy / x,)


class Log1p(Function):
    """y = ln(1 + x), accurate for tiny x;  dx = gy / (1 + x)."""

    def forward(self, x):
        self.save_for_backward(x)
        return backend.get_array_module(x).log1p(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return (gy / (1 + x),)


class Sqrt(Function):
    """y = sqrt(x);  dx = gy / (2 y)."""

    def forward(self, x):
        y = backend.get_array_module(x).sqrt(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return (gy / (2 * y),)


class Sin(Function):
    """y = sin x;  dx = gy * cos x."""

    def forward(self, x):
        self.save_for_backward(x)
        return backend.get_array_module(x).sin(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return (gy * either.cos(x),)


class Cos(Function):
    """y = cos x;  dx = -gy * sin x."""

    def forward(self, x):
        self.save_for_backward(x)
        return backend.get_array_module(x).cos(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return (-gy * either.sin(x),)


class Abs(Function):
    """y = |x|;  dx = gy * sign(x)  (0 at x = 0, as in PyTorch; sign is a constant to higher derivatives)."""

    def forward(self, x):
        self.sign = backend.get_array_module(x).sign(x)
        return abs(x)

    def backward(self, gy):
        return (gy * self.sign,)


class Tanh(Function):
    """y = tanh x;  dx = gy * (1 - y**2)."""

    def forward(self, x):
        y = backend.get_array_module(x).tanh(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return (gy * (1 - y * y),)


class Sigmoid(Function):
    """y = 1 / (1 + e**-x);  dx = gy * y * (1 - y).

    Computed from e = e**-|x| <= 1, so no exp overflows: y = 1/(1+e) for
    x >= 0 and e/(1+e) for x < 0 (which keeps tiny values accurate).
    """

    def forward(self, x):
        xp = backend.get_array_module(x)
        e = xp.exp(-abs(x))
        y = xp.where(x >= 0, 1 / (1 + e), e / (1 + e))
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return (gy * y * (1 - y),)


class Relu(Function):
    """y = max(x, 0);  dx = gy where x > 0, else 0 (the mask is a constant to higher derivatives).

    The loops are kernels.elementwise's (shared among minitl's threads), beside their plain references.
    """

    def forward(self, x):
        y, self.positive = elementwise_kernels.relu(x)
        return y

    def backward(self, gy):
        if isinstance(gy, Tensor):
            return (gy * self.positive,)
        return (elementwise_kernels.relu_backward(gy, self.positive),)


class Clip(Function):
    """y = min(max(x, low), high);  dx = gy where low <= x <= high (PyTorch's clamp rule)."""

    def __init__(self, low, high):
        self.low, self.high = low, high

    def forward(self, x):
        xp = backend.get_array_module(x)
        self.inside = xp.ones(x.shape, dtype=bool)
        if self.low is not None:
            self.inside &= x >= self.low
        if self.high is not None:
            self.inside &= x <= self.high
        return xp.clip(x, self.low, self.high)

    def backward(self, gy):
        return (gy * self.inside,)


def exp(x):
    return Exp()(_floating(x))


def log(x):
    return Log()(_floating(x))


def log1p(x):
    return Log1p()(_floating(x))


def sqrt(x):
    return Sqrt()(_floating(x))


def sin(x):
    return Sin()(_floating(x))


def cos(x):
    return Cos()(_floating(x))


def abs_(x):
    return Abs()(x)


def tanh(x):
    return Tanh()(_floating(x))


def sigmoid(x):
    return Sigmoid()(_floating(x))


def relu(x):
    return Relu()(x)


def clip(x, min=None, max=None):
    """Clamp to [min, max]; either bound may be None (``torch.clamp``). Float bounds make an integer
    tensor float32, as PyTorch's type promotion does."""
    if min is None and max is None:
        raise ValueError("clip() needs at least one of min and max")
    dtype = result_dtype(x, *[bound for bound in (min, max) if bound is not None])
    return Clip(min, max)(cast(x, dtype))


def _test(name):
    """A non-differentiable elementwise test giving a bool tensor."""
    def test(x):
        return Tensor(getattr(backend.get_array_module(x.data), name)(x.data))
    test.__name__ = name
    test.__doc__ = f"True where x is {name[2:]} (a bool tensor)."
    return test


isnan, isinf, isfinite = _test("isnan"), _test("isinf"), _test("isfinite")
