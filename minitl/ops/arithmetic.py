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
from minitl.autograd import Function, Tensor
from minitl.ops.promotion import promote
from minitl.ops.shape import where


class Add(Function):
    """y = a + b;  da = gy, db = gy."""

    def forward(self, a, b):
        return a + b

    def backward(self, gy):
        return gy, gy

    backward_graph = backward


class Sub(Function):
    """y = a - b;  da = gy, db = -gy."""

    def forward(self, a, b):
        return a - b

    def backward(self, gy):
        return gy, -gy

    backward_graph = backward


class Mul(Function):
    """y = a * b;  da = gy * b, db = gy * a."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, gy):
        return gy * self.b, gy * self.a

    def backward_graph(self, gy):
        a, b = self.inputs
        return gy * b, gy * a


class Div(Function):
    """y = a / b;  da = gy / b, db = -gy * a / b**2."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return a / b

    def backward(self, gy):
        return self._gradients(gy, self.a, self.b)

    def backward_graph(self, gy):
        return self._gradients(gy, *self.inputs)

    def _gradients(self, gy, a, b):
        """The formulas, for arrays (backward) and for tensors (backward_graph) alike."""
        ga = gy / b if self.needs_input_grad[0] else None
        gb = -gy * a / (b * b) if self.needs_input_grad[1] else None
        return ga, gb


class Pow(Function):
    """y = a ** b;  da = gy * b * a**(b-1), db = gy * y * ln(a).

    As in PyTorch, da is 0 where b = 0 (also at a = 0, where a**(b-1) is
    infinite) and db is 0 where a = 0 and b >= 0 (where ln(a) is -inf).
    """

    def forward(self, a, b):
        self.a, self.b = a, b
        self.y = a ** b
        return self.y

    def backward(self, gy):
        a, b = self.a, self.b
        xp = backend.get_array_module(gy)
        ga = gb = None
        if self.needs_input_grad[0]:
            exponent_zero = b == 0
            if exponent_zero.any():
                with np.errstate(divide="ignore", invalid="ignore"):  # 0 ** -1, masked out right away
                    ga = gy * xp.where(exponent_zero, 0, b * a ** (b - 1))
            else:
                ga = gy * b * a ** (b - 1)
        if self.needs_input_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore"):  # log(0), masked out right away
                gb = gy * xp.where((a == 0) & (b >= 0), 0, self.y * xp.log(a))
        return ga, gb

    def backward_graph(self, gy):
        """The same masks; the masked places get a harmless exponent (1) and base (1), so that no
        infinity enters the recorded graph (0 * inf would turn higher derivatives into NaN)."""
        a, b = self.inputs
        ga = gb = None
        if self.needs_input_grad[0]:
            exponent_zero = b.data == 0
            exponent = where(exponent_zero, 1, b)
            ga = gy * where(exponent_zero, 0, exponent * a ** (exponent - 1))
        if self.needs_input_grad[1]:
            base_zero = (a.data == 0) & (b.data >= 0)
            gb = gy * where(base_zero, 0, a ** b * where(base_zero, 1, a).log())
        return ga, gb


class Neg(Function):
    """y = -x;  dx = -gy."""

    def forward(self, x):
        return -x

    def backward(self, gy):
        return (-gy,)

    backward_graph = backward


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
