"""``F.interpolate``: resize the spatial dims (after N and C), by nearest neighbour or bilinearly.

Along one dim resized from `size` to `out` places, with scale = size / out (or 1 / scale_factor when
that was given, as PyTorch uses it), output place i reads

    nearest                     x[floor(i scale)]
    bilinear                    (1 - t) x[i0] + t x[i1],  i0 = floor(s), i1 = min(i0 + 1, size - 1), t = s - i0
        align_corners=True      s = i (size - 1) / (out - 1)          the corner pixels' centres line up
        align_corners=False     s = max((i + 0.5) scale - 0.5, 0)     the corner pixels' edges line up

Both are integer-array gathers (and a weighted sum) of x, so the gradient is the scatter-add of
``ops.shape.GetItem``: each output's gradient goes back to the pixels it read, weighted. Bilinear
resizes H then W, which is the same as weighting the four neighbours by (1 - t_h)(1 - t_w) etc.
"""
import math

from minitl import backend
from minitl.nn.arguments import tensor_argument
from minitl.ops.shape import getitem


def _along(x, dim, index):
    return getitem(x, (slice(None),) * dim + (index,))


def _output_sizes(x, size, scale_factor):
    """The output's spatial size, and the scale each dim uses (None: size / out)."""
    spatial = x.ndim - 2
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: only one of size or scale_factor should be defined")
    if size is not None:
        sizes = [size] * spatial if isinstance(size, int) else list(size)
        if len(sizes) != spatial:
            raise ValueError(f"interpolate: Input and output must have the same number of spatial dimensions, but "
                             f"got input with spatial dimensions of {list(x.shape[2:])} and output size of {size}")
        return sizes, [None] * spatial
    factors = [scale_factor] * spatial if isinstance(scale_factor, (int, float)) else list(scale_factor)
    if len(factors) != spatial:
        raise ValueError(f"interpolate: Input and scale_factor must have the same number of spatial dimensions, but "
                         f"got input with spatial dimensions of {list(x.shape[2:])} and scale_factor of {scale_factor}")
    return [math.floor(n * f) for n, f in zip(x.shape[2:], factors)], [1 / f for f in factors]


def _nearest(x, dim, out, scale, xp):
    size = x.shape[dim]
    scale = xp.float32(size / out if scale is None else scale)  # PyTorch computes nearest's source in float32
    index = xp.minimum(xp.floor(xp.arange(out, dtype=xp.float32) * scale).astype(xp.int64), size - 1)
    return _along(x, dim, index)


def _linear(x, dim, out, scale, align_corners, xp):
    size, place = x.shape[dim], xp.arange(out, dtype=xp.float64)
    if align_corners:
        source = place * ((size - 1) / (out - 1) if out > 1 else 0.0)
    else:
        source = xp.maximum((place + 0.5) * (size / out if scale is None else scale) - 0.5, 0.0)
    low = xp.minimum(xp.floor(source).astype(xp.int64), size - 1)
    high = xp.minimum(low + 1, size - 1)
    t = (source - low).reshape((out,) + (1,) * (x.ndim - 1 - dim))  # broadcast along the dims after `dim`
    weight_high = t.astype(x.dtype)
    return _along(x, dim, low) * (1 - weight_high) + _along(x, dim, high) * weight_high


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize (N, C, *spatial) input to `size`, or by `scale_factor`; modes 'nearest' (any number of spatial
    dims) and 'bilinear' (4-D input), with PyTorch's sampling positions (see the module docstring)."""
    x = tensor_argument(input, "interpolate", "input")
    if mode not in ("nearest", "bilinear"):
        raise NotImplementedError(f"interpolate: mode {mode!r} is not implemented; minitl has 'nearest' and "
                                  "'bilinear'")
    if mode == "nearest" and align_corners is not None:
        raise ValueError("align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear | bicubic | trilinear")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not implemented in minitl")
    if x.ndim < 3 or (mode == "bilinear" and x.ndim != 4):
        raise ValueError(f"interpolate: mode {mode!r} expects {'4-D' if mode == 'bilinear' else '3-D or more'} "
                         f"(N, C, ...) input, got shape {tuple(x.shape)}")
    sizes, scales = _output_sizes(x, size, scale_factor)
    if min(sizes) < 1:
        raise ValueError(f"interpolate: output size {sizes} must be positive (input {tuple(x.shape)})")
    if recompute_scale_factor:
        scales = [None] * len(sizes)  # size / out from the rounded output size
    xp = backend.get_array_module(x.data)
    for i, (out, scale) in enumerate(zip(sizes, scales)):
        if mode == "nearest":
            x = _nearest(x, 2 + i, out, scale, xp)
        else:
            x = _linear(x, 2 + i, out, scale, bool(align_corners), xp)
    return x
