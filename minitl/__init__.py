"""minitl: a deep-learning engine in NumPy (CuPy on GPU) that you can read.

``import minitl as tl`` gives the tensor API of shared/API.md; ``tl.nn``,
``tl.optim`` and the others are subpackages: the engine. The course's lab
(``minitl.lab``: training loop, transfer learning, studies' tools) is built
on it and the engine never imports it. Importing minitl loads NumPy and
nothing heavier: ``tl.models``, ``tl.data`` and ``tl.lab`` are imported when
first used, as are the lab's modules under their names from before
``minitl.lab`` (``tl.transfer``, ``tl.train``, ``from minitl import tune``);
plotting, image libraries and CuPy only when a function needs them.
"""
import importlib

from minitl import autograd, backends, cuda, derivatives, io, nn, ops, optim, testing
from minitl.autograd import Function, Tensor
from minitl.backend import device, get_default_device, set_default_device
from minitl.creation import (
    arange,
    as_tensor,
    bool_,
    empty,
    empty_like,
    eye,
    float16,
    float32,
    float64,
    from_numpy,
    full,
    full_like,
    get_default_dtype,
    int8,
    int16,
    int32,
    int64,
    is_tensor,
    linspace,
    numel,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
    tensor,
    uint8,
    zeros,
    zeros_like,
)
from minitl.grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from minitl.gradcheck import GradcheckError, gradcheck, gradgradcheck
from minitl.io import load, save
from minitl.ops import cat, linalg, log_softmax, pad, return_types, softmax, stack, where
from minitl.ops.arithmetic import (
    add,
    allclose,
    div,
    eq,
    equal,
    floor_divide,
    ge,
    gt,
    le,
    lt,
    maximum,
    minimum,
    mul,
    ne,
    pow,
    remainder,
    sub,
)
from minitl.ops.elementwise import abs_ as abs
from minitl.ops.elementwise import clip, cos, exp, isfinite, isinf, isnan, log, log1p, relu, sigmoid, sin, sqrt, tanh
from minitl.ops.indexing import diag, gather, index_select, masked_fill, scatter, scatter_add, tril, triu
from minitl.ops.matmul import bmm, einsum, matmul, mm, outer
from minitl.ops.out import with_out
from minitl.ops.reduction import all, amax, amin, any, argmax, argmin, cumsum, logsumexp, mean, norm, prod, std, sum, var
from minitl.ops.selection import argsort, max, median, min, mode, sort, topk
from minitl.ops.shape import chunk, flatten, split, unbind
from minitl.printing import set_printoptions
from minitl.random import Generator, manual_seed
from minitl.threads import get_num_threads, set_num_threads

__version__ = "0.1.0"

# The function forms take PyTorch's out= too (ops/out.py); the Tensor methods, as in PyTorch, do not.
(add, sub, mul, div, pow, remainder, floor_divide, maximum, minimum, eq, ne, lt, le, gt, ge, abs, clip, cos, exp, log,
 log1p, sigmoid, sin, sqrt, tanh, matmul, mm, bmm, outer, sum, mean, prod, cumsum, amax, amin, argmax, argmin, cat, stack,
 where) = map(with_out, (add, sub, mul, div, pow, remainder, floor_divide, maximum, minimum, eq, ne, lt, le, gt, ge, abs,
                         clip, cos, exp, log, log1p, sigmoid, sin, sqrt, tanh, matmul, mm, bmm, outer, sum, mean, prod,
                         cumsum, amax, amin, argmax, argmin, cat, stack, where))

# torch's short names of the dtypes (tl.float is float32, tl.long int64...), and clamp beside clip
half, float, double, short, int, long, bool = float16, float32, float64, int16, int32, int64, bool_
clamp = clip

autograd.functional = derivatives  # torch.autograd.functional's path (the module lives above ops: it uses them)
autograd.gradcheck, autograd.gradgradcheck = gradcheck, gradgradcheck  # torch.autograd's paths to them too

_LAZY_SUBMODULES = ("models", "data", "utils", "lab", "viz")
# The lab's modules sat at the top of the package before minitl.lab: these names still reach them
# (as attributes and by ``from minitl import ...``; not listed in __all__).
_LAB_MODULES = ("transfer", "train", "tune", "ensemble", "monitor", "multitask", "backdoor", "pca")

__all__ = [
    # tensors, autograd, gradient checks
    "Tensor", "Function", "tensor", "from_numpy", "no_grad", "enable_grad", "set_grad_enabled", "inference_mode",
    "is_grad_enabled", "gradcheck", "gradgradcheck", "GradcheckError",
    # dtypes, factories, random numbers
    # (torch's short names tl.float, tl.int, tl.bool... and the ops named like Python's builtins, tl.max,
    # tl.abs..., are attributes only: `from minitl import *` must not hide Python's own)
    "float16", "float32", "float64", "uint8", "int8", "int16", "int32", "int64", "bool_", "half", "double",
    "short", "long", "get_default_dtype", "is_tensor", "numel", "device", "set_printoptions",
    "zeros", "zeros_like", "ones", "ones_like", "full", "full_like", "empty", "empty_like", "arange", "linspace",
    "eye", "as_tensor", "rand", "rand_like", "randn", "randn_like", "randint", "randperm", "manual_seed", "Generator",
    # threads
    "get_num_threads", "set_num_threads",
    # operations
    "cat", "stack", "where", "pad", "sum", "mean", "softmax", "log_softmax", "matmul", "allclose", "equal",
    "clip", "clamp", "cos", "exp", "log", "log1p", "relu", "sigmoid", "sin", "sqrt", "tanh",
    "add", "sub", "mul", "div", "floor_divide", "remainder", "maximum", "minimum",
    "eq", "ne", "lt", "le", "gt", "ge", "isnan", "isinf", "isfinite",
    "amax", "amin", "argmax", "argmin", "sort", "argsort", "topk", "median", "mode", "return_types",
    "var", "std", "prod", "cumsum", "logsumexp", "norm", "linalg", "mm", "bmm", "outer", "einsum",
    "flatten", "split", "chunk", "unbind", "gather", "scatter", "scatter_add", "index_select", "masked_fill",
    "diag", "tril", "triu",
    # saving
    "save", "load",
    # subpackages (the last ones imported on first use)
    "autograd", "backends", "cuda", "io", "nn", "ops", "optim", "testing", *_LAZY_SUBMODULES,
]


def __getattr__(name):
    """tl.models, tl.data, tl.utils, tl.lab, tl.transfer (minitl.lab.transfer)...: imported on first use, so
    ``import minitl`` stays light."""
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"minitl.{name}")
    if name in _LAB_MODULES:
        return importlib.import_module(f"minitl.lab.{name}")
    raise AttributeError(f"module 'minitl' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY_SUBMODULES))
