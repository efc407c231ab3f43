"""Max and average pooling one window offset at a time, beside their plain references.

The reference reduces every window of the padded input (sliding_window_view)
over its small trailing axes: the definition in a line, and slow. The fast
kernels visit the kh kw window offsets (i, j) one at a time instead: the
"patch" at offset (i, j) is the strided view x_pad[:, :, i::sh, j::sw]
(cropped to OH x OW), the value every window sees at that offset, and each
offset costs one whole-array operation (measured on a 64x32x32x32 input:
1.7 ms for the four ``maximum`` calls of a 2x2 max pool, 44 ms for
``reshape(...).max(axis=(3, 5))``).

    max_pool2d            y = the elementwise maximum of the patches, and ``argmax``: the offset number
                          (row-major in the window) of each window's first maximum (PyTorch's choice among ties)
    max_pool2d_backward   dx = gy added at each window's maximum, 0 elsewhere
    max_pool2d_gather     g read at each window's maximum (the adjoint of max_pool2d_backward)
    avg_pool2d            y = the sum of the patches / (kh kw) (padding zeros counted, PyTorch's count_include_pad)
    avg_pool2d_backward   dx = gy / (kh kw) added to every pixel of its window

Backward writes each patch's gradient straight into dx, by blocks of images
on minitl's threads. When windows do not overlap (stride >= kernel, e.g. the
usual kernel == stride), each pixel belongs to at most one patch, so the
gradients are written into place instead of added (and when the windows tile
the input exactly, dx starts uninitialised instead of zeroed).
"""
from minitl import backend, threads
from minitl.kernels.convolution import output_hw, pad_spatial, unpad_spatial


# -- the references: what the kernels compute ---------------------------------------------
def _reference_windows(x, kernel, stride, padding, pad_value):
    """Every (kh, kw) window of x padded with `pad_value`, moved by `stride`: (N, C, OH, OW, kh, kw).

    sliding_window_view makes all stride-1 windows as a view (no copy); every stride-th of them is a real window.
    """
    (kh, kw), (sh, sw) = kernel, stride
    x_padded = pad_spatial(x, padding, pad_value)
    return backend.get_array_module(x).lib.stride_tricks.sliding_window_view(x_padded, (kh, kw), axis=(2, 3))[
        :, :, ::sh, ::sw]


def reference_max_pool2d(x, kernel, stride, padding):
    """(y, argmax): each window's maximum, and the offset number of its first maximum (padding is -inf)."""
    xp = backend.get_array_module(x)
    windows = _reference_windows(x, kernel, stride, padding, -xp.inf)
    flat = windows.reshape(*windows.shape[:4], -1)
    return flat.max(axis=-1), flat.argmax(axis=-1)


def reference_avg_pool2d(x, kernel, stride, padding):
    """Each window's mean (padding zeros counted)."""
    return _reference_windows(x, kernel, stride, padding, 0).mean(axis=(4, 5))


def _reference_spread(window_grads, in_hw, stride, padding):
    """dx from each window's own (kh, kw) gradient (N, C, OH, OW, kh, kw): a loop over the windows, each
    adding its gradient onto its pixels, then the padding cut off."""
    xp = backend.get_array_module(window_grads)
    n, c, oh, ow, kh, kw = window_grads.shape
    (sh, sw), (ph, pw) = stride, padding
    grad = xp.zeros((n, c, in_hw[0] + 2 * ph, in_hw[1] + 2 * pw), dtype=window_grads.dtype)
    for h in range(oh):
        for w in range(ow):
            grad[:, :, h * sh:h * sh + kh, w * sw:w * sw + kw] += window_grads[:, :, h, w]
    return unpad_spatial(grad, padding)


def _at_argmax(argmax, kernel):
    """(N, C, OH, OW, kh, kw) masks: True at each window's chosen offset."""
    xp = backend.get_array_module(argmax)
    return (argmax[..., None] == xp.arange(kernel[0] * kernel[1])).reshape(*argmax.shape, *kernel)


def reference_max_pool2d_backward(gy, argmax, in_hw, kernel, stride, padding):
    """dx: each window puts gy on its chosen offset, 0 on the others."""
    return _reference_spread(gy[..., None, None] * _at_argmax(argmax, kernel), in_hw, stride, padding)


def reference_max_pool2d_gather(g, argmax, kernel, stride, padding):
    """y[n, c, h, w] = g_pad at the chosen offset of window (h, w)."""
    windows = _reference_windows(g, kernel, stride, padding, 0)
    return (windows * _at_argmax(argmax, kernel)).sum(axis=(4, 5))


def reference_avg_pool2d_backward(gy, in_hw, kernel, stride, padding):
    """dx: each window adds gy / (kh kw) to every one of its pixels."""
    xp = backend.get_array_module(gy)
    window_grads = xp.broadcast_to(gy[..., None, None] / (kernel[0] * kernel[1]), (*gy.shape, *kernel))
    return _reference_spread(window_grads, in_hw, stride, padding)


