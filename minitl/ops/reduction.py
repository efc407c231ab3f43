"""Reductions over dimensions: sum, mean, amax, amin, var, std, prod, logsumexp, norm, cumsum (and argmax/argmin,
all/any).

(The functions are named like the Tensor methods, so Python's own max is
``builtins.max`` here.)

``dim`` is None (all dimensions), an int or a tuple of ints, negative
allowed; ``keepdim=True`` keeps reduced dimensions with length 1. In every
backward the upstream gradient is first reshaped to the keepdim shape, so it
broadcasts against the input again.

Ties in amax/amin (and in max/min over all elements): the gradient is
shared equally by all elements that reach the extreme value, as in PyTorch;
``max(dim)``/``min(dim)`` (``ops.selection``) give it to the one index they
return.
"""
import builtins

from minitl import backend
from minitl.autograd import Function, Tensor, either


def normalize_dims(dim, ndim):
    """`dim` as a sorted tuple of non-negative axes; all axes for None or () (as PyTorch's sum(dim=()))."""
    dims = () if dim is None else (dim,) if isinstance(dim, int) else tuple(dim)
    if not dims:
        return tuple(range(ndim))
    size = builtins.max(ndim, 1)  # a 0-d tensor accepts dim 0 or -1, as in PyTorch
    for d in dims:
        if not -size <= d < size:
            raise IndexError(f"dimension {d} is out of range for a tensor with {ndim} dimensions")
    return tuple(sorted({d % size for d in dims})) if ndim else ()


def _keepdim_shape(shape, dims):
    return tuple(1 if i in dims else n for i, n in enumerate(shape))


class _Reduction(Function):
    """Shared by the reductions: remembers the axes and restores gy's reduced axes."""

    def __init__(self, dim, keepdim):
        self.dim, self.keepdim = dim, keepdim

    def _reduce_axes(self, x):
        self.x_shape = x.shape
        self.dims = normalize_dims(self.dim, x.ndim)
        return self.dims

    def _unreduced(self, gy):
        """gy reshaped so it broadcasts over the input's shape."""
        return gy.reshape(_keepdim_shape(self.x_shape, self.dims))

    def _count(self):
        count = 1
        for d in self.dims:
            count *= self.x_shape[d]
        return count


class Sum(_Reduction):
    """y = sum of x over dims;  dx = gy broadcast back to x's shape."""

    def forward(self, x):
        return x.sum(axis=self._reduce_axes(x), keepdims=self.keepdim)

    def backward(self, gy):
        return (either.broadcast_to(self._unreduced(gy), self.x_shape),)


class Mean(_Reduction):
    """y = sum(x) / n over dims;  dx = gy / n broadcast back."""

    def forward(self, x):
        return x.mean(axis=self._reduce_axes(x), keepdims=self.keepdim)

    def backward(self, gy):
        return (either.broadcast_to(self._unreduced(gy) / self._count(), self.x_shape),)


class Extremum(_Reduction):
    """y = max (or min) of x over dims;  dx = gy / k at the k elements equal to y, 0 elsewhere."""

    def __init__(self, dim, keepdim, largest):
        super().__init__(dim, keepdim)
        self.largest = largest

    def forward(self, x):
        axes = self._reduce_axes(x)
        if x.size == 0:
            raise ValueError("max()/min() of an empty tensor")
        y = x.max(axis=axes, keepdims=True) if self.largest else x.min(axis=axes, keepdims=True)
        self.hits = x == y
        return y if self.keepdim else y.reshape([n for i, n in enumerate(x.shape) if i not in axes])

    def backward(self, gy):
        ties = self.hits.sum(axis=self.dims, keepdims=True, dtype=gy.dtype)  # hits and ties are constants
        return ((self._unreduced(gy) / ties) * self.hits,)


