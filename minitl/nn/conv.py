"""2-D convolution (cross-correlation, as in every framework) and its transpose, as Functions.

Shapes: x (N, C, H, W), weight (O, C/groups, kh, kw), y (N, O, OH, OW) with

    OH = (H + 2 ph - dh (kh - 1) - 1) // sh + 1      (and OW likewise)

    y[n, o, h, w] = sum_{c,i,j} x_pad[n, c, h sh + i dh, w sw + j dw] W[o, c, i, j]  (+ b[o])

(with groups, channels are split into `groups` independent slices, each
with its own weights). y is linear in x and linear in W, so each of its
gradients is again a convolution-like map of gy:

    dx = conv_transpose2d(gy, W)   each gy[n, o, h, w] W[o, c, i, j] sent back to the pixel it came from
    dW = conv2d_weight(x, gy)      dW[o, c, i, j] = sum_{n,h,w} x_pad[n, c, h sh + i dh, w sw + j dw] gy[n, o, h, w]
    db = gy summed over N, OH, OW

Each of the three maps is bilinear, and each one's gradients are the other
two (see their Functions), so the three Functions below differentiate each
other to any order. The arithmetic (im2col, one matrix product per chunk of
images, threads) is in ``minitl.kernels.convolution``, each kernel beside
the plain reference that defines it.
"""
from minitl.autograd import Function
from minitl.kernels import convolution as kernels
from minitl.kernels.convolution import output_hw
from minitl.nn.arguments import check_input_dtype, tensor_argument
from minitl.ops.shape import pad, unsqueeze


def ntuple(value, n, name):
    """n ints from an int or a sequence of n, as PyTorch's layers accept both."""
    result = (value,) * n if isinstance(value, int) else tuple(value)
    if len(result) != n:
        raise ValueError(f"{name} must be an int or {n} ints, got {value!r}")
    return result


def pair(value, name):
    """(a, b) from an int or a pair."""
    return ntuple(value, 2, name)


