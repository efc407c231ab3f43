"""Differentiable operations, and their installation as Tensor methods and operators.

Each submodule holds one family of Functions with plain functions that call
them; this file makes ``x + y``, ``x.sum(dim=1)``, ``x[0]``, ``x += 1``...
call those functions, so ``Tensor`` itself (in autograd/tensor.py) stays about
autograd only.
"""
from minitl import backend
from minitl.autograd import Tensor
from minitl.ops import arithmetic, inplace, linalg, shape
from minitl.ops.arithmetic import add, div, eq, ge, gt, le, lt, mul, ne, neg, pow, sub
from minitl.ops.conversion import clone, to
from minitl.ops.elementwise import abs_, clip, cos, exp, isfinite, isinf, isnan, log, log1p, relu, sigmoid, sin, sqrt, tanh
from minitl.ops.indexing import diag, gather, index_select, masked_fill, scatter, scatter_add, tril, triu
from minitl.ops.inplace import add_, copy_, div_, fill_, mul_, setitem, sub_, zero_
from minitl.ops.matmul import bmm, einsum, matmul, mm, outer
from minitl.ops.reduction import (
    all,
    amax,
    amin,
    any,
    argmax,
    argmin,
    cumsum,
    logsumexp,
    mean,
    norm,
    prod,
    std,
    sum,
    var,
)
from minitl.ops.selection import argsort, max, median, min, mode, sort, topk
from minitl.ops.shape import (
    cat,
    chunk,
    expand,
    flatten,
    getitem,
    pad,
    permute,
    repeat,
    reshape,
    split,
    squeeze,
    stack,
    t,
    transpose,
    unbind,
    unsqueeze,
    where,
)
from minitl.ops.softmax import log_softmax, softmax


def _reflected(function):
    """The operation with the operands swapped, for ``other + tensor`` (other a number or an ndarray)."""
    def reflected(a, b):
        return function(b, a)
    return reflected


def _where_method(x, condition, other):
    """``x.where(condition, other)``: x where condition is true, else other (as torch.Tensor.where)."""
    return where(condition, x, other)


def _new(factory):
    """``x.new_zeros(size)``-style methods: a new tensor of x's dtype and device, unless given."""
    def new(x, *args, dtype=None, device=None, requires_grad=False):
        from minitl import creation  # creation sits beside ops in the layers, and imports them
        return getattr(creation, factory)(*args, dtype=dtype or x.dtype, device=device or x.device,
                                          requires_grad=requires_grad)
    new.__name__ = f"new_{factory}"
    return new


_OPERATORS = {
    "__add__": add, "__radd__": _reflected(add), "__iadd__": add_,
    "__sub__": sub, "__rsub__": _reflected(sub), "__isub__": sub_,
    "__mul__": mul, "__rmul__": _reflected(mul), "__imul__": mul_,
    "__truediv__": div, "__rtruediv__": _reflected(div), "__itruediv__": div_,
    "__floordiv__": arithmetic.floor_divide, "__rfloordiv__": _reflected(arithmetic.floor_divide),
    "__mod__": arithmetic.remainder, "__rmod__": _reflected(arithmetic.remainder),
    "__pow__": pow, "__rpow__": _reflected(pow),
    "__matmul__": matmul, "__rmatmul__": _reflected(matmul),
    "__neg__": neg, "__abs__": abs_, "__getitem__": getitem, "__setitem__": setitem,
    "__eq__": eq, "__ne__": ne, "__lt__": lt, "__le__": le, "__gt__": gt, "__ge__": ge,
}

_METHODS = {
    "abs": abs_, "exp": exp, "log": log, "log1p": log1p, "sqrt": sqrt, "tanh": tanh, "sigmoid": sigmoid, "relu": relu,
    "sin": sin, "cos": cos, "clip": clip, "clamp": clip, "pow": pow, "neg": neg,
    "add": add, "sub": sub, "mul": mul, "div": div, "floor_divide": arithmetic.floor_divide, "remainder": arithmetic.remainder,
    "maximum": arithmetic.maximum, "minimum": arithmetic.minimum,
    "eq": eq, "ne": ne, "lt": lt, "le": le, "gt": gt, "ge": ge,
    "isnan": isnan, "isinf": isinf, "isfinite": isfinite,
    "sum": sum, "mean": mean, "max": max, "min": min, "amax": amax, "amin": amin, "var": var, "std": std,
    "prod": prod, "cumsum": cumsum, "logsumexp": logsumexp, "norm": norm,
    "argmax": argmax, "argmin": argmin, "all": all, "any": any,
    "sort": sort, "argsort": argsort, "topk": topk, "median": median, "mode": mode,
    "softmax": softmax, "log_softmax": log_softmax,
    "reshape": reshape, "view": reshape, "flatten": flatten, "permute": permute, "transpose": transpose, "swapaxes": transpose,
    "t": t, "unsqueeze": unsqueeze, "squeeze": squeeze, "expand": expand, "matmul": matmul, "mm": mm, "bmm": bmm,
    "outer": outer, "split": split, "chunk": chunk, "unbind": unbind, "repeat": repeat,
    "gather": gather, "scatter": scatter, "scatter_add": scatter_add, "index_select": index_select,
    "masked_fill": masked_fill, "diag": diag, "tril": tril, "triu": triu,
    "to": to, "clone": clone, "where": _where_method,
    "add_": add_, "sub_": sub_, "mul_": mul_, "div_": div_, "copy_": copy_, "fill_": fill_, "zero_": zero_,
    "relu_": inplace.relu_, "exp_": inplace.exp_, "log_": inplace.log_, "sqrt_": inplace.sqrt_,
    "sigmoid_": inplace.sigmoid_, "tanh_": inplace.tanh_, "abs_": inplace.abs_, "neg_": inplace.neg_,
    "clamp_": inplace.clamp_, "clip_": inplace.clamp_, "pow_": inplace.pow_, "addcmul_": inplace.addcmul_,
    "addcdiv_": inplace.addcdiv_, "uniform_": inplace.uniform_, "normal_": inplace.normal_,
    "new_zeros": _new("zeros"), "new_ones": _new("ones"), "new_empty": _new("empty"), "new_full": _new("full"),
    "new_tensor": _new("tensor"),
}

for _name, _function in {**_OPERATORS, **_METHODS}.items():
    setattr(Tensor, _name, _function)

_DEVICES = {name: backend.device(name) for name in (backend.CPU, backend.CUDA)}

Tensor.T = property(shape.T)
Tensor.device = property(lambda self: _DEVICES[backend.device_of(self.data)])  # a tl.device, equal to 'cpu'/'cuda'
Tensor.is_cuda = property(lambda self: backend.device_of(self.data) == backend.CUDA)
Tensor.expand_as = lambda self, other: expand(self, other.shape)
Tensor.view_as = lambda self, other: reshape(self, other.shape)
Tensor.type_as = lambda self, other: to(self, dtype=other.dtype)
Tensor.contiguous = lambda self: self  # minitl's tensors need no separate contiguous copy
Tensor.cpu = lambda self: to(self, "cpu")
Tensor.cuda = lambda self: to(self, "cuda")
Tensor.half = lambda self: to(self, dtype="float16")
Tensor.float = lambda self: to(self, dtype="float32")
Tensor.double = lambda self: to(self, dtype="float64")
Tensor.long = lambda self: to(self, dtype="int64")
Tensor.int = lambda self: to(self, dtype="int32")
Tensor.bool = lambda self: to(self, dtype="bool")