# -- the fast path: one whole-array operation per window offset -------------------------
def patch_indices(out_hw, kernel, stride):
    """The index of each window offset's patch in the padded input, offset by offset, row by row."""
    (kh, kw), (sh, sw), (oh, ow) = kernel, stride, out_hw
    return [(slice(None), slice(None), slice(i, i + sh * (oh - 1) + 1, sh), slice(j, j + sw * (ow - 1) + 1, sw))
            for i in range(kh) for j in range(kw)]


def patches(x, kernel, stride, padding, pad_value):
    """The padded input's patches, one per window offset (strided views, no copies)."""
    x_padded = pad_spatial(x, padding, pad_value)
    return [x_padded[index] for index in patch_indices(output_hw(x.shape[2:], kernel, stride, padding), kernel, stride)]


def max_pool2d(x, kernel, stride, padding):
    """(y, argmax): the running maximum over the patches, with the offset number of the patch that holds it.

    A later patch takes over only where it is strictly greater, so ties go to the earliest, as in
    PyTorch. `argmax += greater * (offset - argmax)` sets argmax = offset where greater, in unsigned
    arithmetic (argmax < offset, so nothing wraps): two passes where np.where or a boolean-mask
    assignment is two to three times slower. uint8 unless the window is huge. Each patch is copied
    out contiguously first: NumPy's loops use SIMD only on unit strides, and a column-strided patch
    read by `>` and `maximum` costs more than one copy and two fast reads (measured, 2x2 pooling of
    64x32x32x32: 0.44 ms a strided `>`, 0.07 ms a contiguous one).
    """
    xp = backend.get_array_module(x)
    offsets = patches(x, kernel, stride, padding, -xp.inf)
    y = xp.empty(offsets[0].shape, dtype=x.dtype)  # contiguous: y is written in place
    argmax = xp.empty(y.shape, dtype=xp.min_scalar_type(len(offsets) - 1))

    def running_max(images):  # blocks of images on any thread
        maximum, chosen = y[images], argmax[images]
        maximum[...] = offsets[0][images]
        chosen.fill(0)
        for offset, patch in enumerate(offsets[1:], start=1):
            patch = xp.ascontiguousarray(patch[images])
            greater = patch > maximum
            xp.maximum(maximum, patch, out=maximum)
            chosen += greater * (chosen.dtype.type(offset) - chosen)
    threads.parallel_map(running_max, threads.rows(y))
    return y, argmax


def avg_pool2d(x, kernel, stride, padding):
    """The sum of the patches (padding zeros counted) over their number."""
    offsets = patches(x, kernel, stride, padding, 0)
    total = offsets[0].copy()
    for patch in offsets[1:]:
        total += patch
    return total / len(offsets)


def scatter_patches(gy, in_hw, kernel, stride, padding, patch_grad):
    """dx from the gradient of each patch, ``patch_grad(offset, images, out)``: the adjoint of taking the
    patches. Blocks of images are independent, so they are shared out among minitl's threads.

    ``patch_grad`` writes the gradient of its patch, for a slice of the batch `images`, into ``out``
    (a strided view of dx): one pass instead of computing it and then copying it in.
    """
    xp = backend.get_array_module(gy)
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    n, c, oh, ow = gy.shape
    padded_shape = (n, c, in_hw[0] + 2 * ph, in_hw[1] + 2 * pw)
    # Windows that do not overlap leave each pixel in one patch at most: patches are written, not
    # added to. When they also tile the padded input exactly, every pixel is written and dx needs
    # no zeros first.
    overlapping = sh < kh or sw < kw
    tiled = not overlapping and (sh, sw) == (kh, kw) and (oh * kh, ow * kw) == padded_shape[2:]
    indices = patch_indices((oh, ow), kernel, stride)
    grad = xp.empty(padded_shape, dtype=gy.dtype)

    def scatter_images(images):
        block = grad[images]
        if not tiled:
            block.fill(0)
        patch = xp.empty_like(gy[images]) if overlapping else None
        for offset, index in enumerate(indices):
            if overlapping:
                block[index] += patch_grad(offset, images, out=patch)
            else:
                patch_grad(offset, images, out=block[index])
    threads.parallel_map(scatter_images, threads.rows(gy))
    return unpad_spatial(grad, padding)


def max_pool2d_backward(gy, argmax, in_hw, kernel, stride, padding):
    """dx = gy at each window's maximum: the patch at `offset` gets gy where argmax == offset."""
    xp = backend.get_array_module(gy)
    return scatter_patches(gy, in_hw, kernel, stride, padding, lambda offset, images, out: xp.multiply(
        gy[images], argmax[images] == offset, out=out))


def avg_pool2d_backward(gy, in_hw, kernel, stride, padding):
    """dx = gy / (kh kw) on every patch."""
    xp = backend.get_array_module(gy)
    count = kernel[0] * kernel[1]
    return scatter_patches(gy, in_hw, kernel, stride, padding, lambda offset, images, out: xp.divide(
        gy[images], count, out=out))


def max_pool2d_gather(g, argmax, kernel, stride, padding):
    """y = g at each window's maximum: each patch of g copied where argmax is its offset."""
    xp = backend.get_array_module(g)
    y = xp.zeros(argmax.shape, dtype=g.dtype)
    for offset, patch in enumerate(patches(g, kernel, stride, padding, 0)):
        xp.copyto(y, patch, where=argmax == offset)
    return y
