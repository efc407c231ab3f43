"""Tools for gradient unit tests: numerical gradients and relative error.

The numerical gradient uses central differences,

    dL/dx_i ~ (L(x + eps e_i) - L(x - eps e_i)) / (2 eps),

whose error shrinks like eps**2. It needs float64: in float32 the rounding
error of L, about 1e-7 * |L| / eps, would swamp the result.
"""
import numpy as np

from minitl import backend
from minitl.autograd import Tensor, no_grad


def float64_copies(inputs):
    """Fresh float64 leaf copies of the floating-point tensors (others pass through).

    Gradient checks work on these, so the caller's arrays are never touched.
    """
    copies = []
    for x in inputs:
        if isinstance(x, Tensor) and x.dtype.kind == "f":
            copy = Tensor(x.data.astype(np.float64, copy=True))
            copy.requires_grad = x.requires_grad
            x = copy
        copies.append(x)
    return copies


def numerical_grad(fn, inputs, eps=1e-6, grad_output=None):
    """Central-difference gradients of L = sum(fn(*inputs) * grad_output).

    `grad_output` defaults to ones (L = sum of the outputs). Returns one float64
    array per input, None for inputs that do not require grad.
    """
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    inputs = float64_copies(inputs)

    def loss():
        with no_grad():
            y = fn(*inputs).data
        return float((y if grad_output is None else y * grad_output).sum())

    grads = []
    for x in inputs:
        if not (isinstance(x, Tensor) and x.requires_grad):
            grads.append(None)
            continue
        flat = x.data.reshape(-1)  # a view: writing to it perturbs x
        grad = backend.get_array_module(flat).zeros_like(flat)
        for i in range(flat.size):
            original = float(flat[i])
            flat[i] = original + eps
            up = loss()
            flat[i] = original - eps
            down = loss()
            flat[i] = original
            grad[i] = (up - down) / (2 * eps)
        grads.append(grad.reshape(x.shape))
    return grads


def rel_error(a, b):
    """max |a - b| / max(|a| + |b|): 0 for equal arrays, about 1 for unrelated ones."""
    a = backend.to_numpy(a.data if isinstance(a, Tensor) else a).astype(np.float64)
    b = backend.to_numpy(b.data if isinstance(b, Tensor) else b).astype(np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error: shapes differ, {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    scale = max(float(np.max(np.abs(a) + np.abs(b))), np.finfo(np.float64).tiny)
    return float(np.max(np.abs(a - b))) / scale
