"""Operations that move values around without changing them.

Reshape, transpose, expand, indexing, concatenation, selection and
padding. Each backward routes the upstream gradient back to where each
value came from: reshape back, transpose back, scatter into a zero array for
indexing (adding, not overwriting, when an index repeats), slice apart for
concatenation. Expanded (broadcast) inputs get the gradient of the expanded
shape, which the engine sums back.
"""
from minitl import backend
from minitl.autograd import Function, Tensor, either
from minitl.ops.promotion import promote


def shape_args(shape):
    """Accept both f(2, 3) and f((2, 3)), as PyTorch does."""
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else tuple(shape)


class Reshape(Function):
    """y = x with a new shape (same elements in row-major order);  dx = gy reshaped back."""

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.x_shape = x.shape
        return x.reshape(self.shape)

    def backward(self, gy):
        return (gy.reshape(self.x_shape),)


class Permute(Function):
    """y = x with its axes reordered;  dx = gy with the inverse order."""

    def __init__(self, axes):
        self.axes = axes

    def forward(self, x):
        return x.transpose(self.axes)

    def backward(self, gy):
        return (Permute(self._inverse()).on(gy),)

    def _inverse(self):
        inverse = [0] * len(self.axes)
        for position, axis in enumerate(self.axes):
            inverse[axis] = position
        return inverse


class Expand(Function):
    """y = x broadcast to a larger shape (a view);  dx = gy, summed back over the stretched axes by the engine."""

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        return backend.get_array_module(x).broadcast_to(x, self.shape)

    def backward(self, gy):
        return (gy,)


class GetItem(Function):
    """y = x[index];  dx = zeros with gy added at the indexed places.

    Integer-array indices may repeat an element (x[[0, 0]]): then its
    gradient is the sum of both uses, hence scatter-add instead of assignment.
    """

    def __init__(self, index):
        self.index = index

    def forward(self, x):
        self.x_shape = x.shape
        return x[self.index]

    def backward(self, gy):
        return (Scatter(self.index, self.x_shape).on(gy),)


def _scattered(values, index, shape):
    """zeros(shape) with `values` added at `index` (repeated integer indices add up)."""
    xp = backend.get_array_module(values)
    target = xp.zeros(shape, dtype=values.dtype)
    parts = index if isinstance(index, tuple) else (index,)
    if any(backend.is_array(p) and p.dtype.kind in "iu" for p in parts):
        backend.scatter_add(target, index, values)
    else:
        target[index] = values
    return target


class Scatter(Function):
    """y = zeros with x added at `index` (GetItem's backward, as an op for create_graph);  dx = gy[index]."""

    def __init__(self, index, shape):
        self.index, self.shape = index, shape

    def forward(self, x):
        return _scattered(x, self.index, self.shape)

    def backward(self, gy):
        return (GetItem(self.index).on(gy),)


class SetItem(Function):
    """y = x with v written at `index` (``x[index] = v``, v broadcast and cast to x's dtype);
    dx = gy with zeros where v was written (those values of x are gone);  dv = gy[index].
    """

    def __init__(self, index):
        self.index = index

    def forward(self, x, v):
        y = x.copy()
        y[self.index] = v
        self.kept = backend.get_array_module(x).ones(x.shape, dtype=bool)  # a constant mask, not a value
        self.kept[self.index] = False
        return y

    def backward(self, gy):
        return either.where(self.kept, gy, 0), GetItem(self.index).on(gy)


def _index_array(part, xp):
    """One part of an index: Tensors and lists become arrays; ints, slices, None, ... stay."""
    if isinstance(part, Tensor):
        return part.data
    if isinstance(part, list):
        return xp.asarray(part)
    return part


class Cat(Function):
    """y = the inputs joined along `dim`;  each dx = its slice of gy."""

    def __init__(self, dim):
        self.dim = dim

    def forward(self, *xs):
        self.sizes = [x.shape[self.dim] for x in xs]
        return backend.get_array_module(xs[0]).concatenate(xs, axis=self.dim)

    def backward(self, gy):
        grads, start = [], 0
        for size in self.sizes:
            index = [slice(None)] * gy.ndim
            index[self.dim] = slice(start, start + size)
            grads.append(gy[tuple(index)])  # Tensor indexing records itself under create_graph
            start += size
        return tuple(grads)


class Where(Function):
    """y = a where condition else b;  da = gy where condition, db = gy elsewhere."""

    def __init__(self, condition):
        self.condition = condition

    def forward(self, a, b):
        return backend.get_array_module(a).where(self.condition, a, b)

    def backward(self, gy):
        ga = either.where(self.condition, gy, 0) if self.needs_input_grad[0] else None
        gb = either.where(self.condition, 0, gy) if self.needs_input_grad[1] else None
        return ga, gb


class Pad(Function):
    """y = x surrounded by a constant;  dx = the middle of gy."""

    def __init__(self, widths, value):
        self.widths, self.value = widths, value

    def forward(self, x):
        xp = backend.get_array_module(x)
        return xp.pad(x, self.widths, mode="constant", constant_values=self.value)

    def backward(self, gy):
        return (gy[tuple(slice(before, gy.shape[i] - after) for i, (before, after) in enumerate(self.widths))],)


def reshape(x, *shape):
    return Reshape(shape_args(shape))(x)


def flatten(x, start_dim=0, end_dim=-1):
    """Merge dimensions start_dim..end_dim into one."""
    if x.ndim == 0:
        return reshape(x, 1)
    start, end = start_dim % x.ndim, end_dim % x.ndim
    merged = 1
    for n in x.shape[start:end + 1]:
        merged *= n
    return reshape(x, x.shape[:start] + (merged,) + x.shape[end + 1:])


