"""Tools for gradient unit tests: numerical gradients and Jacobians, and relative error.

Both use central differences,

    dL/dx_i ~ (L(x + h e_i) - L(x - h e_i)) / (2 h),    h = eps, or eps * |x_i| with relative_eps=True,

whose error shrinks like h**2. It needs float64: in float32 the rounding
error of L, about 1e-7 * |L| / h, would swamp the result. A fixed step
cannot check a function near a point where it changes fast (log at 1e-7
with h = 1e-6 evaluates log of a negative number); a step relative to |x_i|
stays inside the function's domain and scales with it.
"""
import numpy as np

from minitl import backend
from minitl.autograd import Tensor, no_grad


def leaf_copies(inputs, dtype=None):
    """Fresh leaf copies of the floating-point tensors, cast to `dtype` (None: their own); others pass through.

    Gradient checks work on these, so the caller's arrays are never touched.
    """
    copies = []
    for x in inputs:
        if isinstance(x, Tensor) and x.dtype.kind == "f":
            copy = Tensor(x.data.astype(dtype or x.dtype, copy=True))
            copy.requires_grad = x.requires_grad
            x = copy
        copies.append(x)
    return copies


def numerical_grad(fn, inputs, eps=1e-6, grad_output=None, *, relative_eps=False):
    """Central-difference gradients of L = sum(fn(*inputs) * grad_output).

    `grad_output` defaults to ones (L = sum of the outputs). Returns one float64
    array per input, None for inputs that do not require grad. L is one output,
    so its gradient is the one row of its numerical Jacobian.
    """
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    inputs = leaf_copies(inputs, np.float64)

    def loss(*xs):
        y = fn(*xs)
        return (y if grad_output is None else y * Tensor(backend.to_device(grad_output, y.device))).sum()

    jacobians = numerical_jacobian(loss, inputs, eps, relative_eps=relative_eps)
    return [None if jacobian is None else jacobian[0].reshape(x.shape) for jacobian, x in zip(jacobians, inputs)]


def as_outputs(result):
    """fn's result as a tuple of tensors (fn may return one tensor or a tuple/list of them)."""
    outputs = tuple(result) if isinstance(result, (tuple, list)) else (result,)
    for j, y in enumerate(outputs):
        if not isinstance(y, Tensor):
            raise TypeError(f"output {j} of the checked function is a {type(y).__name__}, not a Tensor")
    return outputs


def numerical_jacobian(fn, inputs, eps=1e-6, *, relative_eps=False):
    """d(output j)/d(input i) by central differences, one input element (one column) at a time.

    The step is `eps`, or with ``relative_eps=True`` eps * |x| (eps where x is 0).
    `inputs` must be float64 tensors (see leaf_copies); they are perturbed
    in place and restored. Returns ``jacobians[i][j]``, an array of shape
    (output j's size, input i's size), or None where input i does not
    require grad. Each column comes from the outputs themselves, not from a
    weighted sum of them, so outputs of very different scales do not round
    each other away.
    """
    def flat_outputs():
        with no_grad():
            return [backend.to_numpy(y.data).astype(np.float64).ravel() for y in as_outputs(fn(*inputs))]

    sizes = [y.size for y in flat_outputs()]
    jacobians = []
    for x in inputs:
        if not (isinstance(x, Tensor) and x.requires_grad):
            jacobians.append(None)
            continue
        columns = [np.zeros((size, x.numel())) for size in sizes]
        flat = x.data.reshape(-1)  # a view: writing to it perturbs x
        for k in range(flat.size):
            original = float(flat[k])
            step = eps * abs(original) if relative_eps and original != 0 else eps
            flat[k] = original + step
            up = flat_outputs()
            flat[k] = original - step
            down = flat_outputs()
            flat[k] = original
            for column, u, d in zip(columns, up, down):
                column[:, k] = (u - d) / (2 * step)
        jacobians.append(columns)
    return jacobians


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
