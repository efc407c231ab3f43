"""gradcheck and gradgradcheck: compare backward() with numerical derivatives, in float64, entry by entry.

As ``torch.autograd.gradcheck``: for every output y and every input x that
requires grad, the full Jacobian dy/dx is built twice,

- numerically, one column (one input element) at a time by central differences,
- analytically, one row (one output element) at a time by backward() with a one-hot gradient,

and every entry must satisfy |analytic - numerical| <= atol + rtol * |numerical|.
Any entry that is not finite (NaN or infinite) in either Jacobian fails the check:
a NaN compares false with everything, so a check written as "excess > 0" would
let it pass. Comparing whole Jacobians, not a weighted sum of the outputs, keeps
small outputs from being rounded away by large ones.
"""
import numpy as np

from minitl import backend
from minitl.autograd import Tensor, enable_grad, grad
from minitl.testing import as_outputs, float64_copies, numerical_jacobian


class GradcheckError(AssertionError):
    """Raised by gradcheck when an analytic gradient disagrees with the numerical one."""


def _analytic_jacobian(output, inputs, checked):
    """d(output)/d(input i) for each checked i, one backward() per output element: {i: (output size, input size)}."""
    jacobians = {i: np.zeros((output.numel(), inputs[i].numel())) for i in checked}
    if not output.requires_grad:  # the output does not depend on any checked input
        return jacobians
    xp = backend.get_array_module(output.data)
    for row in range(output.numel()):
        for i in checked:
            inputs[i].grad = None
        one_hot = xp.zeros(output.numel(), dtype=output.dtype)
        one_hot[row] = 1
        output.backward(one_hot.reshape(output.shape), retain_graph=True)
        for i in checked:
            if inputs[i].grad is not None:
                jacobians[i][row] = backend.to_numpy(inputs[i].grad.data).ravel()
    return jacobians


def _first_failure(analytic, numerical, atol, rtol):
    """(entry, number of failing entries) for the worst failing Jacobian entry, or None when all pass."""
    finite = np.isfinite(analytic) & np.isfinite(numerical)
    with np.errstate(invalid="ignore"):
        excess = np.abs(analytic - numerical) - (atol + rtol * np.abs(numerical))
    failing = ~finite | (excess > 0)
    if not failing.any():
        return None
    worst = np.argmax(~finite) if not finite.all() else np.argmax(excess)
    return np.unravel_index(worst, analytic.shape), int(failing.sum())


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """True when, for every output and input that requires grad, backward() matches central differences.

    `fn` returns a tensor or a tuple of tensors. On failure, raises
    GradcheckError naming the input, the output and the Jacobian entry (both
    elements), the analytic and numerical values and their relative error (or
    returns False when ``raise_exception=False``).
    """
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    inputs = float64_copies(inputs)
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True, so there is nothing to check")
    outputs = as_outputs(fn(*inputs))
    for j, y in enumerate(outputs):
        if y.dtype != np.float64:
            raise TypeError(f"gradcheck: output {j} of fn is {y.dtype} for float64 inputs; fn must not cast")
    numerical = numerical_jacobian(fn, inputs, eps)
    for j, output in enumerate(outputs):
        analytic = _analytic_jacobian(output, inputs, checked)
        for i in checked:
            failure = _first_failure(analytic[i], numerical[i][j], atol, rtol)
            if failure is None:
                continue
            if raise_exception:
                raise GradcheckError(_describe(failure, analytic[i], numerical[i][j], inputs[i], i, output, j,
                                               atol, rtol))
            return False
    return True


def _describe(failure, analytic, numerical, x, i, y, j, atol, rtol):
    (row, column), count = failure
    a, n = analytic[row, column], numerical[row, column]
    out_element = tuple(int(k) for k in np.unravel_index(row, y.shape))
    in_element = tuple(int(k) for k in np.unravel_index(column, x.shape))
    where = (f"gradcheck failed for input {i} (shape {x.shape}) and output {j} (shape {y.shape}): "
             f"worst element d output{list(out_element)} / d input{list(in_element)}")
    if not (np.isfinite(a) and np.isfinite(n)):
        verdict = f"is not finite: analytic {a:.10g}, numerical {n:.10g}"
    else:
        relative = abs(a - n) / max(abs(a) + abs(n), np.finfo(np.float64).tiny)
        verdict = f"has analytic {a:.10g} but numerical {n:.10g} (relative error {relative:.3g})"
    return (f"{where} {verdict}; {count} of {analytic.size} Jacobian entries fail "
            f"(non-finite, or outside atol={atol}, rtol={rtol})")


def gradgradcheck(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """Second derivatives checked as ``torch.autograd.gradgradcheck`` does: gradcheck of the first derivatives.

    The checked function maps (inputs, v) to d<fn(inputs), v>/d(inputs),
    computed by ``autograd.grad(..., create_graph=True)``; `v` is
    `grad_outputs` (random normal by default), and is an input of the check
    too. So every entry of the Jacobian of the gradient, the Hessian-vector
    products included, is compared with central differences.
    """
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    inputs = float64_copies(inputs)
    outputs = as_outputs(fn(*inputs))
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        grad_outputs = [Tensor(backend.get_array_module(y.data).asarray(rng.normal(size=y.shape)),
                               requires_grad=True) for y in outputs]
    grad_outputs = float64_copies(as_outputs(grad_outputs))
    count = len(inputs)

    def first_derivatives(*args):
        xs, vs = args[:count], args[count:]
        with enable_grad():  # also while gradcheck evaluates it for central differences
            ys = as_outputs(fn(*xs))
            differentiable = [x for x in xs if isinstance(x, Tensor) and x.requires_grad]
            grads = grad(ys, differentiable, vs, create_graph=True, allow_unused=True)
        return tuple(g if g is not None else Tensor(backend.get_array_module(x.data).zeros(x.shape))
                     for g, x in zip(grads, differentiable))

    recorded = first_derivatives(*inputs, *grad_outputs)
    differentiable = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]
    plain = grad(as_outputs(fn(*inputs)), differentiable, grad_outputs, allow_unused=True)
    for i, (g, p) in enumerate(zip(recorded, plain)):
        # create_graph runs the same formulas on tensors (values saved for backward recomputed): the gradient
        # must be the one a plain backward gives.
        expected = np.zeros(g.shape) if p is None else backend.to_numpy(p.data)
        if not np.allclose(backend.to_numpy(g.data), expected, rtol=rtol, atol=atol):
            message = (f"gradgradcheck failed: the gradient of differentiable input {i} with create_graph=True "
                       f"differs from the one without (max difference "
                       f"{np.max(np.abs(backend.to_numpy(g.data) - expected)):.3g}): a backward is wrong on tensors")
            if raise_exception:
                raise GradcheckError(message)
            return False
    return gradcheck(first_derivatives, [*inputs, *grad_outputs], eps, atol, rtol, raise_exception)
