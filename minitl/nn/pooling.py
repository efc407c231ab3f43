"""Max, average and adaptive average pooling over the last two dimensions of NCHW input.

Both poolings look at the same windows as convolution (``conv.windows``, a
view (N, C, OH, OW, kh, kw)), with PyTorch's floor rule for the output size.

Fast path: when the kernel equals the stride, there is no padding and the
sizes divide, the windows tile the image exactly, so a plain reshape
(N, C, OH, kh, OW, kw) gives them: no strided view, and the backward is a
reshape back instead of a loop of slice-adds.

max:  y = max over the window;  dx = gy at the window's first maximum
      (PyTorch's choice among ties), 0 elsewhere.
avg:  y = sum over the window / (kh kw) (padding zeros counted, PyTorch's
      count_include_pad=True);  dx = gy / (kh kw) on every pixel of the window.
"""
from minitl import backend
from minitl.autograd import Function
from minitl.nn.conv import add_windows_back, output_size, pad_spatial, pair, unpad_spatial, windows
from minitl.ops.shape import getitem, stack


class _Pool2d(Function):
    """Shared by max and average pooling: window extraction and the gradient's way back."""

    def __init__(self, kernel, stride, padding):
        self.kernel, self.stride, self.padding = kernel, stride, padding

    def _windows(self, x, pad_value):
        (kh, kw), (sh, sw), (ph, pw) = self.kernel, self.stride, self.padding
        n, c, h, w = x.shape
        oh, ow = output_size(h, kh, sh, ph), output_size(w, kw, sw, pw)
        self.x_shape = x.shape
        self.tiles = (kh, kw) == (sh, sw) and ph == pw == 0 and h % kh == 0 and w % kw == 0
        if self.tiles:  # fast path: a reshape, viewed as (N, C, OH, OW, kh, kw)
            return x.reshape(n, c, oh, kh, ow, kw).transpose(0, 1, 2, 4, 3, 5)
        x_padded = pad_spatial(x, self.padding, pad_value)
        self.padded_shape = x_padded.shape
        return windows(x_padded, self.kernel, self.stride, (1, 1), (oh, ow))

    def _to_input(self, grad_windows):
        """Gradient w.r.t. the input from the gradient w.r.t. each window element."""
        if self.tiles:
            return grad_windows.transpose(0, 1, 2, 4, 3, 5).reshape(self.x_shape)
        grad = add_windows_back(grad_windows.transpose(0, 1, 4, 5, 2, 3), self.padded_shape, self.stride, (1, 1))
        return unpad_spatial(grad, self.padding)


class MaxPool2d(_Pool2d):
    def forward(self, x):
        xp = backend.get_array_module(x)
        win = self._windows(x, -xp.inf)
        flat = win.reshape(win.shape[:4] + (-1,))  # (N, C, OH, OW, kh kw)
        self.argmax = flat.argmax(axis=-1)[..., None]  # first maximum, as PyTorch
        return xp.take_along_axis(flat, self.argmax, axis=-1)[..., 0]

    def backward(self, gy):
        xp = backend.get_array_module(gy)
        kh, kw = self.kernel
        grad_flat = xp.zeros(gy.shape + (kh * kw,), dtype=gy.dtype)
        xp.put_along_axis(grad_flat, self.argmax, gy[..., None], axis=-1)
        return (self._to_input(grad_flat.reshape(gy.shape + (kh, kw))),)


class AvgPool2d(_Pool2d):
    def forward(self, x):
        return self._windows(x, 0).mean(axis=(4, 5))

    def backward(self, gy):
        xp = backend.get_array_module(gy)
        kh, kw = self.kernel
        share = gy / (kh * kw)
        return (self._to_input(xp.broadcast_to(share[..., None, None], gy.shape + (kh, kw))),)


def _pool_arguments(x, kernel_size, stride, padding, name):
    if x.ndim != 4:
        raise ValueError(f"{name} expects 4-D (N, C, H, W) input, got shape {x.shape}")
    kernel = pair(kernel_size, "kernel_size")
    stride = kernel if stride is None else pair(stride, "stride")
    padding = pair(padding, "padding")
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(f"{name}: padding {padding} must be at most half the kernel size {kernel}")
    if min(output_size(x.shape[2 + d], kernel[d], stride[d], padding[d]) for d in range(2)) < 1:
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
    if x.ndim != 4:
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
