"""Max, average and adaptive average pooling over the last two dimensions of NCHW input.

Read ``reference_pool2d`` first: pooling as its definition, every window of
the padded input reduced by max or mean, in a few lines. It is slow (the
reduction runs over small trailing axes) and serves as the tests' oracle;
the Functions below compute the same values faster.

Output size follows PyTorch's floor rule (``conv.output_size``). Both fast poolings
visit the window offsets (i, j) one at a time: the "patch" at offset (i, j)
is the strided view x_pad[:, :, i::sh, j::sw] (cropped to OH x OW), the
value every window sees at that offset. A loop over the kh kw offsets with
one whole-array operation each is much faster than reducing over small
trailing axes (measured on a 64x32x32x32 input: 1.7 ms for the four
``maximum`` calls of a 2x2 max pool, 44 ms for ``reshape(...).max(axis=(3, 5))``).

max:  y = the elementwise maximum of the patches;  dx = gy at the window's
      first maximum (PyTorch's choice among ties), 0 elsewhere. Forward keeps
      only the offset number of that maximum (one uint8 per output).
avg:  y = the sum of the patches / (kh kw) (padding zeros counted, PyTorch's
      count_include_pad=True);  dx = gy / (kh kw) on every pixel of a window.

Fast path in backward: when windows do not overlap (stride >= kernel, e.g.
the usual kernel == stride), each pixel belongs to at most one patch, so
gradients are written into place instead of added (and when the windows tile
the input exactly, dx starts uninitialised instead of zeroed).
"""
from minitl import backend, threads
from minitl.autograd import Function
from minitl.nn.arguments import tensor_argument
from minitl.nn.conv import output_hw, pad_spatial, pair, unpad_spatial
from minitl.ops.shape import getitem, stack


