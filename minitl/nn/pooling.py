"""Max, average and adaptive pooling over the last two dimensions of NCHW (or unbatched CHW) input.

Windows of kh x kw pixels, moved by the stride over the input padded on each
side; the output size follows PyTorch's floor rule (``conv2d``'s, without
dilation), or with ceil_mode its ceil rule, done by adding the missing rows
and columns after the input (-inf for max, zeros for avg) before the floor rule.

max:  y[n, c, h, w] = the largest value in window (h, w) (padding counts as -inf)
      dx = gy added at each window's first maximum (PyTorch's choice among ties), 0 elsewhere
avg:  y[n, c, h, w] = the mean of window (h, w) (padding zeros counted, PyTorch's count_include_pad=True)
      dx = gy / (kh kw) added to every pixel of its window
      (other divisors: that mean times kh kw / divisor, a constant per window)

Both gradients are linear in gy, and each is a Function whose gradient is its
adjoint: max pooling's scatters gy to the maxima, and the adjoint of that
scatter gathers the values at the maxima (whose adjoint is the scatter
again); average pooling's spreads gy over the windows, and the adjoint of
spreading is average pooling itself. So higher derivatives come from the
same few Functions. The arithmetic (one whole-array operation per window
offset, threads) is in ``minitl.kernels.pooling``, beside the plain
references that define it.
"""
import functools
import math

from minitl import backend
from minitl.autograd import Function, Tensor
from minitl.kernels import pooling as kernels
from minitl.kernels.convolution import output_hw
from minitl.nn.arguments import tensor_argument
from minitl.nn.conv import pair
from minitl.ops.shape import Scatter, getitem, pad, stack, unsqueeze


class MaxPool2dFunction(Function):
    """y = the maximum of each window;  dx = gy scattered to the windows' maxima (``ScatterToMaxima``)."""

    def __init__(self, kernel, stride, padding):
        self.window = (kernel, stride, padding)

    def forward(self, x):
        self.in_hw = x.shape[2:]
        y, self.argmax = kernels.max_pool2d(x, *self.window)  # argmax: which offset of each window holds its maximum
        return y

    def backward(self, gy):
        return (ScatterToMaxima(self.argmax, self.in_hw, self.window).on(gy),)


class ScatterToMaxima(Function):
    """y = g added at each window's maximum, zeros elsewhere (max pooling's gradient, linear in g);
    dg = gy read at the maxima (``GatherAtMaxima``), the adjoint."""

    def __init__(self, argmax, in_hw, window):
        self.argmax, self.in_hw, self.window = argmax, in_hw, window

    def forward(self, g):
        return kernels.max_pool2d_backward(g, self.argmax, self.in_hw, *self.window)

    def backward(self, gy):
        return (GatherAtMaxima(self.argmax, self.in_hw, self.window).on(gy),)


class GatherAtMaxima(Function):
    """y = g at each window's maximum (the values max pooling picked, positions fixed);
    dg = gy scattered back to the maxima (``ScatterToMaxima``), the adjoint."""

    def __init__(self, argmax, in_hw, window):
        self.argmax, self.in_hw, self.window = argmax, in_hw, window

    def forward(self, g):
        return kernels.max_pool2d_gather(g, self.argmax, *self.window)

    def backward(self, gy):
        return (ScatterToMaxima(self.argmax, self.in_hw, self.window).on(gy),)


class AvgPool2dFunction(Function):
    """y = the mean of each window;  dx = gy spread evenly over each window (``SpreadOverWindows``)."""

    def __init__(self, kernel, stride, padding):
        self.window = (kernel, stride, padding)

    def forward(self, x):
        self.in_hw = x.shape[2:]
        return kernels.avg_pool2d(x, *self.window)

    def backward(self, gy):
        return (SpreadOverWindows(self.in_hw, self.window).on(gy),)


class SpreadOverWindows(Function):
    """y = g / (kh kw) added to every pixel of its window (average pooling's gradient, linear in g);
    dg = the average pooling of gy, the adjoint."""

    def __init__(self, in_hw, window):
        self.in_hw, self.window = in_hw, window

    def forward(self, g):
        return kernels.avg_pool2d_backward(g, self.in_hw, *self.window)

    def backward(self, gy):
        return (AvgPool2dFunction(*self.window).on(gy),)


def _unbatched(pool):
    """The pooling function `pool` also taking unbatched (C, H, W) input, as a batch of one (PyTorch takes both)."""
    @functools.wraps(pool)
    def run(x, *args, **kwargs):
        if tensor_argument(x, pool.__name__, "input").ndim != 3:
            return pool(x, *args, **kwargs)
        result = pool(unsqueeze(x, 0), *args, **kwargs)
        return tuple(r.squeeze(0) for r in result) if isinstance(result, tuple) else result.squeeze(0)
    return run


