"""Gathering and scattering along one dimension, and selections by index or mask.

``gather(x, dim, index)`` reads ``y[i][j] = x[index[i][j]][j]`` (for dim 0):
its gradient adds gy back at the same places (a scatter-add, since an index
may repeat), and the scatter-add's gradient is a gather again. ``max(dim)``,
``sort``, ``topk``, ``median`` and ``mode`` (``ops.selection``) pick their
values with it, so each gives its gradient to the one element it chose, as in
PyTorch. ``index_select``, ``masked_fill``, ``diag``, ``tril`` and ``triu``
are indexing and ``where`` (``ops.shape``), which are differentiable already.
"""
from minitl import backend
from minitl.autograd import Function, Tensor
from minitl.ops.shape import Scatter, getitem, where


def _along(index, dim):
    """The full index tuple that puts `index` (an array) on axis `dim` and counts along the others."""
    xp = backend.get_array_module(index)
    parts = list(xp.indices(index.shape, sparse=True))
    parts[dim] = index
    return tuple(parts)


class Gather(Function):
    """y = x[..., index, ...] along `dim` (take_along_axis);  dx = zeros with gy added at the index."""

    def __init__(self, dim, index):
        self.dim, self.index = dim, index

    def forward(self, x):
        self.x_shape = x.shape
        return backend.get_array_module(x).take_along_axis(x, self.index, axis=self.dim)

    def backward(self, gy):
        return (ScatterAdd(self.dim, self.index, self.x_shape).on(gy),)


class ScatterAdd(Function):
    """y = zeros(shape) with x added at `index` along `dim` (repeats add up);  dx = gy gathered at the index."""

    def __init__(self, dim, index, shape):
        self.dim, self.index, self.shape = dim, index, shape

    def forward(self, x):
        target = backend.get_array_module(x).zeros(self.shape, dtype=x.dtype)
        backend.scatter_add(target, _along(self.index, self.dim), x)
        return target

    def backward(self, gy):
        return (Gather(self.dim, self.index).on(gy),)


def _index_array(x, dim, index):
    """`index` as an integer array on x's device, checked against x as torch checks it."""
    array = index.data if isinstance(index, Tensor) else backend.get_array_module(x.data).asarray(index)
    if array.dtype.kind not in "iu":
        raise RuntimeError(f"gather/scatter: expected an int64 index, got dtype {array.dtype}")
    if array.ndim != x.ndim:
        raise RuntimeError(f"Index tensor must have the same number of dimensions as input tensor "
                           f"({array.ndim} != {x.ndim})")
    return backend.to_device(array, x.device), dim % max(x.ndim, 1)


def gather(x, dim, index):
    """Values of x along `dim` at `index` (same number of dimensions as x): ``torch.gather``."""
    array, dim = _index_array(x, dim, index)
    return Gather(dim, array)(x)


def _source(src, index):
    """The part of src the index covers (torch reads src[:index.shape[0], :index.shape[1], ...])."""
    return src[tuple(slice(0, n) for n in index.shape)]


def scatter_add(x, dim, index, src):
    """x with src's values added at `index` along `dim` (repeated indices add up): ``torch.scatter_add``."""
    array, dim = _index_array(x, dim, index)
    return x + ScatterAdd(dim, array, x.shape)(_source(src, array))


def scatter(x, dim, index, src=None, *, value=None):
    """x with src's values (or the number `value`) written at `index` along `dim`: ``torch.scatter``.

    Where an index repeats, PyTorch leaves which value is written undefined; here the written places come
    from a mask and the values from a scatter-add, so give each place once.
    """
    array, dim = _index_array(x, dim, index)
    if src is not None and not isinstance(src, Tensor):
        src, value = None, src  # x.scatter(dim, index, 0.5): a number in src's place, as torch accepts it
    xp = backend.get_array_module(x.data)
    hit = xp.zeros(x.shape, dtype=bool)
    hit[_along(array, dim)] = True
    written = value if src is None else ScatterAdd(dim, array, x.shape)(_source(src, array))
    return where(hit, written, x)


def index_select(x, dim, index):
    """The slices of x at `index` (a 1-D integer tensor) along `dim`: ``torch.index_select``."""
    dim = dim % max(x.ndim, 1)
    return getitem(x, (slice(None),) * dim + (index,))


def masked_fill(x, mask, value):
    """x with `value` where `mask` is true (mask broadcast to x's shape); keeps x's dtype."""
    mask = mask.data if isinstance(mask, Tensor) else mask
    value = value.item() if isinstance(value, Tensor) else value
    return where(mask, backend.get_array_module(x.data).asarray(value, dtype=x.dtype).item(), x)


def diag(x, diagonal=0):
    """A 1-D tensor's values on a diagonal of a square matrix, or a matrix's diagonal as a 1-D tensor.

    diagonal = 0 is the main one, > 0 above it, < 0 below it (``torch.diag``).
    """
    xp = backend.get_array_module(x.data)
    if x.ndim == 1:
        n = x.shape[0] + abs(diagonal)
        rows = xp.arange(x.shape[0]) + max(-diagonal, 0)
        return Scatter((rows, rows + diagonal), (n, n))(x)
    if x.ndim != 2:
        raise RuntimeError(f"diag(): expected a 1-D or 2-D tensor, got shape {x.shape}")
    rows = xp.arange(max(0, min(x.shape[0] + min(diagonal, 0), x.shape[1] - max(diagonal, 0)))) + max(-diagonal, 0)
    return getitem(x, (rows, rows + diagonal))


def _triangle(x, diagonal, lower):
    if x.ndim < 2:
        raise RuntimeError(f"tril/triu: expected a tensor with at least 2 dimensions, got shape {x.shape}")
    xp = backend.get_array_module(x.data)
    below = xp.tri(x.shape[-2], x.shape[-1], k=diagonal if lower else diagonal - 1, dtype=bool)
    return where(below if lower else ~below, x, xp.zeros((), dtype=x.dtype).item())


def tril(x, diagonal=0):
    """The lower triangle of the last two dimensions (on and below `diagonal`), zeros above."""
    return _triangle(x, diagonal, lower=True)


def triu(x, diagonal=0):
    """The upper triangle of the last two dimensions (on and above `diagonal`), zeros below."""
    return _triangle(x, diagonal, lower=False)
