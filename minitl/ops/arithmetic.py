"""Elementwise arithmetic with NumPy broadcasting: + - * / ** and unary minus.

Broadcasting stretches an input of shape (3, 1) to (3, 4) in the forward
pass, so each of its elements is used 4 times: its gradient is the *sum* of
the 4 upstream gradients. ``sum_to`` undoes broadcasting that way.

A Python number in an operation (``x * 2``) becomes a constant tensor of x's
dtype, so float32 stays float32; constants get no gradient.
"""
from minitl import backend
from minitl.autograd import Function, Tensor


def sum_to(grad, shape):
    """Sum `grad` down to `shape`, reversing NumPy broadcasting."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)  # leading axes that broadcasting added
    stretched = tuple(extra + i for i, n in enumerate(shape) if n == 1 and grad.shape[extra + i] != 1)
    grad = grad.sum(axis=tuple(range(extra)) + stretched, keepdims=True)
    return grad.reshape(shape)


def as_tensor(value, like):
    """`value` as a tensor on like's device: Tensors pass through, numbers become constants.

    A float constant takes like's floating dtype (``x * 0.5`` stays float32);
    with an integer tensor it takes the default float32, as in PyTorch.
    """
    if isinstance(value, Tensor):
        return value
    xp = backend.get_array_module(like.data)
    if like.dtype.kind == "f":
        dtype = like.dtype
    else:
        dtype = xp.result_type(like.dtype, value)
        if dtype.kind == "f":
            dtype = xp.float32
    return Tensor(xp.asarray(value, dtype=dtype))


class Add(Function):
    """y = a + b;  da = gy, db = gy (summed back over broadcast axes)."""

    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        return a + b

    def backward(self, gy):
        ga = sum_to(gy, self.shapes[0]) if self.needs_input_grad[0] else None
        gb = sum_to(gy, self.shapes[1]) if self.needs_input_grad[1] else None
        return ga, gb


class Sub(Function):
    """y = a - b;  da = gy, db = -gy."""

    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        return a - b

    def backward(self, gy):
        ga = sum_to(gy, self.shapes[0]) if self.needs_input_grad[0] else None
        gb = sum_to(-gy, self.shapes[1]) if self.needs_input_grad[1] else None
        return ga, gb


class Mul(Function):
    """y = a * b;  da = gy * b, db = gy * a."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, gy):
        a, b = self.a, self.b
        ga = sum_to(gy * b, a.shape) if self.needs_input_grad[0] else None
        gb = sum_to(gy * a, b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class Div(Function):
    """y = a / b;  da = gy / b, db = -gy * a / b**2."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return a / b

    def backward(self, gy):
        a, b = self.a, self.b
        ga = sum_to(gy / b, a.shape) if self.needs_input_grad[0] else None
        gb = sum_to(-gy * a / (b * b), b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class Pow(Function):
    """y = a ** b;  da = gy * b * a**(b-1), db = gy * y * log(a)."""

    def forward(self, a, b):
        self.a, self.b = a, b
        self.y = a ** b
        return self.y

    def backward(self, gy):
        a, b = self.a, self.b
        ga = sum_to(gy * b * a ** (b - 1), a.shape) if self.needs_input_grad[0] else None
        gb = None
        if self.needs_input_grad[1]:
            xp = backend.get_array_module(a)
            gb = sum_to(gy * self.y * xp.log(a), b.shape)
        return ga, gb


class Neg(Function):
    """y = -x;  dx = -gy."""

    def forward(self, x):
        return -x

    def backward(self, gy):
        return (-gy,)


def add(a, b):
    return Add()(a, as_tensor(b, a))


def sub(a, b):
    return Sub()(a, as_tensor(b, a))


def rsub(a, b):
    """b - a, for ``2 - x``."""
    return Sub()(as_tensor(b, a), a)


def mul(a, b):
    return Mul()(a, as_tensor(b, a))


def div(a, b):
    return Div()(a, as_tensor(b, a))


def rdiv(a, b):
    """b / a, for ``1 / x``."""
    return Div()(as_tensor(b, a), a)


def pow(a, b):
    return Pow()(a, as_tensor(b, a))


def rpow(a, b):
    """b ** a, for ``2 ** x``."""
    return Pow()(as_tensor(b, a), a)


def neg(x):
    return Neg()(x)


def _comparison(array_op):
    """A non-differentiable elementwise comparison giving a bool tensor."""
    def compare(a, b):
        return Tensor(array_op(a.data, as_tensor(b, a).data))
    return compare


eq = _comparison(lambda a, b: a == b)
ne = _comparison(lambda a, b: a != b)
lt = _comparison(lambda a, b: a < b)
le = _comparison(lambda a, b: a <= b)
gt = _comparison(lambda a, b: a > b)
ge = _comparison(lambda a, b: a >= b)