def _ceil_extra(size, kernel, stride, padding):
    """Rows to add after the input so that the floor rule gives ceil_mode's size: ceil((size + 2p - k) / s) + 1,
    less one when that last window would start in the right-hand padding (PyTorch's rule)."""
    out = -(-(size + 2 * padding - kernel) // stride) + 1
    if (out - 1) * stride >= size + padding:
        out -= 1
    return max((out - 1) * stride + kernel - 2 * padding - size, 0)


def _pool_arguments(x, kernel_size, stride, padding, ceil_mode, name):
    """(kernel, stride, padding, extra): the window as pairs, and the (rows, columns) ceil_mode adds after x."""
    if x.ndim != 4:
        raise ValueError(f"{name} expects 3-D (C, H, W) or 4-D (N, C, H, W) input, got shape {x.shape}")
    kernel = pair(kernel_size, "kernel_size")
    stride = kernel if stride is None else pair(stride, "stride")
    padding = pair(padding, "padding")
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(f"{name}: padding {padding} must be at most half the kernel size {kernel}")
    if min(output_hw(x.shape[2:], kernel, stride, padding)) < 1:
        raise ValueError(f"{name}: input {x.shape} is too small for kernel {kernel} with padding {padding}")
    extra = tuple(_ceil_extra(x.shape[2 + d], kernel[d], stride[d], padding[d]) if ceil_mode else 0 for d in range(2))
    return kernel, stride, padding, extra


def _flat_indices(argmax, kernel, stride, padding, width):
    """Each window's maximum as an index into its input plane flattened (row * W + column), PyTorch's indices."""
    xp = backend.get_array_module(argmax)
    out_h, out_w = argmax.shape[2:]
    row = xp.arange(out_h).reshape(-1, 1) * stride[0] - padding[0] + argmax // kernel[1]
    column = xp.arange(out_w) * stride[1] - padding[1] + argmax % kernel[1]
    return Tensor(row.astype(xp.int64) * width + column)


@_unbatched
def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Largest value of each window; stride defaults to the kernel size; padding counts as -inf.

    ceil_mode=True keeps a last, partial window (PyTorch's rule, see ``_ceil_extra``); return_indices=True also
    returns where each maximum is, as an index into its flattened (H, W) input plane (for ``max_unpool2d``).
    """
    if pair(dilation, "dilation") != (1, 1):
        raise NotImplementedError(f"max_pool2d: dilation {dilation} is not implemented in minitl (only 1)")
    kernel, stride, padding, extra = _pool_arguments(x, kernel_size, stride, padding, ceil_mode, "max_pool2d")
    function = MaxPool2dFunction(kernel, stride, padding)
    y = function(pad(x, (0, extra[1], 0, extra[0]), value=-math.inf) if any(extra) else x)
    return (y, _flat_indices(function.argmax, kernel, stride, padding, x.shape[3])) if return_indices else y


@_unbatched
def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None):
    """Mean of each window; stride defaults to the kernel size.

    The divisor is divisor_override if given; otherwise the window's size within the padded input
    (count_include_pad=True, PyTorch's default: padding zeros count, the rows ceil_mode adds do not), or
    its number of input pixels (count_include_pad=False). Computed as kh kw times the plain mean, over the
    divisor: the divisors are the pooled sums of a ones mask.
    """
    kernel, stride, padding, extra = _pool_arguments(x, kernel_size, stride, padding, ceil_mode, "avg_pool2d")
    grow = (0, extra[1], 0, extra[0])
    y = AvgPool2dFunction(kernel, stride, padding)(pad(x, grow) if any(extra) else x)
    if divisor_override is not None:
        return y * (kernel[0] * kernel[1] / divisor_override)
    if count_include_pad and not any(extra):
        return y
    xp = backend.get_array_module(x.data)
    counted = xp.ones((1, 1) + x.shape[2:], dtype=x.dtype)  # 1 at each pixel that counts, then pooled
    window_padding = padding
    if count_include_pad:  # the padding counts too: ones there, and the mask pooled unpadded
        counted = xp.pad(counted, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2), constant_values=1)
        window_padding = (0, 0)
    counted = kernels.avg_pool2d(xp.pad(counted, ((0, 0), (0, 0), (0, extra[0]), (0, extra[1]))),
                                 kernel, stride, window_padding)
    return y / counted  # counted: each window's share of real pixels (its divisor over kh kw)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """max_pool2d's partial inverse: each value put back at its index (from return_indices=True), zeros elsewhere.

    Output size per dim: (size - 1) stride - 2 padding + kernel, or output_size. A scatter (``ops.shape.Scatter``),
    so the gradient reads gy at the indices.
    """
    x = tensor_argument(input, "max_unpool2d", "input")
    indices = tensor_argument(indices, "max_unpool2d", "indices")
    if x.ndim == 3:
        return max_unpool2d(unsqueeze(x, 0), unsqueeze(indices, 0), kernel_size, stride, padding,
                            output_size).squeeze(0)
    if x.ndim != 4 or indices.shape != x.shape:
        raise ValueError(f"max_unpool2d expects 3-D or 4-D input and indices of its shape, got {x.shape} and "
                         f"{indices.shape}")
    kernel = pair(kernel_size, "kernel_size")
    stride = kernel if stride is None else pair(stride, "stride")
    padding = pair(padding, "padding")
    if output_size is None:
        out_hw = tuple((x.shape[2 + d] - 1) * stride[d] - 2 * padding[d] + kernel[d] for d in range(2))
    else:
        out_hw = tuple(output_size)[-2:]
    n, c = x.shape[:2]
    plane = out_hw[0] * out_hw[1]
    flat = indices.data.reshape(n, c, -1)
    if flat.size and (flat.min() < 0 or flat.max() >= plane):
        raise ValueError(f"max_unpool2d: Found an invalid max index {int(flat.max())} (output volumes are of size "
                         f"{out_hw[0]}x{out_hw[1]})")
    xp = backend.get_array_module(flat)
    index = (xp.arange(n).reshape(-1, 1, 1), xp.arange(c).reshape(1, -1, 1), flat)
    return Scatter(index, (n, c, plane))(x.reshape(n, c, -1)).reshape(n, c, *out_hw)


def _bins(size, out):
    """PyTorch's adaptive bins: output i covers [floor(i size / out), ceil((i + 1) size / out))."""
    return [(i * size // out, -(-(i + 1) * size // out)) for i in range(out)]


def _adaptive_size(x, output_size, name):
    if tensor_argument(x, name, "input").ndim != 4:
        raise ValueError(f"{name} expects 3-D (C, H, W) or 4-D (N, C, H, W) input, got shape {x.shape}")
    sizes = (output_size, output_size) if output_size is None or isinstance(output_size, int) else output_size
    return tuple(x.shape[2 + d] if n is None else n for d, n in enumerate(pair(sizes, "output_size")))


def _over_bins(x, out_hw, reduce):
    """reduce(x[..., bin]) for every (row bin, column bin), stacked into (N, C, out_h, out_w)."""
    rows = []
    for top, bottom in _bins(x.shape[2], out_hw[0]):
        row = [reduce(getitem(x, (slice(None), slice(None), slice(top, bottom), slice(left, right))))
               for left, right in _bins(x.shape[3], out_hw[1])]
        rows.append(stack(row, dim=-1))
    return stack(rows, dim=-2)


@_unbatched
def adaptive_avg_pool2d(x, output_size):
    """Average over PyTorch's bins (``_bins``); None in output_size keeps that dim's size.

    When the size divides, the bins are equal windows: plain average pooling.
    Otherwise bins differ in size and overlap; each is averaged separately.
    """
    out_h, out_w = _adaptive_size(x, output_size, "adaptive_avg_pool2d")
    h, w = x.shape[2:]
    if h % out_h == 0 and w % out_w == 0:
        return avg_pool2d(x, (h // out_h, w // out_w))
    return _over_bins(x, (out_h, out_w), lambda part: part.mean(dim=(2, 3)))


@_unbatched
def adaptive_max_pool2d(x, output_size, return_indices=False):
    """Maximum over PyTorch's bins (``_bins``); return_indices=True also returns where each maximum is, as an
    index into the flattened (H, W) input plane. Equal windows when the size divides: plain max pooling."""
    out_h, out_w = _adaptive_size(x, output_size, "adaptive_max_pool2d")
    h, w = x.shape[2:]
    if h % out_h == 0 and w % out_w == 0:
        return max_pool2d(x, (h // out_h, w // out_w), return_indices=return_indices)
    y = _over_bins(x, (out_h, out_w), lambda part: part.amax(dim=(2, 3)))
    if not return_indices:
        return y
    xp = backend.get_array_module(x.data)
    indices = xp.empty(y.shape, dtype=xp.int64)
    for i, (top, bottom) in enumerate(_bins(h, out_h)):
        for j, (left, right) in enumerate(_bins(w, out_w)):
            part = x.data[:, :, top:bottom, left:right]
            first = part.reshape(*part.shape[:2], -1).argmax(axis=-1)  # the first maximum, as PyTorch picks
            indices[:, :, i, j] = (top + first // part.shape[3]) * w + left + first % part.shape[3]
    return y, Tensor(indices)
