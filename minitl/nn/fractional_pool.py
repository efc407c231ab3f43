"""Fractional max pooling (Graham, 2014): max pooling that shrinks by a non-integer factor such as 1/sqrt(2).

Ordinary 2x2 max pooling halves the size at once; with fractional pooling
each layer shrinks by a ratio between 1/2 and 1, so a network can have many
more pooling layers. Windows are kernel_size x kernel_size squares whose
top-left corners form a random increasing sequence, drawn anew for every
forward pass: the randomness regularises, like dropout.

Where the windows start (PyTorch's rule, which we reproduce exactly). Along
one axis, with input size n, output size m and kernel k, one uniform sample
u in [0, 1) per (sample, channel) and axis gives

    alpha = (n - k) / (m - 1)
    start_i = int((i + u) * alpha) - int(u * alpha)      for i = 0 .. m - 2
    start_{m-1} = n - k                                  (the last window ends at the border)

so consecutive starts differ by floor(alpha) or ceil(alpha) (a pseudo-random
sequence in Graham's terms). The arithmetic is done in the input's dtype, as
PyTorch does, so float32 picks the same windows as PyTorch in float32.
``_random_samples`` of shape (N, C, 2) holds u: [..., 0] for the width,
[..., 1] for the height.

    y[n, c, i, j] = max over the window at rows start_h[i] + 0..k-1, cols start_w[j] + 0..k-1
    dx            = gy added at each window's first maximum (row-major order; a NaN wins),
                    summed where windows overlap

``return_indices=True`` also returns those positions as flat indices
row * W + col into each input plane, as PyTorch does.
"""
import math

from minitl import backend, random
from minitl.autograd import Function, Tensor
from minitl.nn.conv import pair
from minitl.nn.module import Module
from minitl.ops.shape import Scatter


def window_starts(samples, input_size, output_size, kernel):
    """PyTorch's window start positions along one axis: (..., output_size) int64 from samples (...)."""
    xp = backend.get_array_module(samples)
    dtype = samples.dtype
    starts = xp.empty(samples.shape + (output_size,), dtype=xp.int64)
    if output_size > 1:
        alpha = dtype.type(input_size - kernel) / dtype.type(output_size - 1)
        steps = xp.arange(output_size - 1).astype(dtype)
        u = samples[..., None]
        starts[..., :-1] = ((steps + u) * alpha).astype(xp.int64) - (u * alpha).astype(xp.int64)
    starts[..., -1] = input_size - kernel
    return starts


class _FractionalMaxPool(Function):
    """Max over the windows at rows ``starts_h`` and columns ``starts_w`` of each (N, C) plane."""

    def __init__(self, kernel, starts_h, starts_w):
        self.kernel, self.starts_h, self.starts_w = kernel, starts_h, starts_w

    def forward(self, x):
        xp = backend.get_array_module(x)
        n, c, h, w = x.shape
        self.input_shape = x.shape
        # Each window element as a position in the flattened input: plane (n, c) starts at (n C + c) H W.
        planes = (xp.arange(n * c) * (h * w)).reshape(n, c, 1, 1)
        corners = planes + self.starts_h[..., :, None] * w + self.starts_w[..., None, :]  # (N, C, OH, OW)
        flat_x = x.ravel()  # a copy only when x is not contiguous
        y = self.positions = None
        for i in range(self.kernel[0]):  # row-major over the window, so ties go to the first maximum
            for j in range(self.kernel[1]):
                positions = corners + (i * w + j)
                values = flat_x.take(positions)
                if y is None:
                    y, self.positions = values, positions
                    continue
                # A later element takes over only where strictly greater (ties stay with the first), or
                # where it is NaN: PyTorch's rule, under which a NaN propagates.
                better = (values > y) | xp.isnan(values)
                xp.copyto(self.positions, positions, where=better)
                xp.maximum(y, values, out=y)  # maximum propagates NaN too
        return y

    @property
    def indices(self):
        """The maxima's positions as PyTorch returns them: row * W + col within each input plane."""
        return self.positions % (self.input_shape[2] * self.input_shape[3])

    def backward(self, gy):
        """dx = gy added at each window's maximum: a scatter (ops.shape.Scatter, whose gradient gathers back). Windows
        may overlap, so one input pixel can be the maximum of several windows: its gradients add up (in output order,
        as PyTorch does, so float32 sums round alike)."""
        size = math.prod(self.input_shape)
        return (Scatter(self.positions.ravel(), (size,)).on(gy.reshape(-1)).reshape(self.input_shape),)


