"""2-D convolution (cross-correlation, as in every framework) by one matrix product.

Shapes: x (N, C, H, W), weight (O, C/groups, kh, kw), y (N, O, OH, OW) with

    OH = (H + 2 ph - dh (kh - 1) - 1) // sh + 1      (and OW likewise)

Forward ("im2col"): ``sliding_window_view`` gives every kh x kw window of the
padded input as a view, without copying; striding and dilation are slices of
that view. Laying the windows out as a matrix ``cols`` (one row per (c, i, j),
one column per output pixel of every image in a chunk of the batch) copies
the input once, and then all of the arithmetic is one matrix product, which
BLAS runs near the machine's peak:

    y[n, o, h, w] = sum_{c,i,j} x_pad[n, c, h sh + i dh, w sw + j dw] W[o, c, i, j]
    Y = W_mat @ cols        cols: (C kh kw, n OH OW),  W_mat: (O, C kh kw)

With groups, channels are split into `groups` independent slices, each with
its own W_mat and cols.

Backward:
    dW_mat = sum over chunks of dY @ cols^T              GEMMs (cols rebuilt)
    dx     = stride 1: a convolution of dY, padded by d (k - 1) - p, with the
             kernel flipped and its channel axes swapped ("transposed
             convolution": one im2col and one GEMM);
             strided: dcols = W_mat^T @ dY, then "col2im": each window
             position (i, j) adds its slice of dcols back onto the strided
             pixels it was read from — kh kw vectorised slice-adds
             (np.add.at would be ~13x slower)
    db     = dY summed over N, OH, OW
"""
import numpy as np

from minitl import backend
from minitl.autograd import Function


def pair(value, name):
    """(a, b) from an int or a pair, as PyTorch's layers accept both."""
    result = (value, value) if isinstance(value, int) else tuple(value)
    if len(result) != 2:
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    return result


def output_size(size, kernel, stride, padding, dilation=1):
    """PyTorch's output length of a sliding window (floor rule)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def windows(x_padded, kernel, stride, dilation, out_hw):
    """View (N, C, OH, OW, kh, kw) of every window of a padded NCHW array (no copy)."""
    xp = backend.get_array_module(x_padded)
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = kernel, stride, dilation, out_hw
    span = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    view = xp.lib.stride_tricks.sliding_window_view(x_padded, span, axis=(2, 3))
    return view[:, :, :sh * (oh - 1) + 1:sh, :sw * (ow - 1) + 1:sw, ::dh, ::dw]


def add_windows_back(grad_windows, padded_shape, stride, dilation):
    """The adjoint of `windows`: sum each window's gradient back onto the pixels it viewed.

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


def pad_spatial(x, padding, value=0):
    xp = backend.get_array_module(x)
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    return xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def unpad_spatial(x, padding):
    ph, pw = padding
    return x[:, :, ph:x.shape[2] - ph, pw:x.shape[3] - pw]


# On the CPU, im2col runs on chunks of images whose `cols` and product fit in this many bytes: the
# GEMM then reads cols from the cache right after the copy wrote it, and its product is still there
# when it is copied into the output, instead of both going through main memory (measured: a
# ResNet-20 stage-1 conv, batch 64, 9.6 ms in one piece, 6.3 ms in 4 MB chunks; counting the
# product too took the 3 -> 32 channel first conv of CNN-S from 11.3 ms to 3.4 ms). A GPU takes the
# whole batch at once: its memory is fast and each chunk costs kernel launches.
CPU_CHUNK_BYTES = 4 * 2 ** 20


