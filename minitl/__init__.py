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

from minitl import autograd, cuda, derivatives, io, nn, ops, optim, testing
from minitl.autograd import Function, Tensor
from minitl.creation import (
    arange,
    eye,
    float32,
    float64,
    from_numpy,
    full,
    int64,
    linspace,
    ones,
    ones_like,
    rand,
    randint,
    randn,
    tensor,
    zeros,
    zeros_like,
)
from minitl.grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from minitl.gradcheck import GradcheckError, gradcheck, gradgradcheck
from minitl.io import load, save
from minitl.ops import cat, log_softmax, mean, pad, softmax, stack, sum, where
from minitl.ops.arithmetic import allclose
from minitl.ops.elementwise import clip, cos, exp, log, log1p, relu, sigmoid, sin, sqrt, tanh
from minitl.ops.matmul import matmul
from minitl.random import manual_seed
from minitl.threads import get_num_threads, set_num_threads

__version__ = "0.1.0"

autograd.functional = derivatives  # torch.autograd.functional's path (the module lives above ops: it uses them)

_LAZY_SUBMODULES = ("models", "data", "utils", "lab", "viz")
# The lab's modules sat at the top of the package before minitl.lab: these names still reach them
# (as attributes and by ``from minitl import ...``; not listed in __all__).
_LAB_MODULES = ("transfer", "train", "tune", "ensemble", "monitor", "multitask", "backdoor", "pca")

__all__ = [
    # tensors, autograd, gradient checks
    "Tensor", "Function", "tensor", "from_numpy", "no_grad", "enable_grad", "set_grad_enabled", "inference_mode",
    "is_grad_enabled", "gradcheck", "gradgradcheck", "GradcheckError",
    # dtypes, factories, random numbers
    "float32", "float64", "int64", "zeros", "zeros_like", "ones", "ones_like", "full", "arange", "linspace", "eye",
    "rand", "randn", "randint", "manual_seed",
    # threads
    "get_num_threads", "set_num_threads",
    # operations
    "cat", "stack", "where", "pad", "sum", "mean", "softmax", "log_softmax", "matmul", "allclose",
    "clip", "cos", "exp", "log", "log1p", "relu", "sigmoid", "sin", "sqrt", "tanh",
    # saving
    "save", "load",
    # subpackages (the last ones imported on first use)
    "autograd", "cuda", "io", "nn", "ops", "optim", "testing", *_LAZY_SUBMODULES,
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
