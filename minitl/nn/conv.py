"""2-D convolution (cross-correlation, as in every framework) by one matrix product.

Shapes: x (N, C, H, W), weight (O, C/groups, kh, kw), y (N, O, OH, OW) with

    OH = (H + 2 ph - dh (kh - 1) - 1) // sh + 1      (and OW likewise)

Read ``reference_conv2d`` first: the definition in a few lines (windows of the
padded input, multiplied by the kernel and summed by einsum). It is what the
rest of this file computes, and the tests' oracle for it. The rest, under
"the fast path", is the same sum arranged so that one BLAS matrix product
does all of the arithmetic on data laid out for it:

Forward ("im2col"): a strided view gives every kh x kw window of the padded
input without copying. Laying the windows out as a matrix ``cols`` (one row
per (c, i, j), one column per output pixel of every image in a chunk of the
batch) copies the input once, and then all of the arithmetic is one matrix
product, which BLAS runs near the machine's peak:

    y[n, o, h, w] = sum_{c,i,j} x_pad[n, c, h sh + i dh, w sw + j dw] W[o, c, i, j]
    Y = W_mat @ cols        cols: (C kh kw, n OH OW),  W_mat: (O, C kh kw)

Stride 1 uses "wide rows": each output row is computed over the padded
width Wp instead of OW, and the last Wp - OW columns are thrown away. Then a
row of ``cols`` for one (c, i, j) and image is one contiguous run of OH Wp
values of the flattened padded image (shifted by i dh Wp + j dw), which
NumPy copies at memory speed, instead of OH separate runs of OW values
(measured: the copy of a 16-channel 32x32 layer's cols 1.8x faster; more
for the 8x8 layers). The thrown-away columns read past the end of the last
row, so the padded input carries one extra zero row at the bottom.

With groups, channels are split into `groups` independent slices, each with
its own W_mat and cols.

Backward:
    dW_mat = sum over chunks of dY @ cols^T              GEMMs (cols rebuilt; dY laid
             out like the product, zero in the thrown-away columns)
    dx     = stride 1: a convolution of dY, padded by d (k - 1) - p, with the
             kernel flipped and its channel axes swapped ("transposed
             convolution": one im2col and one GEMM);
             strided: dcols = W_mat^T @ dY, then "col2im": each window
             position (i, j) adds its slice of dcols back onto the strided
             pixels it was read from — kh kw vectorised slice-adds
             (np.add.at would be ~13x slower)
    db     = dY summed over N, OH, OW
"""
import functools
import operator

import numpy as np

from minitl import backend, threads
from minitl.autograd import Function, Tensor, enable_grad, grad, is_grad_enabled
from minitl.nn.arguments import check_input_dtype, tensor_argument


def pair(value, name):
    """(a, b) from an int or a pair, as PyTorch's layers accept both."""
    result = (value, value) if isinstance(value, int) else tuple(value)
    if len(result) != 2:
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    return result


