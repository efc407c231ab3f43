"""Tools for unit tests: numerical gradients and Jacobians, relative error, and ``assert_close``.

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


# PyTorch's default tolerances (rtol, atol) by dtype: about the rounding error of a few operations.
_TOLERANCES = {np.dtype(np.float16): (1e-3, 1e-5), np.dtype(np.float32): (1.3e-6, 1e-5),
               np.dtype(np.float64): (1e-7, 1e-7)}


def assert_close(actual, expected, *, rtol=None, atol=None, equal_nan=False, check_dtype=True, msg=None):
    """Raise AssertionError unless |actual - expected| <= atol + rtol * |expected| everywhere
    (``torch.testing.assert_close``): shapes must match, dtypes too unless ``check_dtype=False``.

    Without rtol and atol, PyTorch's defaults for the dtype (float32: 1.3e-6 and 1e-5; integers: exact).
    The message counts the mismatched elements and names the worst one, by absolute and relative difference.
    """
    a, e = (backend.to_numpy(x.data if isinstance(x, Tensor) else np.asarray(x)) for x in (actual, expected))
    if a.shape != e.shape:
        raise AssertionError(msg or f"The values for attribute 'shape' do not match: {a.shape} != {e.shape}.")
    if check_dtype and a.dtype != e.dtype:
        raise AssertionError(msg or f"The values for attribute 'dtype' do not match: {a.dtype} != {e.dtype}.")
    if (rtol is None) != (atol is None):
        raise ValueError("assert_close: give both rtol and atol, or neither")
    if rtol is None:
        rtol, atol = max(_TOLERANCES.get(a.dtype, (0.0, 0.0)), _TOLERANCES.get(e.dtype, (0.0, 0.0)))
    a64, e64 = a.astype(np.float64), e.astype(np.float64)
    close = np.abs(a64 - e64) <= atol + rtol * np.abs(e64)
    close |= a64 == e64  # equal infinities
    if equal_nan:
        close |= np.isnan(a64) & np.isnan(e64)
    if close.all():
        return
    if msg is not None:
        raise AssertionError(msg)
    # The differences reported are computed as PyTorch computes them: in the inputs' common dtype (float32
    # for the relative difference of integers), so the numbers printed are PyTorch's to the last digit.
    common = np.result_type(a, e)
    work = common if common.kind == "f" else np.dtype(np.int64)
    difference = np.abs(a.astype(work) - e.astype(work))
    scale = np.abs(e.astype(work if common.kind == "f" else np.float32))
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = difference.astype(scale.dtype) / scale
    exact = rtol == 0 and atol == 0
    lines = [f"Tensor-likes are not {'equal' if exact else 'close'}!", "",
             f"Mismatched elements: {int((~close).sum())} / {close.size} ({100 * (~close).mean():.1f}%)"]
    for name, values, allowed in (("absolute", difference, atol), ("relative", relative, rtol)):
        worst = np.unravel_index(np.argmax(np.where(np.isnan(values), np.inf, values)), values.shape)
        bound = "" if exact else f" (up to {allowed} allowed)"
        lines.append(f"Greatest {name} difference: {values[worst].item()} at index {tuple(int(i) for i in worst)}"
                     f"{bound}")
    raise AssertionError("\n".join(lines))
