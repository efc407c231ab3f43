"""Values chosen by their rank: max/min along a dimension, sort, argsort, topk, median, mode.

Each finds the indices first (on arrays, not differentiable) and then takes
the values with ``ops.indexing.Gather``, so the gradient goes to the element
chosen, as in PyTorch's ``max(dim)`` (``amax``, in ``ops.reduction``, shares
it among tied elements instead). The pairs come back as PyTorch's
``torch.return_types`` (``ops.return_types``): named tuples with ``.values`` and ``.indices``, so
``values, idx = out.max(1)`` and ``out.max(1)[1]`` both work.
"""
import builtins

from minitl import backend
from minitl.autograd import Tensor
from minitl.ops import return_types
from minitl.ops.arithmetic import maximum, minimum
from minitl.ops.indexing import Gather
from minitl.ops.reduction import amax, amin, normalize_dims


def _one_dim(x, dim):
    if not isinstance(dim, int):
        raise TypeError(f"expected an int for dim, got {dim!r} (amax/amin reduce over several dimensions)")
    return normalize_dims(dim, x.ndim)[0]


def _taken(result_type, x, indices, dim, keepdim):
    """(values, indices) for indices of keepdim shape along `dim`, as `result_type`."""
    values = Gather(dim, indices)(x)
    if not keepdim:
        values, indices = values.squeeze(dim), indices.squeeze(dim)
    return result_type(values, Tensor(indices))


def _of_scalar(result_type, pair):
    """A 0-dim tensor's pair, from the pair of its 1-element reshape (torch keeps the 0-dim shape)."""
    return result_type(pair.values.reshape(()), Tensor(pair.indices.data.reshape(())))


def _checked_size(x, dim, name):
    if x.ndim and x.shape[dim] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {dim} to have non-zero size")


def _extreme(x, dim, keepdim, largest):
    if isinstance(dim, Tensor):  # torch.max(a, b) is the elementwise maximum
        return (maximum if largest else minimum)(x, dim)
    if dim is None:
        return amax(x) if largest else amin(x)
    if x.ndim == 0:  # torch accepts dim 0 or -1 of a scalar: the value and index 0
        pair = _extreme(x.reshape(1), dim, keepdim, largest)
        return _of_scalar(return_types.max if largest else return_types.min, pair)
    dim = _one_dim(x, dim)
    _checked_size(x, dim, "max" if largest else "min")
    indices = (x.data.argmax if largest else x.data.argmin)(axis=dim, keepdims=True)
    return _taken(return_types.max if largest else return_types.min, x, indices, dim, keepdim)


def max(x, dim=None, keepdim=False, *, axis=None, keepdims=False):
    """The largest value; with `dim`, the pair (values, indices) along it (``torch.max``).

    ``tl.max(a, b)`` with a tensor `b` is the elementwise maximum, as in PyTorch.
    """
    return _extreme(x, axis if dim is None else dim, keepdim or keepdims, True)


def min(x, dim=None, keepdim=False, *, axis=None, keepdims=False):
    """The smallest value; with `dim`, the pair (values, indices) along it (``torch.min``)."""
    return _extreme(x, axis if dim is None else dim, keepdim or keepdims, False)


def _sort_indices(data, dim, descending):
    """Indices that sort `data` along `dim`; ties keep their order (stable), in both directions."""
    xp = backend.get_array_module(data)
    if not descending:
        return xp.argsort(data, axis=dim, kind="stable")
    reversed_order = xp.flip(xp.argsort(xp.flip(data, axis=dim), axis=dim, kind="stable"), axis=dim)
    return data.shape[dim] - 1 - reversed_order  # descending, ties in their first-come order


def sort(x, dim=-1, descending=False, stable=False):
    """(values, indices) sorted along `dim` (``torch.sort``; minitl's sort is always stable)."""
    if x.ndim == 0:
        return _of_scalar(return_types.sort, sort(x.reshape(1), 0, descending))
    dim = _one_dim(x, dim)
    indices = _sort_indices(x.data, dim, descending)
    return _taken(return_types.sort, x, indices, dim, keepdim=True)


def argsort(x, dim=-1, descending=False, stable=False):
    """The indices that sort x along `dim` (``torch.argsort``)."""
    return sort(x, dim, descending, stable).indices


def topk(x, k, dim=-1, largest=True, sorted=True):
    """The k largest (or smallest) values along `dim` and their indices, largest first (``torch.topk``)."""
    if x.ndim == 0:
        return _of_scalar(return_types.topk, topk(x.reshape(1), k, 0, largest))
    dim = _one_dim(x, dim)
    if not 0 <= k <= x.shape[dim]:
        raise RuntimeError(f"topk(): selected index k={k} is out of range for a dimension of size {x.shape[dim]}")
    indices = _sort_indices(x.data, dim, descending=largest)[(builtins.slice(None),) * dim + (builtins.slice(0, k),)]
    return _taken(return_types.topk, x, indices, dim, keepdim=True)


def median(x, dim=None, keepdim=False):
    """The lower median (the middle value, the lower of the two middle ones for an even count).

    Without `dim`, over all elements (one value); with `dim`, the pair (values, indices) (``torch.median``).
    """
    if dim is None:
        flat = x.reshape(-1)
        if flat.shape[0] == 0:
            return Tensor(backend.get_array_module(x.data).asarray(float("nan"), dtype=x.dtype))
        middle = _sort_indices(flat.data, 0, descending=False)[(flat.shape[0] - 1) // 2]
        return Gather(0, middle.reshape(1))(flat).reshape(())
    if x.ndim == 0:
        return _of_scalar(return_types.median, median(x.reshape(1), 0))
    dim = _one_dim(x, dim)
    _checked_size(x, dim, "median")
    data = x.data
    order = _sort_indices(data, dim, descending=False)
    middle = (data.shape[dim] - 1) // 2
    indices = order[(builtins.slice(None),) * dim + (builtins.slice(middle, middle + 1),)]
    return _taken(return_types.median, x, indices, dim, keepdim)


def mode(x, dim=-1, keepdim=False):
    """The most frequent value along `dim` (the smallest of equally frequent ones) and the index of its last
    occurrence, as PyTorch's ``torch.mode`` on the CPU."""
    if x.ndim == 0:
        return _of_scalar(return_types.mode, mode(x.reshape(1), 0))
    dim = _one_dim(x, dim)
    data = x.data
    _checked_size(x, dim, "mode")
    xp = backend.get_array_module(data)
    moved = xp.moveaxis(data, dim, -1)
    equal = moved[..., :, None] == moved[..., None, :]  # (..., n, n): which elements equal each one
    counts = equal.sum(axis=-1)
    best = counts.max(axis=-1, keepdims=True)
    candidates = xp.where(counts == best, moved, moved.max(axis=-1, keepdims=True))
    value = candidates.min(axis=-1, keepdims=True)  # the smallest of the most frequent values
    positions = xp.arange(moved.shape[-1])
    last = xp.where(moved == value, positions, -1).max(axis=-1, keepdims=True)
    return _taken(return_types.mode, x, xp.moveaxis(last, -1, dim), dim, keepdim)