def _check_size_arguments(output_size, output_ratio):
    """Exactly one of output_size and output_ratio; the ratio as a pair of numbers in (0, 1)."""
    if (output_size is None) == (output_ratio is None):
        raise ValueError("fractional_max_pool2d: give exactly one of output_size and output_ratio, got "
                         f"output_size={output_size!r}, output_ratio={output_ratio!r}")
    if output_ratio is None:
        return None
    ratio = (output_ratio, output_ratio) if isinstance(output_ratio, (int, float)) else tuple(output_ratio)
    if len(ratio) != 2 or not all(0 < r < 1 for r in ratio):
        raise ValueError(f"fractional_max_pool2d: output_ratio must be one or two numbers in (0, 1), "
                         f"got {output_ratio!r}")
    return ratio


def _output_size(x, output_size, output_ratio):
    ratio = _check_size_arguments(output_size, output_ratio)
    if ratio is None:
        return pair(output_size, "output_size")
    return int(x.shape[-2] * ratio[0]), int(x.shape[-1] * ratio[1])


def _check_samples(samples, x):
    n, c = x.shape[:2]
    if samples.ndim != 3 or samples.shape[2] != 2 or samples.shape[0] < n or samples.shape[1] != c:
        raise ValueError(f"fractional_max_pool2d: _random_samples must have shape (N, C, 2) = ({n}, {c}, 2) for "
                         f"input {x.shape}, got {samples.shape}")
    if samples.dtype != x.dtype:
        raise TypeError(f"fractional_max_pool2d: _random_samples are {samples.dtype} but the input is {x.dtype}; "
                        "they must have the input's dtype (it sets the precision of the window positions)")


def fractional_max_pool2d(x, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                          _random_samples=None):
    """Fractional max pooling of (N, C, H, W) or (C, H, W) input (see the module docstring).

    Exactly one of `output_size` (int or (OH, OW)) and `output_ratio` (in (0, 1):
    OH = int(H * ratio)) sets the output size. `_random_samples` (N, C, 2) fixes
    the windows (in [0, 1), the input's dtype); by default they are drawn from
    minitl's generator, anew at every call.
    """
    if x.ndim not in (3, 4):
        raise ValueError(f"fractional_max_pool2d expects (N, C, H, W) or (C, H, W) input, got shape {x.shape}")
    batched = x if x.ndim == 4 else x.unsqueeze(0)
    kernel = pair(kernel_size, "kernel_size")
    out_h, out_w = _output_size(batched, output_size, output_ratio)
    (n, c, h, w) = batched.shape
    for name, out, size, k in (("height", out_h, h, kernel[0]), ("width", out_w, w, kernel[1])):
        if out < 1 or out + k - 1 > size:
            raise ValueError(f"fractional_max_pool2d: output {name} {out} with pool {name} {k} needs an input "
                             f"{name} of at least {out + k - 1}, got input of shape {x.shape}")
    if _random_samples is None:
        samples = random.uniform((n, c, 2), dtype=batched.dtype, device=batched.device)
    else:
        samples = _random_samples.data if isinstance(_random_samples, Tensor) else _random_samples
        _check_samples(samples, batched)
        samples = backend.to_device(samples[:n], batched.device)  # windows are computed where the input is
    pool = _FractionalMaxPool(kernel, window_starts(samples[..., 1], h, out_h, kernel[0]),
                               window_starts(samples[..., 0], w, out_w, kernel[1]))
    y = pool(batched)
    if not return_indices:
        return y if x.ndim == 4 else y.squeeze(0)
    indices = Tensor(pool.indices)
    return (y, indices) if x.ndim == 4 else (y.squeeze(0), indices.squeeze(0))


class FractionalMaxPool2d(Module):
    """Fractional max pooling (Graham, 2014) with new random windows at every forward pass.

    PyTorch's signature: kernel_size, and exactly one of output_size (int or
    (OH, OW)) and output_ratio (in (0, 1)); return_indices also returns the
    flat positions of the maxima; _random_samples (N, C, 2) fixes the windows.
    Like PyTorch's, it draws random windows in eval mode too, and prints as
    ``FractionalMaxPool2d()``.
    """

    def __init__(self, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                 _random_samples=None):
        super().__init__()
        _check_size_arguments(output_size, output_ratio)
        self.kernel_size, self.output_size, self.output_ratio = kernel_size, output_size, output_ratio
        self.return_indices, self._random_samples = return_indices, _random_samples

    def forward(self, x):
        return fractional_max_pool2d(x, self.kernel_size, self.output_size, self.output_ratio, self.return_indices,
                                     self._random_samples)