# -- the reference: what pooling computes -----------------------------------------------
def reference_pool2d(x, kernel, stride, padding, reduce):
    """Every (kh, kw) window of the padded array `x`, moved by `stride`, reduced by "max" or "mean".

    sliding_window_view makes all stride-1 windows as a (N, C, H', W', kh, kw) view (no copy);
    every stride-th of them is a real window. Padding is -inf for max (never chosen) and 0 for mean
    (counted, PyTorch's count_include_pad=True).
    """
    xp = backend.get_array_module(x)
    (kh, kw), (sh, sw) = kernel, stride
    x_padded = pad_spatial(x, padding, -xp.inf if reduce == "max" else 0)
    windows = xp.lib.stride_tricks.sliding_window_view(x_padded, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    return windows.max(axis=(4, 5)) if reduce == "max" else windows.mean(axis=(4, 5))


# -- the fast path: one whole-array operation per window offset -------------------------
class _Pool2d(Function):
    """Shared by max and average pooling: the patches, and sending gradients back through them."""

    def __init__(self, kernel, stride, padding):
        self.kernel, self.stride, self.padding = kernel, stride, padding

    def _patches(self, x, pad_value):
        """The padded input's patches, one per window offset, row by row (strided views, no copies)."""
        (kh, kw), (sh, sw) = self.kernel, self.stride
        oh, ow = output_hw(x.shape[2:], self.kernel, self.stride, self.padding)
        x_padded = pad_spatial(x, self.padding, pad_value)
        self.padded_shape = x_padded.shape
        self.indices = [(slice(None), slice(None), slice(i, i + sh * (oh - 1) + 1, sh),
                         slice(j, j + sw * (ow - 1) + 1, sw)) for i in range(kh) for j in range(kw)]
        return [x_padded[index] for index in self.indices]

    def _scatter(self, gy, patch_grad):
        """dx from the gradient of each patch, ``patch_grad(offset, images, out)``: the adjoint of taking
        the patches. Blocks of images are independent, so they are shared out among minitl's threads.

        ``patch_grad`` writes the gradient of its patch, for a slice of the batch `images`, into
        ``out`` (a strided view of dx): one pass instead of computing it and then copying it in.
        """
        xp = backend.get_array_module(gy)
        (kh, kw), (sh, sw) = self.kernel, self.stride
        (_, _, oh, ow), (_, _, hp, wp) = gy.shape, self.padded_shape
        # Windows that do not overlap leave each pixel in one patch at most: patches are written, not
        # added to. When they also tile the padded input exactly, every pixel is written and dx needs
        # no zeros first.
        overlapping = sh < kh or sw < kw
        tiled = not overlapping and (sh, sw) == (kh, kw) and (oh * kh, ow * kw) == (hp, wp)
        grad = xp.empty(self.padded_shape, dtype=gy.dtype)

        def scatter_images(images):
            block = grad[images]
            if not tiled:
                block.fill(0)
            patch = xp.empty_like(gy[images]) if overlapping else None
            for offset, index in enumerate(self.indices):
                if overlapping:
                    block[index] += patch_grad(offset, images, out=patch)
                else:
                    patch_grad(offset, images, out=block[index])
        threads.parallel_map(scatter_images, threads.rows(gy))
        return unpad_spatial(grad, self.padding)

    def backward_graph(self, gy):
        return (_PoolGradient(self)(gy),)

    def adjoint(self, g):
        """The adjoint of backward (gy -> dx), for double backward: g's patches combined as forward does."""
        xp = backend.get_array_module(g)
        padded = pad_spatial(g, self.padding, 0)
        total = xp.zeros(padded[self.indices[0]].shape, dtype=g.dtype)
        for offset, index in enumerate(self.indices):
            total += padded[index] * self._patch_weight(offset)
        return total


class _PoolGradient(Function):
    """dx = pool.backward(gy) as an op of its own (create_graph); its gradient is the adjoint of that linear map."""

    def __init__(self, pool):
        self.pool = pool

    def forward(self, gy):
        return self.pool.backward(gy)[0]

    def backward(self, g):
        return (self.pool.adjoint(g),)

    def backward_graph(self, g):
        return (_PoolAdjoint(self.pool)(g),)


class _PoolAdjoint(Function):
    """pool.adjoint(g) as an op (third and higher derivatives); its gradient is the pool's backward again."""

    def __init__(self, pool):
        self.pool = pool

    def forward(self, g):
        return self.pool.adjoint(g)

    def backward(self, gy):
        return self.pool.backward(gy)

    def backward_graph(self, gy):
        return (_PoolGradient(self.pool)(gy),)


class MaxPool2d(_Pool2d):
    def forward(self, x):
        xp = backend.get_array_module(x)
        patches = self._patches(x, -xp.inf)
        # A running maximum over the patches, with the offset number of the patch that holds it. A
        # later patch takes over only where it is strictly greater, so ties go to the earliest, as in
        # PyTorch. `argmax += greater * (offset - argmax)` sets argmax = offset where greater, in
        # unsigned arithmetic (argmax < offset, so nothing wraps): two passes where np.where or a
        # boolean-mask assignment is two to three times slower. uint8 unless the window is huge.
        # Each patch is copied out contiguously first: NumPy's loops use SIMD only on unit strides,
        # and a column-strided patch read by `>` and `maximum` costs more than one copy and two fast
        # reads (measured, 2x2 pooling of 64x32x32x32: 0.44 ms a strided `>`, 0.07 ms a contiguous one).
        y = xp.empty(patches[0].shape, dtype=x.dtype)  # contiguous: y is written in place
        self.argmax = xp.empty(y.shape, dtype=xp.min_scalar_type(len(patches) - 1))

        def running_max(images):  # blocks of images on any thread
            maximum, argmax = y[images], self.argmax[images]
            maximum[...] = patches[0][images]
            argmax.fill(0)
            for offset, patch in enumerate(patches[1:], start=1):
                patch = xp.ascontiguousarray(patch[images])
                greater = patch > maximum
                xp.maximum(maximum, patch, out=maximum)
                argmax += greater * (argmax.dtype.type(offset) - argmax)
        threads.parallel_map(running_max, threads.rows(y))
        return y

    def backward(self, gy):
        xp = backend.get_array_module(gy)
        return (self._scatter(gy, lambda offset, images, out: xp.multiply(gy[images], self.argmax[images] == offset,
                                                                         out=out)),)

    def _patch_weight(self, offset):
        return self.argmax == offset  # each window passes on the value at its maximum


class AvgPool2d(_Pool2d):
    def forward(self, x):
        patches = self._patches(x, 0)
        total = patches[0].copy()
        for patch in patches[1:]:
            total += patch
        return total / len(patches)

    def backward(self, gy):
        xp = backend.get_array_module(gy)
        return (self._scatter(gy, lambda offset, images, out: xp.divide(gy[images], len(self.indices), out=out)),)

    def _patch_weight(self, offset):
        return 1 / len(self.indices)


def _pool_arguments(x, kernel_size, stride, padding, name):
    tensor_argument(x, name, "input")
    if x.ndim != 4:
        raise ValueError(f"{name} expects 4-D (N, C, H, W) input, got shape {x.shape}")
    kernel = pair(kernel_size, "kernel_size")
    stride = kernel if stride is None else pair(stride, "stride")
    padding = pair(padding, "padding")
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(f"{name}: padding {padding} must be at most half the kernel size {kernel}")
    if min(output_hw(x.shape[2:], kernel, stride, padding)) < 1:
        raise ValueError(f"{name}: input {x.shape} is too small for kernel {kernel} with padding {padding}")
    return kernel, stride, padding


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """Largest value of each window; stride defaults to the kernel size; padding counts as -inf."""
    return MaxPool2d(*_pool_arguments(x, kernel_size, stride, padding, "max_pool2d"))(x)


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    """Mean of each window; stride defaults to the kernel size; padding zeros are counted."""
    return AvgPool2d(*_pool_arguments(x, kernel_size, stride, padding, "avg_pool2d"))(x)


def adaptive_avg_pool2d(x, output_size):
    """Average over PyTorch's bins: output i covers [floor(i H / out), ceil((i + 1) H / out)).

    When the size divides, the bins are equal windows: plain average pooling.
    Otherwise bins differ in size and overlap; each is averaged separately.
    """
    if tensor_argument(x, "adaptive_avg_pool2d", "input").ndim != 4:
        raise ValueError(f"adaptive_avg_pool2d expects 4-D (N, C, H, W) input, got shape {x.shape}")
    out_h, out_w = pair(output_size, "output_size")
    h, w = x.shape[2:]
    if h % out_h == 0 and w % out_w == 0:
        return avg_pool2d(x, (h // out_h, w // out_w))

    def bins(size, out):
        return [(i * size // out, -(-(i + 1) * size // out)) for i in range(out)]

    rows = []
    for top, bottom in bins(h, out_h):
        row = [getitem(x, (slice(None), slice(None), slice(top, bottom), slice(left, right))).mean(dim=(2, 3))
               for left, right in bins(w, out_w)]
        rows.append(stack(row, dim=-1))
    return stack(rows, dim=-2)
