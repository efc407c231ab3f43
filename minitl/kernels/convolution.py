"""Convolution by matrix products ("im2col" + GEMM), beside its plain references.

Shapes: x (N, C, H, W), weight (O, C/groups, kh, kw), y (N, O, OH, OW) with

    OH = (H + 2 ph - dh (kh - 1) - 1) // sh + 1      (and OW likewise)

Three kernels, each the fast version of a ``reference_*`` below it (the
definition in a few lines of einsum over windows, slow because einsum's
loops run over small axes; ``tests/test_kernels.py`` checks each pair):

    conv2d(x, W)                 y[n, o, h, w] = sum_{c,i,j} x_pad[n, c, h sh + i dh, w sw + j dw] W[o, c, i, j]
    conv2d_weight(x, gy)         dW[o, c, i, j] = sum_{n,h,w} x_pad[n, c, h sh + i dh, w sw + j dw] gy[n, o, h, w]
    conv_transpose2d(gy, W)      dx: each gy[n, o, h, w] W[o, c, i, j] added back onto x[n, c, h sh + i dh - ph, ...]

(with groups, channels are split into `groups` independent slices, each with
its own weights). Why they are fast: all of the arithmetic is one BLAS
matrix product on data laid out for it, which BLAS runs near the machine's
peak.

Forward ("im2col"): a strided view gives every kh x kw window of the padded
input without copying. Laying the windows out as a matrix ``cols`` (one row
per (c, i, j), one column per output pixel of every image in a chunk of the
batch) copies the input once, and then the convolution is one product:

    Y = W_mat @ cols        cols: (C kh kw, n OH OW),  W_mat: (O, C kh kw)

Stride 1 uses "wide rows": each output row is computed over the padded
width Wp instead of OW, and the last Wp - OW columns are thrown away. Then a
row of ``cols`` for one (c, i, j) and image is one contiguous run of OH Wp
values of the flattened padded image (shifted by i dh Wp + j dw), which
NumPy copies at memory speed, instead of OH separate runs of OW values
(measured: the copy of a 16-channel 32x32 layer's cols 1.8x faster; more
for the 8x8 layers). The thrown-away columns read past the end of the last
row, so the padded input carries one extra zero row at the bottom.

Weight gradient: dW_mat = sum over chunks of dY @ cols^T (cols rebuilt
rather than kept from forward: kh kw copies of every layer's input would
crowd memory, and the copy is cheap next to the GEMM; dY laid out like the
product, zero in the thrown-away columns).

Transposed convolution (the input gradient): at stride 1 it is itself a
convolution, of gy padded by d (k - 1) - p with the kernel flipped and its
channel axes swapped: one im2col copy and one GEMM, where col2im needs a kh
kw times bigger GEMM output and kh kw slice-adds. Strided: dcols = W_mat^T @
dY, then "col2im": each window position (i, j) adds its slice of dcols back
onto the strided pixels it was read from, kh kw vectorised slice-adds
(np.add.at would be ~13x slower).

On the CPU the batch is cut into chunks that fit in the cache
(``CPU_CHUNK_BYTES``), and the chunks are shared out among minitl's threads.
"""
import functools
import operator

import numpy as np

from minitl import backend, threads