def output_size(size, kernel, stride, padding, dilation=1):
    """PyTorch's output length of a sliding window (floor rule)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def output_hw(in_hw, kernel, stride, padding, dilation=(1, 1)):
    """(OH, OW): `output_size` along both spatial dims (every argument a pair)."""
    return tuple(output_size(in_hw[d], kernel[d], stride[d], padding[d], dilation[d]) for d in range(2))


def pad_spatial(x, padding, value=0, extra_rows=0):
    """x with `padding` rows/columns of `value` on each side of H and W, and `extra_rows` more at the bottom.

    One copy into a new array of the padded shape (np.pad takes several passes).
    """
    xp = backend.get_array_module(x)
    (ph, pw), (n, c, h, w) = padding, x.shape
    if ph == 0 and pw == 0 and extra_rows == 0:
        return x
    padded = xp.empty((n, c, h + 2 * ph + extra_rows, w + 2 * pw), dtype=x.dtype)

    def pad_images(images):  # blocks of images on any thread
        padded[images] = value
        padded[images, :, ph:ph + h, pw:pw + w] = x[images]
    threads.parallel_map(pad_images, threads.rows(x))
    return padded


# -- the reference: what conv2d computes --------------------------------------------------
def reference_conv2d(x, weight, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    """y[n, g O/g + o, h, w] = sum_{c,i,j} x_pad[n, g C/g + c, h sh + i dh, w sw + j dw] W[g O/g + o, c, i, j]

    sliding_window_view gives every window of the padded input at stride 1 (a view, no copy);
    slicing keeps every stride-th window and every dilation-th pixel in it; einsum sums over
    (c, i, j) in each group. Arrays in, array out; slow, because einsum's loops run over small axes.
    """
    xp = backend.get_array_module(x)
    (kh, kw), (sh, sw), (dh, dw) = weight.shape[2:], stride, dilation
    span = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)  # a dilated window's extent
    windows = xp.lib.stride_tricks.sliding_window_view(pad_spatial(x, padding), span, axis=(2, 3))
    windows = windows[:, :, ::sh, ::sw, ::dh, ::dw]  # (N, C, OH, OW, kh, kw)
    n, c, oh, ow = windows.shape[:4]
    grouped_windows = windows.reshape(n, groups, c // groups, oh, ow, kh, kw)
    grouped_weight = weight.reshape(groups, -1, *weight.shape[1:])  # (g, O/g, C/g, kh, kw)
    y = xp.einsum("ngchwij,gocij->ngohw", grouped_windows, grouped_weight)
    return y.reshape(n, -1, oh, ow)


def conv2d_by_tensor_ops(x, weight, bias, stride, padding, dilation, groups):
    """The same convolution written with recorded minitl operations (pad, strided slices, stack, matmul).

    Slow, but every step has a double backward: Conv2d.backward_graph differentiates this to record
    its gradients under create_graph=True.
    """
    from minitl.ops.shape import pad, stack  # ops are built on autograd: imported when used

    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = weight.shape[2:], stride, padding, dilation
    n, c = x.shape[:2]
    x_padded = pad(x, (pw, pw, ph, ph))
    oh, ow = output_hw(x.shape[2:], (kh, kw), stride, padding, dilation)
    columns = stack([x_padded[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw]
                     for i in range(kh) for j in range(kw)], dim=2)  # (N, C, kh kw, OH, OW)
    columns = columns.reshape(n, groups, c // groups * kh * kw, oh * ow)
    y = (weight.reshape(groups, weight.shape[0] // groups, -1) @ columns).reshape(n, -1, oh, ow)
    return y if bias is None else y + bias.reshape(1, -1, 1, 1)


# -- the fast path: im2col over chunks of images, one GEMM each ----------------------------
def unpad_spatial(x, padding):
    ph, pw = padding
    return x[:, :, ph:x.shape[2] - ph, pw:x.shape[3] - pw]


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

    Forward, the weight gradient and the transposed convolution of the input
    gradient all need the same numbers, so they are worked out once, here.
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

    def padded_shape(self, x_shape):
        n, c, h, w = x_shape
        return n, c, h + 2 * self.padding[0] + (1 if self.wide else 0), w + 2 * self.padding[1]

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


def convolve(x, weight, layout):
    """The convolution of x without bias: im2col and one GEMM per chunk of images."""
    xp = backend.get_array_module(x)
    out_channels = weight.shape[0]
    weight_mat = weight.reshape(layout.groups, out_channels // layout.groups, -1)  # (g, O/g, C/g kh kw)
    y = xp.empty((x.shape[0], out_channels, *layout.out_hw), dtype=x.dtype)

    def convolve_chunk(images):  # chunks write disjoint slices of y: they can run on any thread
        y[images] = layout.from_product(weight_mat @ layout.cols(x, images), out_channels)
    threads.parallel_map(convolve_chunk, layout.chunks(x, out_channels))
    return y


class Conv2d(Function):
    """y = conv2d(x, W) (+ b): im2col + one GEMM per chunk of images; see the module docstring.

    Backward builds cols again instead of keeping them from forward: kh kw copies
    of every layer's input would crowd memory, and the copy is cheap next to the GEMM.
    """

    def __init__(self, stride, padding, dilation, groups):
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups

    def forward(self, x, weight, bias=None):
        self.layout = Layout(x.shape, weight.shape[2:], self.stride, self.padding, self.dilation, self.groups)
        self.x, self.weight = x, weight
        y = convolve(x, weight, self.layout)
        if bias is not None:
            y += bias.reshape(1, -1, 1, 1)
        return y

    def backward(self, gy):
        gx = gw = gb = None
        if self.needs_input_grad[1]:
            out_channels, layout = self.weight.shape[0], self.layout

            def weight_grad_of_chunk(images):
                return layout.like_product(gy[images]) @ layout.cols(self.x, images).swapaxes(-1, -2)
            # Each chunk's share computed on any thread, then added up in chunk order: the same sum
            # whatever the thread count.
            partial_grads = threads.parallel_map(weight_grad_of_chunk, layout.chunks(self.x, out_channels))
            gw = functools.reduce(operator.add, partial_grads).reshape(self.weight.shape)
        if self.needs_input_grad[0]:
            gx = self.input_grad(gy)
        if len(self.needs_input_grad) > 2 and self.needs_input_grad[2]:
            gb = gy.sum(axis=(0, 2, 3))
        return gx, gw, gb

    def backward_graph(self, gy):
        """The gradients recorded (create_graph): those of conv2d_by_tensor_ops, differentiated with create_graph."""
        x, weight, *bias = self.inputs
        with enable_grad():
            y = conv2d_by_tensor_ops(x, weight, bias[0] if bias else None, self.stride, self.padding,
                                     self.dilation, self.groups)
            wanted = [t for t, needed in zip(self.inputs, self.needs_input_grad) if needed]
            grads = iter(grad(y, wanted, gy, create_graph=True, allow_unused=True))
        return tuple(next(grads) if needed else None for needed in self.needs_input_grad)

    def input_grad(self, gy):
        """dL/dx. With stride 1 it is itself a convolution: of gy, padded by d (k - 1) - p, with the
        kernel flipped and its in/out channels swapped (a "transposed convolution"). That costs one
        im2col copy and one GEMM, where col2im needs a kh kw times bigger GEMM output and kh kw
        slice-adds. Strided convolutions take the col2im way."""
        xp = backend.get_array_module(gy)
        (kh, kw), (ph, pw), (dh, dw) = self.weight.shape[2:], self.padding, self.dilation
        g, out_channels = self.groups, self.weight.shape[0]
        n, c = self.x.shape[:2]
        transposed_padding = (dh * (kh - 1) - ph, dw * (kw - 1) - pw)
        if self.stride == (1, 1) and min(transposed_padding) >= 0:
            flipped = self.weight[:, :, ::-1, ::-1].reshape(g, out_channels // g, c // g, kh, kw)
            flipped = flipped.swapaxes(1, 2).reshape(c, out_channels // g, kh, kw)
            transposed = Layout(gy.shape, (kh, kw), (1, 1), transposed_padding, self.dilation, g)
            return convolve(gy, flipped, transposed)
        weight_mat_t = self.weight.reshape(g, out_channels // g, -1).swapaxes(-1, -2)  # (g, C/g kh kw, O/g)
        gy_mat = xp.ascontiguousarray(gy.transpose(1, 0, 2, 3)).reshape(g, out_channels // g, -1)
        gcols = (weight_mat_t @ gy_mat).reshape(c, kh, kw, n, *self.layout.out_hw)
        grad = add_windows_back(gcols, self.layout.padded_shape(self.x.shape), self.stride, self.dilation)
        return grad[:, :, ph:ph + self.x.shape[2], pw:pw + self.x.shape[3]]  # without padding or extra row


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution of x (N, C, H, W) with weight (O, C/groups, kh, kw), PyTorch's conv2d."""
    x, weight = tensor_argument(x, "conv2d", "input"), tensor_argument(weight, "conv2d", "weight")
    tensor_argument(bias, "conv2d", "bias", optional=True)
    check_input_dtype(x, weight, "conv2d")
    if x.ndim != 4 or weight.ndim != 4:
        raise ValueError(f"conv2d expects 4-D input and weight, got shapes {x.shape} and {weight.shape}")
    if x.shape[1] % groups or weight.shape[0] % groups or x.shape[1] // groups != weight.shape[1]:
        raise ValueError(f"conv2d: input has {x.shape[1]} channels and groups={groups}, so weight must be "
                         f"({weight.shape[0]}, {x.shape[1] // groups}, kh, kw) with out channels divisible "
                         f"by groups; got weight shape {weight.shape}")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"conv2d: bias must have shape ({weight.shape[0]},), got {bias.shape}")
    function = Conv2d(pair(stride, "stride"), pair(padding, "padding"), pair(dilation, "dilation"), groups)
    if min(output_hw(x.shape[2:], weight.shape[2:], function.stride, function.padding, function.dilation)) < 1:
        raise ValueError(f"conv2d: input {x.shape} is too small for kernel {weight.shape[2:]} with "
                         f"padding {function.padding} and dilation {function.dilation}")
    return function(x, weight) if bias is None else function(x, weight, bias)


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """The transposed convolution (PyTorch's conv_transpose2d; DeZero's "deconvolution"): conv2d's adjoint.

    With weight W of shape (C_in, C_out / groups, kh, kw), y = conv_transpose2d(x, W) is what conv2d with
    the same W, stride, padding, dilation and groups sends back to its input when x is the gradient of
    its output: <y, g> = <x, conv2d(g, W)> for every g. It is computed exactly so, by autograd.grad of
    conv2d at a zero input of y's shape (recorded when x or W requires grad, so y is differentiable in
    both, through conv2d's double backward). Output size per spatial dim:
    (size - 1) stride - 2 padding + dilation (k - 1) + output_padding + 1.
    """
    x, weight = tensor_argument(x, "conv_transpose2d", "input"), tensor_argument(weight, "conv_transpose2d", "weight")
    tensor_argument(bias, "conv_transpose2d", "bias", optional=True)
    check_input_dtype(x, weight, "conv_transpose2d")
    if x.ndim != 4 or weight.ndim != 4:
        raise ValueError(f"conv_transpose2d expects 4-D input and weight, got shapes {x.shape} and {weight.shape}")
    if x.shape[1] != weight.shape[0] or weight.shape[0] % groups:
        raise ValueError(f"conv_transpose2d: input has {x.shape[1]} channels, so weight must be "
                         f"({x.shape[1]}, C_out / groups, kh, kw) with {x.shape[1]} divisible by groups={groups}; "
                         f"got weight shape {weight.shape}")
    stride, padding = pair(stride, "stride"), pair(padding, "padding")
    dilation, output_padding = pair(dilation, "dilation"), pair(output_padding, "output_padding")
    if any(extra >= max(s, d) for extra, s, d in zip(output_padding, stride, dilation)):
        raise ValueError(f"conv_transpose2d: output_padding {output_padding} must be smaller than stride "
                         f"{stride} or dilation {dilation}")
    out_hw = [(x.shape[2 + d] - 1) * stride[d] - 2 * padding[d] + dilation[d] * (weight.shape[2 + d] - 1)
              + output_padding[d] + 1 for d in range(2)]
    if min(out_hw) < 1:
        raise ValueError(f"conv_transpose2d: input {x.shape} with kernel {weight.shape[2:]}, stride {stride} and "
                         f"padding {padding} gives an empty output")
    xp = backend.get_array_module(x.data)
    zeros = Tensor(xp.zeros((x.shape[0], weight.shape[1] * groups, *out_hw), dtype=x.dtype), requires_grad=True)
    recording = is_grad_enabled() and (x.requires_grad or weight.requires_grad)
    with enable_grad():
        convolved = conv2d(zeros, weight, None, stride, padding, dilation, groups)
        (y,) = grad(convolved, zeros, x, create_graph=recording)
    return y if bias is None else y + bias.reshape(1, -1, 1, 1)
