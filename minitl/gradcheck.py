"""gradcheck: compare backward() with numerical gradients, in float64.

The checked scalar is L = sum(fn(*inputs) * W) with fixed random weights W
rather than a plain sum: a plain sum hides errors whenever the outputs'
sum does not depend on the inputs (softmax rows always sum to 1).
"""
import numpy as np

from minitl import backend
from minitl.autograd import Tensor
from minitl.testing import float64_copies, numerical_grad


class GradcheckError(AssertionError):
    """Raised by gradcheck when an analytic gradient disagrees with the numerical one."""


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """True when every input's analytic gradient matches central differences.

    An element passes when |analytic - numerical| <= atol + rtol * |numerical|.
    On failure, raises GradcheckError naming the input, its worst element,
    both values and their relative error (or returns False when
    ``raise_exception=False``).
    """
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    inputs = float64_copies(inputs)
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True, so there is nothing to check")

    output = fn(*inputs)
    if output.dtype != np.float64:
        raise TypeError(f"gradcheck: fn returned {output.dtype} for float64 inputs; it must not cast")
    xp = backend.get_array_module(output.data)
    weights = xp.asarray(np.random.default_rng(0).normal(size=output.shape))
    output.backward(weights)
    numerical = numerical_grad(fn, inputs, eps, weights)

    for i in checked:
        x = inputs[i]
        analytic = backend.to_numpy(x.grad.data) if x.grad is not None else np.zeros(x.shape)
        expected = backend.to_numpy(numerical[i])
        excess = np.abs(analytic - expected) - (atol + rtol * np.abs(expected))
        if excess.size and excess.max() > 0:
            worst = np.unravel_index(np.argmax(excess), excess.shape)
            a, n = analytic[worst], expected[worst]
            relative = abs(a - n) / max(abs(a) + abs(n), np.finfo(np.float64).tiny)
            message = (f"gradcheck failed for input {i} (shape {x.shape}): worst element {tuple(map(int, worst))} "
                       f"has analytic {a:.10g} but numerical {n:.10g} (relative error {relative:.3g}; "
                       f"{int((excess > 0).sum())} of {excess.size} elements outside atol={atol}, rtol={rtol})")
            if raise_exception:
                raise GradcheckError(message)
            return False
    return True
