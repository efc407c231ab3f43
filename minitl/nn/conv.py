"""2-D convolution (cross-correlation, as in every framework) by one matrix product.

Shapes: x (N, C, H, W), weight (O, C/groups, kh, kw), y (N, O, OH, OW) with

    OH = (H + 2 ph - dh (kh - 1) - 1) // sh + 1      (and OW likewise)

Forward ("im2col"): ``sliding_window_view`` gives every kh x kw window of the
padded input as a view, without copying; striding and dilation are slices of
that view. Laying the windows out as a matrix ``cols`` per image (one row
per (c, i, j), one column per output pixel) copies the input once, and then
all of the arithmetic is a matrix product, which BLAS runs near the
machine's peak:

    y[n, o, h, w] = sum_{c,i,j} x_pad[n, c, h sh + i dh, w sw + j dw] W[o, c, i, j]
    Y[n] = W_mat @ cols[n]        cols[n]: (C kh kw, OH OW),  W_mat: (O, C kh kw)

With groups, channels are split into `groups` independent slices, each with
its own W_mat and cols.

Backward:
    dW_mat = sum_n dY[n] @ cols[n]^T          GEMMs
    dcols  = W_mat^T @ dY[n]                  GEMMs
    dx     = "col2im" of dcols: each window position (i, j) adds its slice
             of dcols back onto the strided pixels it was read from — a loop
             of kh kw vectorised slice-adds (np.add.at would be ~13x slower).
    db     = dY summed over N, OH, OW
"""
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

    `grad_windows` is laid out (N, C, kh, kw, OH, OW), so each of the kh kw
    slice-adds reads whole contiguous rows.
    """
    xp = backend.get_array_module(grad_windows)
    _, _, kh, kw, oh, ow = grad_windows.shape
    (sh, sw), (dh, dw) = stride, dilation
    grad = xp.zeros(padded_shape, dtype=grad_windows.dtype)
    for i in range(kh):
        for j in range(kw):
            grad[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw] += \
                grad_windows[:, :, i, j]
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


class Conv2d(Function):
    """y = conv2d(x, W) (+ b): im2col + one (batched) GEMM; see the module docstring."""

    def __init__(self, stride, padding, dilation, groups):
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups

    def forward(self, x, weight, bias=None):
        xp = backend.get_array_module(x)
        n, c, h, w = x.shape
        out_channels, _, kh, kw = weight.shape
        g = self.groups
        oh = output_size(h, kh, self.stride[0], self.padding[0], self.dilation[0])
        ow = output_size(w, kw, self.stride[1], self.padding[1], self.dilation[1])
        x_padded = pad_spatial(x, self.padding)
        win = windows(x_padded, (kh, kw), self.stride, self.dilation, (oh, ow))
        # cols[n, g, (c, i, j), (h, w)]: the one copy of the input. Output pixels last keeps
        # every copied row contiguous, and makes the product come out in NCHW order directly.
        cols = xp.ascontiguousarray(win.transpose(0, 1, 4, 5, 2, 3))
        self.cols = cols.reshape(n, g, (c // g) * kh * kw, oh * ow)
        self.weight_mat = weight.reshape(g, out_channels // g, -1)  # (g, O/g, C/g kh kw)
        self.shapes = x.shape, x_padded.shape, weight.shape, (oh, ow)
        y = (self.weight_mat @ self.cols).reshape(n, out_channels, oh, ow)  # one GEMM per image
        if bias is not None:
            y += bias.reshape(1, -1, 1, 1)
        return y

    def backward(self, gy):
        x_shape, padded_shape, weight_shape, (oh, ow) = self.shapes
        n, c = x_shape[:2]
        out_channels, _, kh, kw = weight_shape
        gy_mat = gy.reshape(n, self.groups, out_channels // self.groups, oh * ow)  # (N, g, O/g, OH OW)
        gx = gw = gb = None
        if self.needs_input_grad[0]:
            gcols = self.weight_mat.swapaxes(-1, -2) @ gy_mat  # (N, g, C/g kh kw, OH OW)
            gwin = gcols.reshape(n, c, kh, kw, oh, ow)
            gx = unpad_spatial(add_windows_back(gwin, padded_shape, self.stride, self.dilation), self.padding)
        if self.needs_input_grad[1]:
            gw = (gy_mat @ self.cols.swapaxes(-1, -2)).sum(axis=0).reshape(weight_shape)
        if len(self.needs_input_grad) > 2 and self.needs_input_grad[2]:
            gb = gy.sum(axis=(0, 2, 3))
        return gx, gw, gb


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
