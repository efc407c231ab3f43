"""Elementwise functions of one tensor: y = f(x), so dx = gy * f'(x).

Where f'(x) is cheaper to write with y than with x (exp, sqrt, tanh,
sigmoid), backward keeps y instead of x. The transcendental functions of an
integer tensor are float32, as in PyTorch (not NumPy's float64).
"""
from minitl import backend, threads
from minitl.autograd import Function
from minitl.ops.conversion import cast
from minitl.ops.promotion import DEFAULT_FLOAT


def _floating(x):
    """x itself if floating-point, else x as the default float dtype."""
    return x if x.dtype.kind == "f" else cast(x, DEFAULT_FLOAT)


class Exp(Function):
    """y = e**x;  dx = gy * y."""

    def forward(self, x):
        self.y = backend.get_array_module(x).exp(x)
        return self.y

    def backward(self, gy):
        return (gy * self.y,)

    def backward_graph(self, gy):
        return (gy * exp(self.inputs[0]),)


class Log(Function):
    """y = ln x;  dx = gy / x."""

    def forward(self, x):
        self.x = x
        return backend.get_array_module(x).log(x)

    def backward(self, gy):
        return (gy / self.x,)

    def backward_graph(self, gy):
        return (gy / self.inputs[0],)


class Sqrt(Function):
    """y = sqrt(x);  dx = gy / (2 y)."""

    def forward(self, x):
        self.y = backend.get_array_module(x).sqrt(x)
        return self.y

    def backward(self, gy):
        return (gy / (2 * self.y),)

    def backward_graph(self, gy):
        return (gy / (2 * sqrt(self.inputs[0])),)


class Sin(Function):
    """y = sin x;  dx = gy * cos x."""

    def forward(self, x):
        self.x = x
        return backend.get_array_module(x).sin(x)

    def backward(self, gy):
        return (gy * backend.get_array_module(gy).cos(self.x),)

    def backward_graph(self, gy):
        return (gy * cos(self.inputs[0]),)


class Cos(Function):
    """y = cos x;  dx = -gy * sin x."""

    def forward(self, x):
        self.x = x
        return backend.get_array_module(x).cos(x)

    def backward(self, gy):
        return (-gy * backend.get_array_module(gy).sin(self.x),)

    def backward_graph(self, gy):
        return (-gy * sin(self.inputs[0]),)


class Abs(Function):
    """y = |x|;  dx = gy * sign(x)  (0 at x = 0, as in PyTorch)."""

    def forward(self, x):
        self.x = x
        return abs(x)

    def backward(self, gy):
        return (gy * backend.get_array_module(gy).sign(self.x),)

    backward_graph = backward  # sign(x) is a constant array: gy * array is recorded


class Tanh(Function):
    """y = tanh x;  dx = gy * (1 - y**2)."""

    def forward(self, x):
        self.y = backend.get_array_module(x).tanh(x)
        return self.y

    def backward(self, gy):
        return (gy * (1 - self.y * self.y),)

    def backward_graph(self, gy):
        y = tanh(self.inputs[0])
        return (gy * (1 - y * y),)


class Sigmoid(Function):
    """y = 1 / (1 + e**-x);  dx = gy * y * (1 - y).

    Computed from e = e**-|x| <= 1, so no exp overflows: y = 1/(1+e) for
    x >= 0 and e/(1+e) for x < 0 (which keeps tiny values accurate).
    """

    def forward(self, x):
        xp = backend.get_array_module(x)
        e = xp.exp(-abs(x))
        self.y = xp.where(x >= 0, 1 / (1 + e), e / (1 + e))
        return self.y

    def backward(self, gy):
        return (gy * self.y * (1 - self.y),)

    def backward_graph(self, gy):
        y = sigmoid(self.inputs[0])
        return (gy * y * (1 - y),)


class ReLU(Function):
    """y = max(x, 0);  dx = gy where x > 0, else 0."""

    def forward(self, x):
        xp = backend.get_array_module(x)
        y, self.positive = xp.empty_like(x), xp.empty(x.shape, dtype=bool)

        def relu_rows(rows):  # any block of rows on any thread: every element is on its own
            xp.greater(x[rows], 0, out=self.positive[rows])
            xp.maximum(x[rows], 0, out=y[rows])
        threads.parallel_map(relu_rows, threads.rows(x))
        return y

    def backward(self, gy):
        xp = backend.get_array_module(gy)
        gx = xp.empty_like(gy)
        threads.parallel_map(lambda rows: xp.multiply(gy[rows], self.positive[rows], out=gx[rows]), threads.rows(gy))
        return (gx,)

    def backward_graph(self, gy):
        return (gy * self.positive,)  # recorded: the mask is a constant


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

    backward_graph = backward


def exp(x):
    return Exp()(_floating(x))


def log(x):
    return Log()(_floating(x))


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
    return ReLU()(x)


def clip(x, min=None, max=None):
    """Clamp to [min, max]; either bound may be None (``torch.clamp``)."""
    if min is None and max is None:
        raise ValueError("clip() needs at least one of min and max")
    return Clip(min, max)(x)
