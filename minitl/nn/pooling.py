"""Max, average and adaptive average pooling over the last two dimensions of NCHW input.

Windows of kh x kw pixels, moved by the stride over the input padded on each
side; the output size follows PyTorch's floor rule (``conv2d``'s, without
dilation).

max:  y[n, c, h, w] = the largest value in window (h, w) (padding counts as -inf)
      dx = gy added at each window's first maximum (PyTorch's choice among ties), 0 elsewhere
avg:  y[n, c, h, w] = the mean of window (h, w) (padding zeros counted, PyTorch's count_include_pad=True)
      dx = gy / (kh kw) added to every pixel of its window

Both gradients are linear in gy, and each is a Function whose gradient is its
adjoint: max pooling's scatters gy to the maxima, and the adjoint of that
scatter gathers the values at the maxima (whose adjoint is the scatter
again); average pooling's spreads gy over the windows, and the adjoint of
spreading is average pooling itself. So higher derivatives come from the
same few Functions. The arithmetic (one whole-array operation per window
offset, threads) is in ``minitl.kernels.pooling``, beside the plain
references that define it.
"""
from minitl.autograd import Function
from minitl.kernels import pooling as kernels
from minitl.kernels.convolution import output_hw
from minitl.nn.arguments import tensor_argument
from minitl.nn.conv import pair
from minitl.ops.shape import getitem, stack


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
    return MaxPool2dFunction(*_pool_arguments(x, kernel_size, stride, padding, "max_pool2d"))(x)


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    """Mean of each window; stride defaults to the kernel size; padding zeros are counted."""
    return AvgPool2dFunction(*_pool_arguments(x, kernel_size, stride, padding, "avg_pool2d"))(x)


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
