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


class Maximum(Function):
    """y = max(a, b) elementwise (min(a, b) with largest=False);  da = gy where a wins, db = gy where b wins,
    and gy / 2 to each where they tie (PyTorch's rule)."""

    def __init__(self, largest):
        self.largest = largest

    def forward(self, a, b):
        xp = backend.get_array_module(a)
        wins = a > b if self.largest else a < b
        dtype = xp.result_type(a, b) if xp.result_type(a, b).kind == "f" else xp.float32
        self.a_share = xp.where(wins, 1, xp.where(a == b, 0.5, 0)).astype(dtype)  # a constant mask
        return xp.maximum(a, b) if self.largest else xp.minimum(a, b)

    def backward(self, gy):
        return gy * self.a_share, gy * (1 - self.a_share)


class Remainder(Function):
    """y = a - b * floor(a / b) (the sign of b, Python's %);  da = gy, db = -gy * floor(a / b)."""

    def forward(self, a, b):
        xp = backend.get_array_module(a)
        self.quotient = xp.floor_divide(a, b)  # a constant: floor is flat almost everywhere
        return xp.remainder(a, b)

    def backward(self, gy):
        return gy, -gy * self.quotient


class FloorDivide(Function):
    """y = floor(a / b) (or a / b rounded toward zero: mode 'trunc');  da = db = 0 (a step function)."""

    def __init__(self, mode):
        self.mode = mode

    def forward(self, a, b):
        xp = backend.get_array_module(a)
        if self.mode == "floor":
            return xp.floor_divide(a, b)
        quotient = a / b
        return xp.trunc(quotient).astype(xp.result_type(a, b), copy=False)

    def backward(self, gy):
        return gy * 0, gy * 0


class Neg(Function):
    """y = -x;  dx = -gy."""

    def forward(self, x):
        return -x

    def backward(self, gy):
        return (-gy,)


def add(a, b, *, alpha=1):
    """a + alpha * b."""
    return Add()(*promote("add", a, b if alpha == 1 else b * alpha))


def sub(a, b, *, alpha=1):
    """a - alpha * b."""
    return Sub()(*promote("sub", a, b if alpha == 1 else b * alpha))


def mul(a, b):
    return Mul()(*promote("mul", a, b))


def div(a, b, *, rounding_mode=None):
    """True division: integer operands give the default float dtype (float32); rounding_mode 'floor' or
    'trunc' rounds the quotient and keeps the operands' dtype, as in PyTorch."""
    if rounding_mode is None:
        return Div()(*promote("div", a, b, floating=True))
    if rounding_mode not in ("floor", "trunc"):
        raise ValueError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
                         f"'{rounding_mode}'")
    return _rounded_division(a, b, rounding_mode)


def _integer_operands(name, a, b):
    """a and b promoted; integer division by zero refused with torch's error (NumPy would warn and give 0)."""
    a, b = promote(name, a, b)
    if a.dtype.kind != "f" and not (b.data != 0).all():
        raise RuntimeError("ZeroDivisionError")
    return a, b


def _rounded_division(a, b, mode):
    return FloorDivide(mode)(*_integer_operands("div", a, b))


def floor_divide(a, b):
    """a // b: the quotient rounded down (Python's rule), in the operands' dtype."""
    return _rounded_division(a, b, "floor")


def remainder(a, b):
    """a % b, with the sign of b (Python's rule, ``torch.remainder``)."""
    return Remainder()(*_integer_operands("remainder", a, b))


def maximum(a, b):
    """The larger of a and b elementwise (ties share the gradient)."""
    return Maximum(largest=True)(*promote("maximum", a, b))


def minimum(a, b):
    """The smaller of a and b elementwise (ties share the gradient)."""
    return Maximum(largest=False)(*promote("minimum", a, b))


def pow(a, b):
    a, b = promote("pow", a, b)
    if b.dtype.kind in "iu" and (b.data < 0).any():
        raise RuntimeError("Integers to negative integer powers are not allowed.")
    return Pow()(a, b)


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


def equal(a, b):
    """True when a and b have the same shape and the same values (a Python bool, as ``torch.equal``)."""
    return a.shape == b.shape and bool((a.data == b.data).all())


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """True when |a - b| <= atol + rtol * |b| everywhere (a Python bool, as ``torch.allclose``)."""
    a, b = promote("allclose", a, b)
    xp = backend.get_array_module(a.data)
    return bool(xp.allclose(a.data, b.data, rtol=rtol, atol=atol, equal_nan=equal_nan))
