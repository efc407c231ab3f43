"""Reductions over dimensions: sum, mean, max, min, var (and argmax/argmin, all/any).

(The functions are named like the Tensor methods, so Python's own max is
``builtins.max`` here.)

``dim`` is None (all dimensions), an int or a tuple of ints, negative
allowed; ``keepdim=True`` keeps reduced dimensions with length 1. In every
backward the upstream gradient is first reshaped to the keepdim shape, so it
broadcasts against the input again.

Ties in max/min: the gradient is shared equally by all elements that reach
the extreme value (PyTorch's ``amax``/``amin`` rule; ``torch.max(x, dim)``
instead gives it all to one index).
"""
import builtins

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


def mean(x, dim=None, keepdim=False, *, axis=None, keepdims=False):
    if x.dtype.kind != "f":
        raise TypeError(f"mean() needs a floating-point tensor, got dtype {x.dtype}")
    return Mean(*_resolve(dim, axis, keepdim, keepdims))(x)


def max(x, dim=None, keepdim=False, *, axis=None, keepdims=False):
    """Largest values over `dim` (values only, like ``torch.amax``)."""
    return Extremum(*_resolve(dim, axis, keepdim, keepdims), largest=True)(x)


def min(x, dim=None, keepdim=False, *, axis=None, keepdims=False):
    """Smallest values over `dim` (values only, like ``torch.amin``)."""
    return Extremum(*_resolve(dim, axis, keepdim, keepdims), largest=False)(x)


def var(x, dim=None, keepdim=False, *, correction=1, unbiased=None, axis=None, keepdims=False):
    """Variance over `dim`; ``unbiased=False`` is the same as ``correction=0``."""
    if unbiased is not None:
        correction = int(unbiased)
    return Var(*_resolve(dim, axis, keepdim, keepdims), correction=correction)(x)


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
