"""Differentiable operations, and their installation as Tensor methods and operators.

Each submodule holds one family of Functions with plain functions that call
them; this file makes ``x + y``, ``x.sum(dim=1)``, ``x[0]``... call those
functions, so ``Tensor`` itself (in autograd.py) stays about autograd only.
"""
from minitl.autograd import Tensor
from minitl.ops import arithmetic, shape
from minitl.ops.arithmetic import add, div, mul, neg, pow, sub
from minitl.ops.elementwise import abs_, clip, exp, log, relu, sigmoid, sqrt, tanh
from minitl.ops.matmul import matmul
from minitl.ops.reduction import argmax, argmin, max, mean, min, sum, var
from minitl.ops.shape import (cat, expand, flatten, getitem, pad, permute, reshape, squeeze, stack,
                              to, transpose, unsqueeze, where)


def _swapped(function):
    """The same operation with its operands in the other order (for 2 - x, 2 * x)."""
    return lambda a, b: function(b, a) if isinstance(b, Tensor) else function(a, b)


_OPERATORS = {
    "__add__": add, "__radd__": add,
    "__sub__": sub, "__rsub__": arithmetic.rsub,
    "__mul__": mul, "__rmul__": mul,
    "__truediv__": div, "__rtruediv__": arithmetic.rdiv,
    "__pow__": pow, "__rpow__": arithmetic.rpow,
    "__matmul__": matmul, "__rmatmul__": _swapped(matmul),
    "__neg__": neg, "__abs__": abs_, "__getitem__": getitem,
    "__eq__": arithmetic.eq, "__ne__": arithmetic.ne, "__lt__": arithmetic.lt,
    "__le__": arithmetic.le, "__gt__": arithmetic.gt, "__ge__": arithmetic.ge,
}

_METHODS = {
    "abs": abs_, "exp": exp, "log": log, "sqrt": sqrt, "tanh": tanh, "sigmoid": sigmoid, "relu": relu,
    "clip": clip, "clamp": clip, "sum": sum, "mean": mean, "max": max, "min": min, "amax": max, "amin": min,
    "var": var,
    "argmax": argmax, "argmin": argmin, "reshape": reshape, "view": reshape, "flatten": flatten,
    "permute": permute, "transpose": transpose, "unsqueeze": unsqueeze, "squeeze": squeeze,
    "expand": expand, "matmul": matmul, "to": to,
}

for _name, _function in {**_OPERATORS, **_METHODS}.items():
    setattr(Tensor, _name, _function)

Tensor.T = property(shape.T)
Tensor.cpu = lambda self: to(self, "cpu")
Tensor.cuda = lambda self: to(self, "cuda")
Tensor.float = lambda self: to(self, dtype="float32")
Tensor.double = lambda self: to(self, dtype="float64")
