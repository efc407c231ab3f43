"""gradcheck and gradgradcheck: compare backward() with numerical derivatives, entry by entry.

As ``torch.autograd.gradcheck``: for every output y and every input x that
requires grad, the full Jacobian dy/dx is built twice,

- numerically, in float64, one column (one input element) at a time by central differences,
- analytically, one row (one output element) at a time by backward() with a one-hot gradient,

and every entry must satisfy |analytic - numerical| <= atol + rtol * |numerical|.
Any entry that is not finite (NaN or infinite) in either Jacobian fails the check:
a NaN compares false with everything, so a check written as "excess > 0" would
let it pass. Comparing whole Jacobians, not a weighted sum of the outputs, keeps
small outputs from being rounded away by large ones.

One-hot rows cannot see a backward that is not linear in grad_output g: one
that ignores g (right whenever g is 1, as for a scalar output), or computes
g * |g| * f'(x) (right whenever g is 0 or 1). So backward must also be linear:

- g = 0 for every output gives zero gradients;
- a random g (normal, fixed seed) on one output gives g^T J, the numerical vector-Jacobian product.

Precision: the checks above run on float64 copies of the inputs. When an
input that requires grad is float32, the float32 path is checked too: the
Jacobian that backward() gives on the inputs as they are (float32 where they
are float32) must match the float64 numerical one, within tolerances fit for
float32 (FLOAT32_ATOL, FLOAT32_RTOL, or looser ones given), and be finite, so
that a backward overflowing in float32 (exp(x) for x > 88) fails.
"""
import numpy as np

from minitl import backend
from minitl.autograd import Tensor, enable_grad, grad
from minitl.testing import as_outputs, leaf_copies, numerical_jacobian

# float32 keeps 7 significant digits; a backward's sums and products lose a few of them.
FLOAT32_ATOL, FLOAT32_RTOL = 1e-4, 1e-3
VJP_SEED = 0


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


def _first_failure(analytic, numerical, atol, rtol, scale=None):
    """(entry, number of failing entries) for the worst failing entry, or None when all pass.

    An entry passes when |analytic - numerical| <= atol + rtol * scale (scale: |numerical| by default).
    """
    scale = np.abs(numerical) if scale is None else scale
    finite = np.isfinite(analytic) & np.isfinite(numerical)
    with np.errstate(invalid="ignore"):
        excess = np.abs(analytic - numerical) - (atol + rtol * scale)
    failing = ~finite | (excess > 0)
    if not failing.any():
        return None
    worst = np.argmax(~finite) if not finite.all() else np.argmax(excess)
    return np.unravel_index(worst, analytic.shape), int(failing.sum())


def _compare_value(a, n):
    if not (np.isfinite(a) and np.isfinite(n)):
        return f"is not finite: analytic {a:.10g}, numerical {n:.10g}"
    relative = abs(a - n) / max(abs(a) + abs(n), np.finfo(np.float64).tiny)
    return f"has analytic {a:.10g} but numerical {n:.10g} (relative error {relative:.3g})"


def _check_jacobians(outputs, inputs, checked, numerical, atol, rtol, path):
    """Every entry of every analytic Jacobian against the numerical one; raises GradcheckError naming the worst."""
    for j, output in enumerate(outputs):
        analytic = _analytic_jacobian(output, inputs, checked)
        for i in checked:
            failure = _first_failure(analytic[i], numerical[i][j], atol, rtol)
            if failure is None:
                continue
            (row, column), count = failure
            x = inputs[i]
            out_element = [int(k) for k in np.unravel_index(row, output.shape)]
            in_element = [int(k) for k in np.unravel_index(column, x.shape)]
            raise GradcheckError(
                f"gradcheck failed{path} for input {i} (shape {x.shape}) and output {j} (shape {output.shape}): "
                f"worst element d output{out_element} / d input{in_element} "
                f"{_compare_value(analytic[i][row, column], numerical[i][j][row, column])}; {count} of "
                f"{analytic[i].size} Jacobian entries fail (non-finite, or outside atol={atol}, rtol={rtol})")


def _check_linearity(outputs, inputs, checked, numerical, atol, rtol):
    """backward must be linear in grad_output: zero for g = 0, g^T J for a random g on each output."""
    differentiable = [j for j, y in enumerate(outputs) if y.requires_grad]
    if not differentiable:
        return
    xs = [inputs[i] for i in checked]
    rng = np.random.default_rng(VJP_SEED)

    def vjp(vectors):
        grad_outputs = [Tensor(backend.to_device(vectors[j], outputs[j].device)) for j in differentiable]
        grads = grad([outputs[j] for j in differentiable], xs, grad_outputs, retain_graph=True, allow_unused=True)
        return [np.zeros(x.shape) if g is None else backend.to_numpy(g.data).astype(np.float64)
                for g, x in zip(grads, xs)]

    zeros = {j: np.zeros(outputs[j].shape) for j in differentiable}
    for i, g in zip(checked, vjp(zeros)):
        size = np.abs(g).reshape(-1)  # a host copy (reshape: np.abs of a 0-d array is a scalar)
        size[~np.isfinite(g.reshape(-1))] = np.inf  # NaN fails too
        if np.max(size, initial=0.0) > atol:
            element = [int(k) for k in np.unravel_index(np.argmax(size), g.shape)]
            raise GradcheckError(
                f"gradcheck failed for input {i} (shape {inputs[i].shape}): backward is not linear in grad_output: "
                f"with grad_output 0 for every output, the gradient at input{element} is "
                f"{g[tuple(element)]:.10g}, not 0 (does backward ignore grad_output, or add a term without it?)")
    for j in differentiable:
        v = rng.normal(size=outputs[j].shape)
        vectors = {**zeros, j: v}
        for i, g in zip(checked, vjp(vectors)):
            expected = (v.ravel() @ numerical[i][j]).reshape(g.shape)
            scale = (np.abs(v.ravel()) @ np.abs(numerical[i][j])).reshape(g.shape)  # the sum's size, before cancelling
            failure = _first_failure(g, expected, atol, rtol, scale)
            if failure is None:
                continue
            element, count = failure
            raise GradcheckError(
                f"gradcheck failed for input {i} (shape {inputs[i].shape}) and output {j} "
                f"(shape {outputs[j].shape}): backward is not linear in grad_output: with a random grad_output, "
                f"the vector-Jacobian product at input{[int(k) for k in element]} "
                f"{_compare_value(g[element], expected[element])}; {count} of {g.size} entries fail "
                f"(the one-hot rows of the Jacobian all pass: is grad_output used nonlinearly?)")