def chunks_of_cols(x_padded, kernel, stride, dilation, groups, out_hw, out_channels):
    """(images, cols) for consecutive chunks of the batch: `images` a slice of it, and

        cols[g, (c, i, j), (n, h, w)] = x_padded[images][n, g C/g + c, h sh + i dh, w sw + j dw]

    the chunk's im2col matrix, one row per (c, i, j), one column per output pixel. Every copied
    row is OW contiguous pixels.
    """
    xp = backend.get_array_module(x_padded)
    n, c = x_padded.shape[:2]
    (kh, kw), (oh, ow) = kernel, out_hw
    image_bytes = (c * kh * kw + out_channels) * oh * ow * x_padded.itemsize  # its cols and its product
    step = max(1, CPU_CHUNK_BYTES // image_bytes) if xp is np else n
    for start in range(0, n, step):
        images = slice(start, min(start + step, n))
        win = windows(x_padded[images], kernel, stride, dilation, out_hw)
        cols = xp.ascontiguousarray(win.transpose(1, 4, 5, 0, 2, 3))  # (C, kh, kw, m, OH, OW)
        yield images, cols.reshape(groups, (c // groups) * kh * kw, -1)


def convolve(x_padded, weight, stride, dilation, groups, out_hw):
    """The convolution (without bias) of an already padded input: im2col and one GEMM per chunk."""
    xp = backend.get_array_module(x_padded)
    out_channels, _, kh, kw = weight.shape
    weight_mat = weight.reshape(groups, out_channels // groups, -1)  # (g, O/g, C/g kh kw)
    y = xp.empty((x_padded.shape[0], out_channels, *out_hw), dtype=x_padded.dtype)
    for images, cols in chunks_of_cols(x_padded, (kh, kw), stride, dilation, groups, out_hw, out_channels):
        # (g, O/g, m OH OW) -> (m, O, OH, OW): the product comes out channels first.
        y[images] = (weight_mat @ cols).reshape(out_channels, -1, *out_hw).transpose(1, 0, 2, 3)
    return y


class Conv2d(Function):
    """y = conv2d(x, W) (+ b): im2col + one GEMM per chunk of images; see the module docstring.

    Backward builds cols again instead of keeping them from forward: kh kw copies
    of every layer's input would crowd memory, and the copy is cheap next to the GEMM.
    """

    def __init__(self, stride, padding, dilation, groups):
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups

    def forward(self, x, weight, bias=None):
        _, _, h, w = x.shape
        _, _, kh, kw = weight.shape
        oh = output_size(h, kh, self.stride[0], self.padding[0], self.dilation[0])
        ow = output_size(w, kw, self.stride[1], self.padding[1], self.dilation[1])
        self.x_padded, self.weight, self.out_hw = pad_spatial(x, self.padding), weight, (oh, ow)
        y = convolve(self.x_padded, weight, self.stride, self.dilation, self.groups, self.out_hw)
        if bias is not None:
            y += bias.reshape(1, -1, 1, 1)
        return y

    def backward(self, gy):
        xp = backend.get_array_module(gy)
        out_channels, _, kh, kw = self.weight.shape
        g = self.groups
        gx = gw = gb = None
        if self.needs_input_grad[1]:
            gw = xp.zeros((g, out_channels // g, self.weight[0].size), dtype=gy.dtype)
            for images, cols in chunks_of_cols(self.x_padded, (kh, kw), self.stride, self.dilation, g,
                                               self.out_hw, out_channels):
                gy_mat = gy[images].transpose(1, 0, 2, 3).reshape(g, out_channels // g, -1)  # like the product
                gw += gy_mat @ cols.swapaxes(-1, -2)
            gw = gw.reshape(self.weight.shape)
        if self.needs_input_grad[0]:
            gx = self.input_grad(gy)
        if len(self.needs_input_grad) > 2 and self.needs_input_grad[2]:
            gb = gy.sum(axis=(0, 2, 3))
        return gx, gw, gb

    def input_grad(self, gy):
        """dL/dx. With stride 1 it is itself a convolution: of gy, padded by d (k - 1) - p, with the
        kernel flipped and its in/out channels swapped (a "transposed convolution"). That costs one
        im2col copy and one GEMM, where col2im needs a kh kw times bigger GEMM output and kh kw
        slice-adds. Strided convolutions take the col2im way."""
        xp = backend.get_array_module(gy)
        (kh, kw), (ph, pw), (dh, dw) = self.weight.shape[2:], self.padding, self.dilation
        g, out_channels = self.groups, self.weight.shape[0]
        n, c, padded_h, padded_w = self.x_padded.shape
        transposed_padding = (dh * (kh - 1) - ph, dw * (kw - 1) - pw)
        if self.stride == (1, 1) and min(transposed_padding) >= 0:
            flipped = self.weight[:, :, ::-1, ::-1].reshape(g, out_channels // g, c // g, kh, kw)
            flipped = flipped.swapaxes(1, 2).reshape(c, out_channels // g, kh, kw)
            x_hw = (padded_h - 2 * ph, padded_w - 2 * pw)
            return convolve(pad_spatial(gy, transposed_padding), flipped, (1, 1), self.dilation, g, x_hw)
        weight_mat_t = self.weight.reshape(g, out_channels // g, -1).swapaxes(-1, -2)  # (g, C/g kh kw, O/g)
        gy_mat = xp.ascontiguousarray(gy.transpose(1, 0, 2, 3)).reshape(g, out_channels // g, -1)
        gcols = (weight_mat_t @ gy_mat).reshape(c, kh, kw, n, *self.out_hw)
        grad = add_windows_back(gcols, self.x_padded.shape, self.stride, self.dilation)
        return unpad_spatial(grad, self.padding)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution of x (N, C, H, W) with weight (O, C/groups, kh, kw), PyTorch's conv2d."""
    if x.ndim != 4 or weight.ndim != 4:
        raise ValueError(f"conv2d expects 4-D input and weight, got shapes {x.shape} and {weight.shape}")
    if x.shape[1] % groups or weight.shape[0] % groups or x.shape[1] // groups != weight.shape[1]:
        raise ValueError(f"conv2d: input has {x.shape[1]} channels and groups={groups}, so weight must be "
                         f"({weight.shape[0]}, {x.shape[1] // groups}, kh, kw) with out channels divisible "
                         f"by groups; got weight shape {weight.shape}")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"conv2d: bias must have shape ({weight.shape[0]},), got {bias.shape}")
    function = Conv2d(pair(stride, "stride"), pair(padding, "padding"), pair(dilation, "dilation"), groups)
    out_hw = [output_size(x.shape[2 + d], weight.shape[2 + d], function.stride[d], function.padding[d],
                          function.dilation[d]) for d in range(2)]
    if min(out_hw) < 1:
        raise ValueError(f"conv2d: input {x.shape} is too small for kernel {weight.shape[2:]} with "
                         f"padding {function.padding} and dilation {function.dilation}")
    return function(x, weight) if bias is None else function(x, weight, bias)
