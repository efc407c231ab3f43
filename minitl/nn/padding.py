"""``F.pad``: widen the last dimensions with a constant or with the input's own border values.

The widths come in PyTorch's order: (left, right) of the last dim, then of the one before, and so on.
A mode says what fills the new places; along one dim of size n, output place p (counting from -left)
reads the input at

    constant   nothing: the value (0 by default); a negative width crops instead
    replicate  clip(p, 0, n - 1)                        the edge repeated     a a | a b c | c c
    reflect    (n - 1) - |(n - 1) - |p||                mirrored at the edge  c b | a b c | b a
    circular   p mod n                                  wrapped around        b c | a b c | a b

Each non-constant mode is thus an integer-array gather, ``x[..., index, ...]``, whose gradient (a
scatter-add, through ``ops.shape.GetItem``) sends each output's gradient back to the pixel it copied;
no new Function is needed.
"""
from minitl import backend
from minitl.nn.arguments import tensor_argument
from minitl.ops.shape import getitem
from minitl.ops.shape import pad as constant_pad

MODES = ("constant", "reflect", "replicate", "circular")


def _source_index(xp, size, before, after, mode):
    """Which input place (along a dim of `size`) each of the size + before + after output places copies."""
    place = xp.arange(-before, size + after)
    if mode == "replicate":
        return xp.clip(place, 0, size - 1)
    if mode == "circular":
        return place % size
    return (size - 1) - xp.abs((size - 1) - xp.abs(place))  # reflect


def _check_border_widths(x, widths, mode):
    """PyTorch's limits: reflect needs each width < the dim's size, circular <= it; none negative here."""
    for dim, (before, after) in widths.items():
        size, largest = x.shape[dim], max(before, after)
        if min(before, after) < 0:
            raise RuntimeError(f"pad: negative widths only crop, in mode 'constant'; got {(before, after)} "
                             f"for dim {dim} in mode {mode!r}")
        if mode == "reflect" and largest >= size:
            raise RuntimeError(f"pad: Padding size should be less than the corresponding input dimension, but got: "
                               f"padding ({before}, {after}) at dimension {dim} of input {tuple(x.shape)}")
        if mode == "circular" and largest > size:
            raise RuntimeError(f"pad: Padding value causes wrapping around more than once: padding ({before}, {after}) "
                             f"at dimension {dim} of input {tuple(x.shape)}")


def pad(input, pad, mode="constant", value=None):
    """PyTorch's ``F.pad``: `pad` = (left, right[, top, bottom[, front, back]]) from the last dim backwards.

    mode 'constant' fills with `value` (default 0) and pads any number of dims; 'reflect', 'replicate' and
    'circular' pad the last 1, 2 or 3 dims of a batched or unbatched input (2-D to 5-D), as in PyTorch.
    """
    x = tensor_argument(input, "pad", "input")
    pad = tuple(pad)
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise RuntimeError(f"pad: Padding length must be divisible by 2 and at most twice the {x.ndim} dims of the "
                         f"input, got {pad}")
    if mode not in MODES:
        raise NotImplementedError(f"pad: mode {mode!r} is not one of {MODES}")
    widths = {x.ndim - 1 - i: (pad[2 * i], pad[2 * i + 1]) for i in range(len(pad) // 2)}
    if mode == "constant":
        return _constant(x, widths, 0.0 if value is None else value)
    if value is not None and value != 0:
        raise RuntimeError(f"pad: Padding mode {mode!r} doesn't take in value argument")
    if not (len(widths) <= 3 and len(widths) + 1 <= x.ndim <= len(widths) + 2):
        raise NotImplementedError(f"pad: mode {mode!r} pads the last 1, 2 or 3 dims of an input with one or two "
                                  f"more dims (channels, batch); got pad {pad} for input of shape {tuple(x.shape)}")
    _check_border_widths(x, widths, mode)
    xp = backend.get_array_module(x.data)
    for dim, (before, after) in widths.items():
        if before or after:
            index = _source_index(xp, x.shape[dim], before, after, mode)
            x = getitem(x, (slice(None),) * dim + (index,))
    return x


def _constant(x, widths, value):
    """Constant padding; negative widths crop, as PyTorch's do."""
    crop = [slice(None)] * x.ndim
    for dim, (before, after) in widths.items():
        crop[dim] = slice(max(-before, 0), x.shape[dim] - max(-after, 0))
    if any(min(w) < 0 for w in widths.values()):
        x = getitem(x, tuple(crop))
    grow = [max(w, 0) for i in range(len(widths)) for w in widths[x.ndim - 1 - i]]
    return constant_pad(x, grow, value) if any(grow) else x
