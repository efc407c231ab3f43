"""Elementwise arithmetic with NumPy broadcasting: + - * / ** and unary minus, and comparisons.

Operands are first brought to one dtype by PyTorch's type promotion
(``ops.promotion``): Python numbers become constants that never upcast a
tensor of their category, so ``x * 0.5`` stays float32. Either operand may
be a Tensor, a number or a NumPy array (``2 - x``, ``ndarray * x``).

Backward returns gradients of the broadcast shape: the engine sums each one
back to its input's shape (``autograd.sum_to``), so ``Add.backward`` is just
``gy, gy``.
"""
import numpy as np

from minitl import backend
from minitl.autograd import Function, Tensor, either
from minitl.ops.promotion import promote


class Add(Function):
    """y = a + b;  da = gy, db = gy."""

    def forward(self, a, b):
        return a + b

    def backward(self, gy):
        return gy, gy


class Sub(Function):
    """y = a - b;  da = gy, db = -gy."""

    def forward(self, a, b):
        return a - b

    def backward(self, gy):
        return gy, -gy


class Mul(Function):
    """y = a * b;  da = gy * b, db = gy * a."""

    def forward(self, a, b):
        self.save_for_backward(a, b)
        return a * b

    def backward(self, gy):
        a, b = self.saved_tensors
        return gy * b, gy * a


class Div(Function):
    """y = a / b;  da = gy / b, db = -gy * a / b**2."""

    def forward(self, a, b):
        self.save_for_backward(a, b)
        return a / b

    def backward(self, gy):
        a, b = self.saved_tensors
        ga = gy / b if self.needs_input_grad[0] else None
        gb = -gy * a / (b * b) if self.needs_input_grad[1] else None
        return ga, gb


class Pow(Function):
    """y = a ** b;  da = gy * b * a**(b-1), db = gy * y * ln(a).

    As in PyTorch, da is 0 where b = 0 (also at a = 0, where a**(b-1) is
    infinite) and db is 0 where a = 0 and b >= 0 (where ln(a) is -inf). The
    masked places first get a harmless exponent (1) and base (1), so that no
    infinity enters a recorded graph (0 * inf would make higher derivatives NaN).
    """

    def forward(self, a, b):
        y = a ** b
        self.exponent_zero, self.base_zero = b == 0, (a == 0) & (b >= 0)
        self.save_for_backward(a, b, y)
        return y

    def backward(self, gy):
        a, b, y = self.saved_tensors
        ga = gb = None
        if self.needs_input_grad[0]:
            if self.exponent_zero.any():
                exponent = either.where(self.exponent_zero, 1, b)
                ga = gy * either.where(self.exponent_zero, 0, exponent * a ** (exponent - 1))
            else:
                ga = gy * b * a ** (b - 1)
        if self.needs_input_grad[1]:
            with np.errstate(invalid="ignore"):  # ln of a negative base is NaN, as in PyTorch
                gb = gy * either.where(self.base_zero, 0, y * either.log(either.where(self.base_zero, 1, a)))
        return ga, gb


class Neg(Function):
    """y = -x;  dx = -gy."""

    def forward(self, x):
        return -x

    def backward(self, gy):
        return (-gy,)


def add(a, b):
    return Add()(*promote("add", a, b))


def sub(a, b):
    return Sub()(*promote("sub", a, b))


def mul(a, b):
    return Mul()(*promote("mul", a, b))


def div(a, b):
    """True division: integer operands give the default float dtype (float32)."""
    return Div()(*promote("div", a, b, floating=True))


def pow(a, b):
    return Pow()(*promote("pow", a, b))


def neg(x):
    return Neg()(x)


def _comparison(name, array_op):
    """A non-differentiable elementwise comparison giving a bool tensor."""
    def compare(a, b):
        a, b = promote(name, a, b)
        return Tensor(array_op(a.data, b.data))
    compare.__name__ = name
    return compare


eq = _comparison("eq", lambda a, b: a == b)
ne = _comparison("ne", lambda a, b: a != b)
lt = _comparison("lt", lambda a, b: a < b)
le = _comparison("le", lambda a, b: a <= b)
gt = _comparison("gt", lambda a, b: a > b)
ge = _comparison("ge", lambda a, b: a >= b)


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """True when |a - b| <= atol + rtol * |b| everywhere (a Python bool, as ``torch.allclose``)."""
    a, b = promote("allclose", a, b)
    xp = backend.get_array_module(a.data)
    return bool(xp.allclose(a.data, b.data, rtol=rtol, atol=atol, equal_nan=equal_nan))