def same_padding(kernel, dilation):
    """padding='same' per dim: (before, after) with before + after = dilation (k - 1), the extra one after."""
    totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
    return [(total // 2, total - total // 2) for total in totals]


class _Convolution(Function):
    """What the three convolution Functions share: the window arguments (stride, padding, dilation, groups)."""

    def __init__(self, stride, padding, dilation, groups):
        self.arguments = (stride, padding, dilation, groups)


class Conv2dFunction(_Convolution):
    """y = conv2d(x, W) (+ b);  dx = conv_transpose2d(gy, W),  dW = conv2d_weight(x, gy),  db = sum of gy over N, OH, OW."""

    def forward(self, x, weight, bias=None):
        self.save_for_backward(x, weight)
        y = kernels.conv2d(x, weight, *self.arguments)
        if bias is not None:
            y += bias.reshape(1, -1, 1, 1)
        return y

    def backward(self, gy):
        x, weight = self.saved_tensors
        gx = gw = gb = None
        if self.needs_input_grad[1]:  # dW before dx, so that dx is not held through dW's chunks (fewer page faults)
            gw = Conv2dWeightGrad(weight.shape[2:], *self.arguments).on(x, gy)
        if self.needs_input_grad[0]:
            gx = ConvTranspose2dFunction(x.shape[2:], *self.arguments).on(gy, weight)
        if len(self.needs_input_grad) > 2 and self.needs_input_grad[2]:
            gb = gy.sum(axis=(0, 2, 3))
        return gx, gw, gb


class ConvTranspose2dFunction(_Convolution):
    """y = conv_transpose2d(x, W): what conv2d with weight W sends back to its input (of spatial size `out_hw`)
    when x is the gradient of its output, i.e. <conv_transpose2d(x, W), u> = <x, conv2d(u, W)> for every u.

    So dx = conv2d(gy, W) and dW = conv2d_weight(gy, x).
    """

    def __init__(self, out_hw, *arguments):
        super().__init__(*arguments)
        self.out_hw = tuple(out_hw)

    def forward(self, x, weight):
        self.save_for_backward(x, weight)
        return kernels.conv_transpose2d(x, weight, self.out_hw, *self.arguments)

    def backward(self, gy):
        x, weight = self.saved_tensors
        gx = Conv2dFunction(*self.arguments).on(gy, weight) if self.needs_input_grad[0] else None
        gw = Conv2dWeightGrad(weight.shape[2:], *self.arguments).on(gy, x) if self.needs_input_grad[1] else None
        return gx, gw


class Conv2dWeightGrad(_Convolution):
    """y = conv2d_weight(x, g): conv2d's gradient with respect to its (kh, kw) weight, for input x and output
    gradient g, i.e. <conv2d_weight(x, g), V> = <conv2d(x, V), g> for every weight V.

    So, for the upstream gradient gW (a weight's shape), dx = conv_transpose2d(g, gW) and dg = conv2d(x, gW).
    """

    def __init__(self, kernel, *arguments):
        super().__init__(*arguments)
        self.kernel = tuple(kernel)

    def forward(self, x, g):
        self.save_for_backward(x, g)
        return kernels.conv2d_weight(x, g, self.kernel, *self.arguments)

    def backward(self, gw):
        x, g = self.saved_tensors
        gx = ConvTranspose2dFunction(x.shape[2:], *self.arguments).on(g, gw) if self.needs_input_grad[0] else None
        gg = Conv2dFunction(*self.arguments).on(x, gw) if self.needs_input_grad[1] else None
        return gx, gg


def _string_padding(x, padding, kernel, stride, dilation, name):
    """(x, padding) for padding='valid' (none) or 'same' (output size = input size, stride 1 only): where the
    total dilation (k - 1) is odd, PyTorch puts the extra row or column after, padding x by it first."""
    if padding not in ("valid", "same"):
        raise RuntimeError(f"{name}: Invalid padding string '{padding}', should be one of 'valid' or 'same'")
    if padding == "valid":
        return x, (0, 0)
    if stride != (1, 1):
        raise RuntimeError(f"{name}: padding='same' is not supported for strided convolutions, got stride {stride}")
    widths = same_padding(kernel, dilation)
    extra = [after - before for before, after in widths]
    if any(extra):
        x = pad(x, (0, extra[1], 0, extra[0]))
    return x, tuple(before for before, _ in widths)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution of x (N, C, H, W) or unbatched (C, H, W) with weight (O, C/groups, kh, kw), PyTorch's
    conv2d; padding is a number, a pair, 'valid' (none) or 'same' (the input's size, stride 1)."""
    x, weight = tensor_argument(x, "conv2d", "input"), tensor_argument(weight, "conv2d", "weight")
    tensor_argument(bias, "conv2d", "bias", optional=True)
    check_input_dtype(x, weight, "conv2d")
    if x.ndim == 3 and weight.ndim == 4:  # unbatched, as PyTorch takes it: a batch of one
        return conv2d(unsqueeze(x, 0), weight, bias, stride, padding, dilation, groups).squeeze(0)
    if x.ndim != 4 or weight.ndim != 4:
        raise ValueError(f"conv2d expects 3-D (unbatched) or 4-D input and 4-D weight, got shapes {x.shape} and "
                         f"{weight.shape}")
    if x.shape[1] % groups or weight.shape[0] % groups or x.shape[1] // groups != weight.shape[1]:
        raise ValueError(f"conv2d: input has {x.shape[1]} channels and groups={groups}, so weight must be "
                         f"({weight.shape[0]}, {x.shape[1] // groups}, kh, kw) with out channels divisible "
                         f"by groups; got weight shape {weight.shape}")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"conv2d: bias must have shape ({weight.shape[0]},), got {bias.shape}")
    stride, dilation = pair(stride, "stride"), pair(dilation, "dilation")
    if isinstance(padding, str):
        x, padding = _string_padding(x, padding, weight.shape[2:], stride, dilation, "conv2d")
    padding = pair(padding, "padding")
    if min(output_hw(x.shape[2:], weight.shape[2:], stride, padding, dilation)) < 1:
        raise ValueError(f"conv2d: input {x.shape} is too small for kernel {weight.shape[2:]} with "
                         f"padding {padding} and dilation {dilation}")
    function = Conv2dFunction(stride, padding, dilation, groups)
    return function(x, weight) if bias is None else function(x, weight, bias)


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution of x (N, C, L) or unbatched (C, L) with weight (O, C/groups, k): conv2d on a height of 1,
    x as (N, C, 1, L) and weight as (O, C/groups, 1, k)."""
    x, weight = tensor_argument(x, "conv1d", "input"), tensor_argument(weight, "conv1d", "weight")
    if x.ndim not in (2, 3) or weight.ndim != 3:
        raise ValueError(f"conv1d expects 2-D (unbatched) or 3-D input and 3-D weight, got shapes {x.shape} and "
                         f"{weight.shape}")
    (stride,), (dilation,) = ntuple(stride, 1, "stride"), ntuple(dilation, 1, "dilation")
    padding = padding if isinstance(padding, str) else (0, *ntuple(padding, 1, "padding"))
    y = conv2d(unsqueeze(x, -2), unsqueeze(weight, -2), bias, (1, stride), padding, (1, dilation), groups)
    return y.squeeze(-2)


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """The transposed convolution (PyTorch's conv_transpose2d; DeZero's "deconvolution"): conv2d's adjoint.

    With weight W of shape (C_in, C_out / groups, kh, kw), y = conv_transpose2d(x, W) is what conv2d with
    the same W, stride, padding, dilation and groups sends back to its input when x is the gradient of
    its output: <y, g> = <x, conv2d(g, W)> for every g (``ConvTranspose2dFunction``). Output size per spatial
    dim: (size - 1) stride - 2 padding + dilation (k - 1) + output_padding + 1, with output_padding smaller
    than stride (PyTorch also allows it up to the dilation: minitl's transposed convolution must be the
    gradient of a convolution of its output's size).
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
    if any(extra >= s for extra, s in zip(output_padding, stride)):  # PyTorch also allows up to the dilation
        raise ValueError(f"conv_transpose2d: output_padding {output_padding} must be smaller than stride {stride}")
    out_hw = [(x.shape[2 + d] - 1) * stride[d] - 2 * padding[d] + dilation[d] * (weight.shape[2 + d] - 1)
              + output_padding[d] + 1 for d in range(2)]
    if min(out_hw) < 1:
        raise ValueError(f"conv_transpose2d: input {x.shape} with kernel {weight.shape[2:]}, stride {stride} and "
                         f"padding {padding} gives an empty output")
    y = ConvTranspose2dFunction(out_hw, stride, padding, dilation, groups)(x, weight)
    return y if bias is None else y + bias.reshape(1, -1, 1, 1)