def output_size(size, kernel, stride, padding, dilation=1):
    """PyTorch's output length of a sliding window (floor rule)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def output_hw(in_hw, kernel, stride, padding, dilation=(1, 1)):
    """(OH, OW): `output_size` along both spatial dims (every argument a pair)."""
    return tuple(output_size(in_hw[d], kernel[d], stride[d], padding[d], dilation[d]) for d in range(2))


def pad_spatial(x, padding, value=0, extra_rows=0):
    """x with `padding` rows/columns of `value` on each side of H and W, and `extra_rows` more at the bottom.

    One copy into a new array of the padded shape (np.pad takes several passes), by blocks of images
    on minitl's threads.
    """
    xp = backend.get_array_module(x)
    (ph, pw), (n, c, h, w) = padding, x.shape
    if ph == 0 and pw == 0 and extra_rows == 0:
        return x
    padded = xp.empty((n, c, h + 2 * ph + extra_rows, w + 2 * pw), dtype=x.dtype)

    def pad_images(images):
        padded[images] = value
        padded[images, :, ph:ph + h, pw:pw + w] = x[images]
    threads.parallel_map(pad_images, threads.rows(x))
    return padded


def unpad_spatial(x, padding):
    """The middle of a padded NCHW array (a view): `padding` rows/columns off each side of H and W."""
    ph, pw = padding
    return x[:, :, ph:x.shape[2] - ph, pw:x.shape[3] - pw]


# -- the references: what the kernels compute ---------------------------------------------
def reference_windows(x, kernel, stride, padding, dilation, groups):
    """Every window of the padded x, (N, g, C/g, OH, OW, kh, kw): sliding_window_view gives the windows at
    stride 1 (a view, no copy); slicing keeps every stride-th window and every dilation-th pixel in it."""
    xp = backend.get_array_module(x)
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    span = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)  # a dilated window's extent
    windows = xp.lib.stride_tricks.sliding_window_view(pad_spatial(x, padding), span, axis=(2, 3))
    windows = windows[:, :, ::sh, ::sw, ::dh, ::dw]  # (N, C, OH, OW, kh, kw)
    n, c, oh, ow = windows.shape[:4]
    return windows.reshape(n, groups, c // groups, oh, ow, kh, kw)


def reference_conv2d(x, weight, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    """y[n, g O/g + o, h, w] = sum_{c,i,j} x_pad[n, g C/g + c, h sh + i dh, w sw + j dw] W[g O/g + o, c, i, j]

    einsum sums each window times the kernel over (c, i, j), in each group.
    """
    xp = backend.get_array_module(x)
    windows = reference_windows(x, weight.shape[2:], stride, padding, dilation, groups)
    grouped_weight = weight.reshape(groups, -1, *weight.shape[1:])  # (g, O/g, C/g, kh, kw)
    y = xp.einsum("ngchwij,gocij->ngohw", windows, grouped_weight)
    return y.reshape(x.shape[0], -1, *y.shape[3:])


def reference_conv2d_weight(x, gy, kernel, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    """dW[g O/g + o, c, i, j] = sum_{n,h,w} x_pad[n, g C/g + c, h sh + i dh, w sw + j dw] gy[n, g O/g + o, h, w]

    The same windows as reference_conv2d, summed against gy over the batch and the output pixels.
    """
    xp = backend.get_array_module(x)
    windows = reference_windows(x, kernel, stride, padding, dilation, groups)
    grouped_gy = gy.reshape(gy.shape[0], groups, -1, *gy.shape[2:])  # (N, g, O/g, OH, OW)
    grad = xp.einsum("ngchwij,ngohw->gocij", windows, grouped_gy)
    return grad.reshape(gy.shape[1], -1, *kernel)


def reference_conv_transpose2d(gy, weight, out_hw, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    """dx of reference_conv2d for an input of spatial size `out_hw`: for each kernel offset (i, j),

        dx_pad[n, g C/g + c, h sh + i dh, w sw + j dw] += sum_o gy[n, g O/g + o, h, w] W[g O/g + o, c, i, j]

    then the padding cut off. weight is conv2d's (O, C/g, kh, kw), i.e. PyTorch's conv_transpose2d weight.
    """
    xp = backend.get_array_module(gy)
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = weight.shape[2:], stride, padding, dilation
    n, _, oh, ow = gy.shape
    grouped_gy = gy.reshape(n, groups, -1, oh, ow)  # (N, g, O/g, OH, OW)
    grouped_weight = weight.reshape(groups, -1, *weight.shape[1:])  # (g, O/g, C/g, kh, kw)
    grad = xp.zeros((n, groups, weight.shape[1], out_hw[0] + 2 * ph, out_hw[1] + 2 * pw), dtype=gy.dtype)
    for i in range(kh):
        for j in range(kw):
            grad[..., i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw] += \
                xp.einsum("ngohw,goc->ngchw", grouped_gy, grouped_weight[..., i, j])
    return unpad_spatial(grad.reshape(n, -1, *grad.shape[3:]), padding)


# -- the fast path: im2col over chunks of images, one GEMM each ----------------------------
def windows(x_padded, kernel, stride, dilation, out_hw, row_length):
    """A view (C, kh, kw, N, OH, row_length) of every window of a padded NCHW array (no copy):

        view[c, i, j, n, h, w] = x_padded[n, c, h sh + i dh, w sw + j dw]

    With wide rows (row_length = the padded width, stride 1) the columns w >= OW run on into the
    next row, and on the last row into the extra zero row.
    """
    xp = backend.get_array_module(x_padded)
    (kh, kw), (sh, sw), (dh, dw), (oh, _) = kernel, stride, dilation, out_hw
    image, channel, row, column = x_padded.strides
    return xp.lib.stride_tricks.as_strided(
        x_padded, shape=(x_padded.shape[1], kh, kw, x_padded.shape[0], oh, row_length),
        strides=(channel, dh * row, dw * column, image, sh * row, sw * column))


def add_windows_back(grad_windows, padded_shape, stride, dilation):
    """The adjoint of `windows` (rows of OW columns): sum each window's gradient back onto its pixels.

    `grad_windows` is laid out (C, kh, kw, N, OH, OW), like `cols`; each of the
    kh kw slice-adds moves rows of OW contiguous values.
    """
    xp = backend.get_array_module(grad_windows)
    kh, kw, _, oh, ow = grad_windows.shape[1:]
    (sh, sw), (dh, dw) = stride, dilation
    grad = xp.zeros(padded_shape, dtype=grad_windows.dtype)
    grad_channels_first = grad.transpose(1, 0, 2, 3)  # a view: adding into it fills `grad`
    for i in range(kh):
        for j in range(kw):
            grad_channels_first[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw] += \
                grad_windows[:, i, j]
    return grad


# On the CPU, im2col runs on chunks of images whose `cols` and product fit in this many bytes: the
# GEMM then reads cols from the cache right after the copy wrote it, and its product is still there
# when it is copied into the output, instead of both going through main memory (measured: a
# ResNet-20 stage-1 conv, batch 64, 9.6 ms in one piece, 6.3 ms in 4 MB chunks; counting the
# product too took the 3 -> 32 channel first conv of CNN-S from 11.3 ms to 3.4 ms). A GPU takes the
# whole batch at once: its memory is fast and each chunk costs kernel launches.
CPU_CHUNK_BYTES = 4 * 2 ** 20
# The chunks are also the pieces that minitl's threads share out (minitl/threads.py).


class Layout:
    """How one convolution lays out its matrices: padding, output size and row length.

    Forward and the weight gradient need the same numbers, so they are worked out once, here.
    """

    def __init__(self, x_shape, kernel, stride, padding, dilation, groups):
        self.kernel, self.stride, self.padding = kernel, stride, padding
        self.dilation, self.groups = dilation, groups
        self.wide = tuple(stride) == (1, 1)  # wide rows need stride 1: see the module docstring
        self.out_hw = output_hw(x_shape[2:], kernel, stride, padding, dilation)
        padded_width = x_shape[3] + 2 * padding[1]
        self.row_length = padded_width if self.wide else self.out_hw[1]

    def pad(self, x):
        """The padded input that cols are read from (with the extra zero row for wide rows)."""
        return pad_spatial(x, self.padding, extra_rows=1 if self.wide else 0)

    def chunks(self, x, out_channels):
        """Consecutive slices of the batch whose cols and product fit in CPU_CHUNK_BYTES (on a GPU, the
        whole batch). They depend only on the shapes, never on the thread count: the weight gradient
        adds the chunks' shares in this order, so its float32 sum is the same on any number of threads."""
        n, c = x.shape[:2]
        (kh, kw), oh = self.kernel, self.out_hw[0]
        image_bytes = (c * kh * kw + out_channels) * oh * self.row_length * x.itemsize  # cols + product
        step = max(1, CPU_CHUNK_BYTES // image_bytes) if backend.get_array_module(x) is np else n
        return [slice(start, min(start + step, n)) for start in range(0, n, step)]

    def cols(self, x, images):
        """The im2col matrix of a slice of the batch, (g, C/g kh kw, m OH row_length):

            cols[g, (c, i, j), (n, h, w)] = windows(x_padded)[g C/g + c, i, j, images][n, h, w]

        one row per (c, i, j), one column per output pixel. The chunk's images are padded here, not
        the whole batch first: the small padded copy is still in the cache when cols read it.
        """
        xp = backend.get_array_module(x)
        c, (kh, kw) = x.shape[1], self.kernel
        chunk = windows(self.pad(x[images]), self.kernel, self.stride, self.dilation, self.out_hw, self.row_length)
        cols = xp.ascontiguousarray(chunk)
        return cols.reshape(self.groups, (c // self.groups) * kh * kw, -1)

    def from_product(self, product, out_channels):
        """(m, O, OH, OW) output pixels from a (g, O/g, m OH row_length) product."""
        oh, ow = self.out_hw
        return product.reshape(out_channels, -1, oh, self.row_length)[..., :ow].transpose(1, 0, 2, 3)

    def like_product(self, gy):
        """gy (m, O, OH, OW) laid out like the product, (g, O/g, m OH row_length), zero in the
        thrown-away columns of wide rows (so they add nothing to the weight gradient)."""
        xp = backend.get_array_module(gy)
        m, out_channels, oh, ow = gy.shape
        rows = xp.zeros((out_channels, m, oh, self.row_length), dtype=gy.dtype)
        rows[..., :ow] = gy.transpose(1, 0, 2, 3)
        return rows.reshape(self.groups, out_channels // self.groups, -1)


def conv2d(x, weight, stride, padding, dilation, groups):
    """The convolution of x with weight, without bias: im2col and one GEMM per chunk of images."""
    xp = backend.get_array_module(x)
    layout = Layout(x.shape, weight.shape[2:], stride, padding, dilation, groups)
    out_channels = weight.shape[0]
    weight_mat = weight.reshape(groups, out_channels // groups, -1)  # (g, O/g, C/g kh kw)
    y = xp.empty((x.shape[0], out_channels, *layout.out_hw), dtype=x.dtype)

    def convolve_chunk(images):  # chunks write disjoint slices of y: they can run on any thread
        y[images] = layout.from_product(weight_mat @ layout.cols(x, images), out_channels)
    threads.parallel_map(convolve_chunk, layout.chunks(x, out_channels))
    return y


def conv2d_weight(x, gy, kernel, stride, padding, dilation, groups):
    """conv2d's gradient with respect to its weight: dW_mat = sum over chunks of dY @ cols^T."""
    layout = Layout(x.shape, kernel, stride, padding, dilation, groups)
    out_channels = gy.shape[1]

    def weight_grad_of_chunk(images):
        return layout.like_product(gy[images]) @ layout.cols(x, images).swapaxes(-1, -2)
    # Each chunk's share computed on any thread, then added up in chunk order: the same sum whatever
    # the thread count.
    partial_grads = threads.parallel_map(weight_grad_of_chunk, layout.chunks(x, out_channels))
    return functools.reduce(operator.add, partial_grads).reshape(out_channels, x.shape[1] // groups, *kernel)


def conv_transpose2d(gy, weight, out_hw, stride, padding, dilation, groups):
    """conv2d's gradient with respect to an input of spatial size `out_hw` (the transposed convolution).

    At stride 1 (when the output has the size a stride-1 convolution sends back) it is a convolution
    of gy, padded by d (k - 1) - p, with the kernel flipped and its channel axes swapped; otherwise
    dcols = W_mat^T @ dY, added back onto the windows by col2im.
    """
    xp = backend.get_array_module(gy)
    (kh, kw), (ph, pw), (dh, dw) = weight.shape[2:], padding, dilation
    out_channels, c = weight.shape[0], weight.shape[1] * groups
    n, _, oh, ow = gy.shape
    transposed_padding = (dh * (kh - 1) - ph, dw * (kw - 1) - pw)
    natural_hw = (oh + dh * (kh - 1) - 2 * ph, ow + dw * (kw - 1) - 2 * pw)
    if tuple(stride) == (1, 1) and min(transposed_padding) >= 0 and tuple(out_hw) == natural_hw:
        flipped = weight[:, :, ::-1, ::-1].reshape(groups, out_channels // groups, c // groups, kh, kw)
        flipped = flipped.swapaxes(1, 2).reshape(c, out_channels // groups, kh, kw)
        return conv2d(gy, flipped, (1, 1), transposed_padding, dilation, groups)
    weight_mat_t = weight.reshape(groups, out_channels // groups, -1).swapaxes(-1, -2)  # (g, C/g kh kw, O/g)
    gy_mat = xp.ascontiguousarray(gy.transpose(1, 0, 2, 3)).reshape(groups, out_channels // groups, -1)
    gcols = (weight_mat_t @ gy_mat).reshape(c, kh, kw, n, oh, ow)
    padded_shape = (n, c, out_hw[0] + 2 * ph, out_hw[1] + 2 * pw)
    return unpad_spatial(add_windows_back(gcols, padded_shape, stride, dilation), padding)