def permute(x, *dims):
    axes = tuple(d % x.ndim for d in shape_args(dims))
    if sorted(axes) != list(range(x.ndim)):
        raise ValueError(f"permute() needs each of the {x.ndim} dimensions once, got {dims}")
    return Permute(axes)(x)


def transpose(x, dim0, dim1):
    """Swap two dimensions (PyTorch's meaning, not NumPy's)."""
    axes = list(range(x.ndim))
    axes[dim0], axes[dim1] = axes[dim1], axes[dim0]
    return Permute(tuple(axes))(x)


def T(x):
    """All dimensions reversed (a matrix transpose for 2-D)."""
    return Permute(tuple(reversed(range(x.ndim))))(x)


def t(x):
    """The transpose of a matrix; a 0-D or 1-D tensor as it is (``torch.t``)."""
    if x.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, got shape {x.shape}: use transpose(dim0, dim1)")
    return T(x)


def unsqueeze(x, dim):
    """Insert a dimension of length 1 at `dim` (negative counts from the new end)."""
    dim = dim % (x.ndim + 1)
    return reshape(x, x.shape[:dim] + (1,) + x.shape[dim:])


def squeeze(x, dim=None):
    """Drop dimensions of length 1 (only `dim` when given, if its length is 1)."""
    if dim is None:
        shape = tuple(n for n in x.shape if n != 1)
    else:
        dim = dim % max(x.ndim, 1)
        shape = x.shape if x.ndim == 0 or x.shape[dim] != 1 else x.shape[:dim] + x.shape[dim + 1:]
    return reshape(x, shape)


def expand(x, *sizes):
    """Broadcast to `sizes`; -1 keeps a dimension's size (as in PyTorch)."""
    sizes = shape_args(sizes)
    offset = len(sizes) - x.ndim
    shape = tuple(x.shape[i - offset] if n == -1 else n for i, n in enumerate(sizes))
    return Expand(shape)(x)


def backend_index(x, index):
    """An index of x (ints, slices, None, ..., lists, Tensors, or a tuple of them) in terms of arrays."""
    xp = backend.get_array_module(x.data)
    if isinstance(index, tuple):
        return tuple(_index_array(part, xp) for part in index)
    return _index_array(index, xp)


def getitem(x, index):
    return GetItem(backend_index(x, index))(x)


def cat(tensors, dim=0):
    """Join tensors along an existing dimension (mixed dtypes are promoted, as in PyTorch)."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat() needs at least one tensor")
    dim = dim % tensors[0].ndim
    return Cat(dim)(*promote("cat", *tensors))


def stack(tensors, dim=0):
    """Join tensors along a new dimension."""
    return cat([unsqueeze(t, dim) for t in tensors], dim)


def where(condition, a, b):
    """Elementwise choice: a where condition is true, else b (numbers allowed; dtypes promoted as in PyTorch)."""
    condition = condition.data if isinstance(condition, Tensor) else condition
    a, b = promote("where", a, b)
    condition = backend.to_device(backend.get_array_module(condition).asarray(condition), a.device)  # a host mask
    return Where(condition)(a, b)


def pad(x, pad, value=0.0):
    """Constant padding, PyTorch's order: (left, right) of the last dim, then the one before..."""
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(f"pad needs (before, after) pairs for at most {x.ndim} dimensions, got {pad}")
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    return Pad(tuple(widths), value)(x)


def _slice_along(x, dim, start, stop):
    return getitem(x, (slice(None),) * dim + (slice(start, stop),))


def split(x, split_size_or_sections, dim=0):
    """Pieces of x along `dim`: each of split_size (the last may be shorter), or of the listed sizes."""
    dim = dim % x.ndim
    length = x.shape[dim]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        sizes = [min(step, length - start) for start in range(0, length, step)] if step > 0 else []
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != length:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {length} "
                               f"(input tensor's size at dimension {dim}), but got split_sizes={sizes}")
    pieces, start = [], 0
    for size in sizes:
        pieces.append(_slice_along(x, dim, start, start + size))
        start += size
    return tuple(pieces)


def chunk(x, chunks, dim=0):
    """x split into `chunks` pieces along `dim` of ceil(length / chunks) each (fewer if it runs out)."""
    length = x.shape[dim % x.ndim]
    return split(x, max(-(-length // chunks), 1), dim)


def unbind(x, dim=0):
    """The slices of x along `dim`, each without that dimension."""
    dim = dim % x.ndim
    return tuple(getitem(x, (slice(None),) * dim + (i,)) for i in range(x.shape[dim]))


def repeat(x, *sizes):
    """x tiled `sizes` times along each dimension (``torch.Tensor.repeat``: np.tile's meaning).

    Written as reshape, expand and reshape, so the gradient is their backward: the copies summed.
    """
    sizes = shape_args(sizes)
    if len(sizes) < x.ndim:
        raise RuntimeError(f"repeat(): the number of repeats ({len(sizes)}) can't be smaller than the number of "
                           f"dimensions of the tensor ({x.ndim})")
    shape = (1,) * (len(sizes) - x.ndim) + x.shape
    interleaved = [n for pair in zip((1,) * len(shape), shape) for n in pair]  # (1, n1, 1, n2, ...)
    stretched = [n for pair in zip(sizes, shape) for n in pair]  # (r1, n1, r2, n2, ...)
    tiled = tuple(r * n for r, n in zip(sizes, shape))
    return reshape(expand(reshape(x, interleaved), stretched), tiled)
