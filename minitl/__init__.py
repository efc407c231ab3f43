"""minitl: a deep-learning engine in NumPy (CuPy on GPU) that you can read.

``import minitl as tl`` gives the tensor API of shared/API.md; ``tl.nn``,
``tl.optim`` and the others are subpackages. Importing minitl loads NumPy
and nothing heavier: plotting, image libraries and CuPy load only when used.
"""
from minitl import cuda, io, nn, ops, optim, testing
from minitl.autograd import Function, Tensor, enable_grad, is_grad_enabled, no_grad
from minitl.creation import (arange, float32, float64, full, int64, ones, ones_like, rand, randn, tensor,
                             zeros, zeros_like)
from minitl.gradcheck import GradcheckError, gradcheck
from minitl.io import load, save
from minitl.ops import cat, pad, stack, where
from minitl.ops.elementwise import clip, exp, log, relu, sigmoid, sqrt, tanh
from minitl.ops.matmul import matmul
from minitl.random import manual_seed

__version__ = "0.1.0"