class Var(_Reduction):
    """y = sum((x - mean)**2) / (n - correction);  dx = gy * 2 (x - mean) / (n - correction).

    correction=1 (the default, as in PyTorch) is the unbiased estimate.
    """

    def __init__(self, dim, keepdim, correction):
        super().__init__(dim, keepdim)
        self.correction = correction

    def forward(self, x):
        axes = self._reduce_axes(x)
        centered = x - x.mean(axis=axes, keepdims=True)
        self.denominator = builtins.max(self._count() - self.correction, 0)
        self.save_for_backward(x)
        return (centered * centered).sum(axis=axes, keepdims=self.keepdim) / self.denominator

    def backward(self, gy):
        (x,) = self.saved_tensors
        centered = x - x.mean(axis=self.dims, keepdims=True)  # recomputed: backward keeps x, not a copy
        return (self._unreduced(gy) * (2 / self.denominator) * centered,)


def _resolve(dim, axis, keepdim, keepdims):
    """Accept NumPy's spellings axis=/keepdims= beside PyTorch's dim=/keepdim=."""
    return (axis if dim is None else dim), bool(keepdim or keepdims)


def sum(x, dim=None, keepdim=False, *, axis=None, keepdims=False):
    return Sum(*_resolve(dim, axis, keepdim, keepdims))(x)


def _needs_floating(x, name):
    """torch's error for mean/var/std of an integer tensor (NumPy would give float64)."""
    if x.dtype.kind != "f":
        raise RuntimeError(f"{name}(): could not infer output dtype: the input must be a floating-point tensor, "
                           f"got dtype {x.dtype} (convert it with .float())")


def mean(x, dim=None, keepdim=False, *, axis=None, keepdims=False):
    _needs_floating(x, "mean")
    return Mean(*_resolve(dim, axis, keepdim, keepdims))(x)


def amax(x, dim=None, keepdim=False, *, axis=None, keepdims=False):
    """Largest values over `dim`, one int or several (values only, ``torch.amax``)."""
    return Extremum(*_resolve(dim, axis, keepdim, keepdims), largest=True)(x)


def amin(x, dim=None, keepdim=False, *, axis=None, keepdims=False):
    """Smallest values over `dim`, one int or several (values only, ``torch.amin``)."""
    return Extremum(*_resolve(dim, axis, keepdim, keepdims), largest=False)(x)


def var(x, dim=None, keepdim=False, *, correction=1, unbiased=None, axis=None, keepdims=False):
    """Variance over `dim`; ``unbiased=False`` is the same as ``correction=0``."""
    _needs_floating(x, "var")
    if unbiased is not None:
        correction = int(unbiased)
    return Var(*_resolve(dim, axis, keepdim, keepdims), correction=correction)(x)


def std(x, dim=None, keepdim=False, *, correction=1, unbiased=None, axis=None, keepdims=False):
    """Standard deviation over `dim`: the square root of ``var`` (same `correction`)."""
    return var(x, dim, keepdim, correction=correction, unbiased=unbiased, axis=axis, keepdims=keepdims).sqrt()


class Prod(_Reduction):
    """y = product of x over dims;  dx = gy * (product of the other elements).

    The product of the others is y / x at a nonzero x. At a zero of x it is
    the product of the nonzero elements if that zero is the slice's only one,
    else 0.
    """

    def forward(self, x):
        self.zero = x == 0
        self.single_zero = self.zero.sum(axis=self._reduce_axes(x), keepdims=True) == 1
        self.save_for_backward(x)
        return x.prod(axis=self.dims, keepdims=self.keepdim)

    def backward(self, gy):
        (x,) = self.saved_tensors
        nonzero = either.where(self.zero, 1, x)
        y = x.prod(axis=self.dims, keepdims=True)  # recomputed: backward keeps x, not the output
        others = either.where(self.zero, nonzero.prod(axis=self.dims, keepdims=True) * self.single_zero, y / nonzero)
        return (self._unreduced(gy) * others,)


def prod(x, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=False):
    """Product over `dim` (all elements by default); integer and bool tensors give int64, as in PyTorch."""
    if dtype is None and x.dtype.kind in "biu":
        dtype = "int64"
    return Prod(*_resolve(dim, axis, keepdim, keepdims))(x if dtype is None else x.to(dtype=dtype))