def _check(fn, inputs, checked, eps, atol, rtol, relative_eps):
    """The float64 Jacobians, linearity in grad_output, then the float32 path if an input is float32."""
    exact = leaf_copies(inputs, np.float64)
    outputs = as_outputs(fn(*exact))
    for j, y in enumerate(outputs):
        if y.dtype != np.float64:
            raise TypeError(f"gradcheck: output {j} of fn is {y.dtype} for float64 inputs; fn must not cast")
    numerical = numerical_jacobian(fn, exact, eps, relative_eps=relative_eps)
    _check_jacobians(outputs, exact, checked, numerical, atol, rtol, path="")
    _check_linearity(outputs, exact, checked, numerical, atol, rtol)
    if any(inputs[i].dtype == np.float32 for i in checked):
        as_given = leaf_copies(inputs)
        _check_jacobians(as_outputs(fn(*as_given)), as_given, checked, numerical,
                         max(atol, FLOAT32_ATOL), max(rtol, FLOAT32_RTOL),
                         path=" on the float32 path (inputs as given, backward in float32)")


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, *, relative_eps=False):
    """True when, for every output and input that requires grad, backward() matches central differences.

    `fn` returns a tensor or a tuple of tensors. Checked: the whole Jacobian in
    float64, backward's linearity in grad_output, and, for float32 inputs, the
    float32 path itself (module docstring). ``relative_eps=True`` takes the
    step eps * |x| for each element x (eps where x is 0), for functions that
    change fast near small x (``log`` at 1e-7). On failure, raises
    GradcheckError naming the input, the output and the element, the analytic
    and numerical values and their relative error (or returns False when
    ``raise_exception=False``).
    """
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True, so there is nothing to check")
    for i in checked:
        if inputs[i].dtype not in (np.float32, np.float64):
            raise TypeError(f"gradcheck: input {i} is {inputs[i].dtype}; it checks float32 and float64 inputs")
    try:
        _check(fn, inputs, checked, eps, atol, rtol, relative_eps)
    except GradcheckError:
        if raise_exception:
            raise
        return False
    return True


def gradgradcheck(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, *,
                  relative_eps=False):
    """Second derivatives checked as ``torch.autograd.gradgradcheck`` does: gradcheck of the first derivatives.

    The checked function maps (inputs, v) to d<fn(inputs), v>/d(inputs),
    computed by ``autograd.grad(..., create_graph=True)``; `v` is
    `grad_outputs` (random normal by default, in each output's dtype), and is
    an input of the check too. So every entry of the Jacobian of the gradient,
    the Hessian-vector products included, is compared with central
    differences, with gradcheck's linearity and float32 checks.
    """
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    inputs = leaf_copies(inputs)
    outputs = as_outputs(fn(*inputs))
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        grad_outputs = [Tensor(backend.get_array_module(y.data).asarray(rng.normal(size=y.shape), dtype=y.dtype),
                               requires_grad=True) for y in outputs]
    grad_outputs = leaf_copies(as_outputs(grad_outputs))
    count = len(inputs)

    def first_derivatives(*args):
        xs, vs = args[:count], args[count:]
        with enable_grad():  # also while gradcheck evaluates it for central differences
            ys = as_outputs(fn(*xs))
            differentiable = [x for x in xs if isinstance(x, Tensor) and x.requires_grad]
            grads = grad(ys, differentiable, vs, create_graph=True, allow_unused=True)
        return tuple(g if g is not None else Tensor(backend.get_array_module(x.data).zeros(x.shape, dtype=x.dtype))
                     for g, x in zip(grads, differentiable))

    exact = leaf_copies([*inputs, *grad_outputs], np.float64)
    recorded = first_derivatives(*exact)
    differentiable = [x for x in exact[:count] if isinstance(x, Tensor) and x.requires_grad]
    plain = grad(as_outputs(fn(*exact[:count])), differentiable, exact[count:], allow_unused=True)
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
    return gradcheck(first_derivatives, [*inputs, *grad_outputs], eps, atol, rtol, raise_exception,
                     relative_eps=relative_eps)
