"""Differentiable operations, and their installation as Tensor methods and operators.

Each submodule holds one family of Functions with plain functions that call
them; this file makes ``x + y``, ``x.sum(dim=1)``, ``x[0]``, ``x += 1``...
call those functions, so ``Tensor`` itself (in autograd/tensor.py) stays about
autograd only.
"""
from minitl.autograd import Tensor
from minitl.ops import shape
from minitl.ops.arithmetic import add, div, eq, ge, gt, le, lt, mul, ne, neg, pow, sub
from minitl.ops.conversion import clone, to
from minitl.ops.elementwise import abs_, clip, cos, exp, log, log1p, relu, sigmoid, sin, sqrt, tanh
from minitl.ops.inplace import add_, copy_, div_, fill_, mul_, setitem, sub_, zero_
from minitl.ops.matmul import matmul
from minitl.ops.reduction import all, any, argmax, argmin, max, mean, min, sum, var
from minitl.ops.shape import cat, expand, flatten, getitem, pad, permute, reshape, squeeze, stack, t, transpose, unsqueeze, where
from minitl.ops.softmax import log_softmax, softmax


def _reflected(function):
    """The operation with the operands swapped, for ``other + tensor`` (other a number or an ndarray)."""
    def reflected(a, b):
        return function(b, a)
    return reflected


def _where_method(x, condition, other):
    """``x.where(condition, other)``: x where condition is true, else other (as torch.Tensor.where)."""
    return where(condition, x, other)


_OPERATORS = {
    "__add__": add, "__radd__": _reflected(add), "__iadd__": add_,
    "__sub__": sub, "__rsub__": _reflected(sub), "__isub__": sub_,
    "__mul__": mul, "__rmul__": _reflected(mul), "__imul__": mul_,
    "__truediv__": div, "__rtruediv__": _reflected(div), "__itruediv__": div_,
    "__pow__": pow, "__rpow__": _reflected(pow),
    "__matmul__": matmul, "__rmatmul__": _reflected(matmul),
    "__neg__": neg, "__abs__": abs_, "__getitem__": getitem, "__setitem__": setitem,
    "__eq__": eq, "__ne__": ne, "__lt__": lt, "__le__": le, "__gt__": gt, "__ge__": ge,
}

_METHODS = {
    "abs": abs_, "exp": exp, "log": log, "log1p": log1p, "sqrt": sqrt, "tanh": tanh, "sigmoid": sigmoid, "relu": relu,
    "sin": sin, "cos": cos, "clip": clip, "clamp": clip, "pow": pow,
    "sum": sum, "mean": mean, "max": max, "min": min, "amax": max, "amin": min, "var": var,
    "argmax": argmax, "argmin": argmin, "all": all, "any": any,
    "softmax": softmax, "log_softmax": log_softmax,
    "reshape": reshape, "view": reshape, "flatten": flatten, "permute": permute, "transpose": transpose, "swapaxes": transpose,
    "t": t, "unsqueeze": unsqueeze, "squeeze": squeeze, "expand": expand, "matmul": matmul,
    "to": to, "clone": clone, "where": _where_method,
    "add_": add_, "sub_": sub_, "mul_": mul_, "div_": div_, "copy_": copy_, "fill_": fill_, "zero_": zero_,
}

for _name, _function in {**_OPERATORS, **_METHODS}.items():
    setattr(Tensor, _name, _function)

Tensor.T = property(shape.T)
Tensor.cpu = lambda self: to(self, "cpu")
Tensor.cuda = lambda self: to(self, "cuda")
Tensor.float = lambda self: to(self, dtype="float32")
Tensor.double = lambda self: to(self, dtype="float64")
Tensor.long = lambda self: to(self, dtype="int64")
Tensor.int = lambda self: to(self, dtype="int32")
Tensor.bool = lambda self: to(self, dtype="bool")