class Cumsum(Function):
    """y_i = x_1 + ... + x_i along `dim`;  dx_i = gy_i + ... + gy_n (the reversed cumulative sum)."""

    def __init__(self, dim):
        self.dim = dim

    def forward(self, x):
        return x.cumsum(axis=self.dim)

    def backward(self, gy):
        total = gy.sum(axis=self.dim, keepdims=True)
        return (total - Cumsum(self.dim).on(gy) + gy,)


def cumsum(x, dim, *, dtype=None):
    """Running sums along `dim`; integer and bool tensors give int64, as in PyTorch."""
    if dtype is None and x.dtype.kind in "biu":
        dtype = "int64"
    x = x if dtype is None else x.to(dtype=dtype)
    return Cumsum(normalize_dims(dim, x.ndim)[0] if x.ndim else 0)(x)


def logsumexp(x, dim, keepdim=False):
    """log(sum(exp(x))) over `dim`, with the max subtracted first so no exp overflows.

    Written with differentiable ops (the shift is a constant: it cancels in the derivative,
    which is softmax(x) * gy).
    """
    if x.dtype.kind != "f":
        x = x.float()
    peak = x.data.max(axis=normalize_dims(dim, x.ndim), keepdims=True)
    xp = backend.get_array_module(peak)
    shift = Tensor(xp.where(xp.isfinite(peak), peak, 0))  # rows of -inf (or with inf): no shift
    y = (x - shift).exp().sum(dim, keepdim=keepdim).log()
    return y + shift.reshape(y.shape)


class EuclideanNorm(_Reduction):
    """y = sqrt(sum x**2) over dims;  dx = gy * x / y, and 0 where y = 0 (PyTorch's choice at the kink)."""

    def forward(self, x):
        y = backend.get_array_module(x).sqrt((x * x).sum(axis=self._reduce_axes(x), keepdims=True))
        self.zero = y == 0
        self.save_for_backward(x)
        return y if self.keepdim else y.reshape([n for i, n in enumerate(x.shape) if i not in self.dims])

    def backward(self, gy):
        (x,) = self.saved_tensors
        y = (x * x).sum(axis=self.dims, keepdims=True) ** 0.5  # recomputed: backward keeps x, not the output
        return (either.where(self.zero, 0, self._unreduced(gy) * x / either.where(self.zero, 1, y)),)


def norm(x, p="fro", dim=None, keepdim=False):
    """The p-norm over `dim` (all elements by default): (sum |x|**p)**(1/p); p = 'fro' or 2 is the Euclidean
    norm, inf the largest |x|. Written with differentiable ops; as in PyTorch, p = 2 at x = 0 has gradient 0.
    """
    if x.dtype.kind != "f":
        raise RuntimeError(f"norm(): input dtype should be floating point, got {x.dtype}")
    if p in ("fro", 2):
        return EuclideanNorm(dim, keepdim)(x)
    magnitude = x.abs()
    if p == float("inf"):
        return amax(magnitude, dim, keepdim)
    if p == 1:
        return magnitude.sum(dim, keepdim=keepdim)
    return (magnitude ** p).sum(dim, keepdim=keepdim) ** (1 / p)


def argmax(x, dim=None, keepdim=False):
    """Index of the largest value (flattened when dim is None); not differentiable."""
    return Tensor(x.data.argmax(axis=dim, keepdims=keepdim))


def argmin(x, dim=None, keepdim=False):
    """Index of the smallest value (flattened when dim is None); not differentiable."""
    return Tensor(x.data.argmin(axis=dim, keepdims=keepdim))


def all(x, dim=None, keepdim=False):
    """True where every element along `dim` is nonzero (a bool tensor); not differentiable."""
    return Tensor(x.data.all(axis=dim, keepdims=keepdim))


def any(x, dim=None, keepdim=False):
    """True where some element along `dim` is nonzero (a bool tensor); not differentiable."""
    return Tensor(x.data.any(axis=dim, keepdims=keepdim))
