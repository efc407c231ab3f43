"""Layers: thin Modules that hold parameters and settings and call ``minitl.nn.functional``.

Signatures, defaults, initialisation and printed form are PyTorch's, so a
model written for ``torch.nn`` reads (and loads weights) the same here. Each
layer takes ``device=None, dtype=None`` for its parameters (float32 on the
CPU by default).
"""
import math

from minitl import creation
from minitl.nn import functional as F
from minitl.nn import init
from minitl.nn.arguments import check_probability
from minitl.nn.conv import ntuple, pair, same_padding
from minitl.nn.module import Module, Parameter


def _empty_parameter(shape, device, dtype):
    """A Parameter of `shape` to be filled by an initialiser (zeros until then)."""
    return Parameter(creation.zeros(shape, dtype=dtype, device=device))


class Identity(Module):
    """Returns its input unchanged (a placeholder, e.g. for a removed classifier head)."""

    def forward(self, x):
        return x


# -- layers with weights --------------------------------------------------------
class Linear(Module):
    """y = x W^T + b with W of shape (out_features, in_features).

    PyTorch's initialisation: W and b from U(-1/sqrt(in_features), 1/sqrt(in_features)).
    """

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = _empty_parameter((out_features, in_features), device, dtype)
        self.register_parameter("bias", _empty_parameter((out_features,), device, dtype) if bias else None)
        self.reset_parameters()

    def reset_parameters(self):
        _reset_weight_and_bias(self.weight, self.bias)

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class _ConvNd(Module):
    """What Conv1d, Conv2d and ConvTranspose2d share: channels and groups, the window arguments (an int or
    `_dims` ints each; padding also 'valid' or 'same'), padding_mode, weight, bias, repr."""
    _dims = 2
    _optional_arguments = ("padding", "dilation")  # shown by repr when not the default (zeros, ones)
    _padding_modes = ("zeros", "reflect", "replicate", "circular")

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                 weight_channels, device, dtype, padding_mode="zeros"):
        super().__init__()
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"in_channels ({in_channels}) and out_channels ({out_channels}) must both be "
                             f"divisible by groups ({groups})")
        if padding_mode not in self._padding_modes:
            raise ValueError(f"padding_mode must be one of {self._padding_modes}, but got padding_mode='{padding_mode}'")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        n = self._dims
        self.kernel_size, self.stride = ntuple(kernel_size, n, "kernel_size"), ntuple(stride, n, "stride")
        self.dilation, self.padding_mode = ntuple(dilation, n, "dilation"), padding_mode
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(f"Invalid padding string '{padding}', should be one of ('valid', 'same')")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
            self.padding = padding
        else:
            self.padding = ntuple(padding, n, "padding")
        self.weight = _empty_parameter((*weight_channels, *self.kernel_size), device, dtype)
        self.register_parameter("bias", _empty_parameter((out_channels,), device, dtype) if bias else None)

    def reset_parameters(self):
        _reset_weight_and_bias(self.weight, self.bias)

    def _border_padded(self, x):
        """x padded by `padding_mode` (not zeros) on every side, F.pad's order: the convolution then pads nothing."""
        if self.padding == "valid":
            return x
        widths = same_padding(self.kernel_size, self.dilation) if self.padding == "same" else [(p, p) for p in
                                                                                               self.padding]
        return F.pad(x, [w for before_after in reversed(widths) for w in before_after], mode=self.padding_mode)

    def _convolve(self, convolution, x):
        if self.padding_mode == "zeros":
            return convolution(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
        return convolution(self._border_padded(x), self.weight, self.bias, self.stride, 0, self.dilation, self.groups)

    def extra_repr(self):
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        for name in self._optional_arguments:
            value = getattr(self, name)
            if value != (1 if name == "dilation" else 0,) * self._dims:
                text += f", {name}={value}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode}"
        return text


class Conv1d(_ConvNd):
    """1-D cross-correlation over (N, C_in, L) or unbatched (C_in, L) with weight (C_out, C_in / groups, k).

    Output length: floor((L + 2 padding - dilation (k - 1) - 1) / stride) + 1. PyTorch's initialisation,
    with fan_in = C_in / groups * k: weight and bias from U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    """
    _dims = 1

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         (out_channels, in_channels // groups), device, dtype, padding_mode)
        self.reset_parameters()

    def forward(self, x):
        return self._convolve(F.conv1d, x)


class Conv2d(_ConvNd):
    """2-D cross-correlation over (N, C_in, H, W) or unbatched (C_in, H, W) with weight (C_out, C_in / groups, kH, kW).

    Output size per spatial dim: floor((size + 2 padding - dilation (k - 1) - 1) / stride) + 1; padding='same'
    keeps the size (stride 1), 'valid' is no padding. padding_mode: what the padding holds ('zeros', or the
    input's border: 'reflect', 'replicate', 'circular', via F.pad). PyTorch's initialisation, with
    fan_in = C_in / groups * kH * kW: weight and bias from U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         (out_channels, in_channels // groups), device, dtype, padding_mode)
        self.reset_parameters()

    def forward(self, x):
        return self._convolve(F.conv2d, x)


class ConvTranspose2d(_ConvNd):
    """The transposed convolution of (N, C_in, H, W) with weight (C_in, C_out / groups, kH, kW): conv2d's adjoint.

    Output size per spatial dim: (size - 1) stride - 2 padding + dilation (k - 1) + output_padding + 1.
    PyTorch's initialisation, with fan_in = C_out / groups * kH * kW (the weight's dim 1 and kernel).
    """

    _optional_arguments = ("padding", "output_padding", "dilation")
    _padding_modes = ("zeros",)

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        if isinstance(padding, str):
            raise ValueError(f"ConvTranspose2d: padding must be an int or a pair, got {padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         (in_channels, out_channels // groups), device, dtype, padding_mode)
        self.output_padding = pair(output_padding, "output_padding")
        self.reset_parameters()

    def forward(self, x):
        return F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding, self.output_padding,
                                  self.groups, self.dilation)


def _reset_weight_and_bias(weight, bias):
    """PyTorch's default for Linear and Conv: kaiming_uniform_(a=sqrt(5)), i.e. U(+-1/sqrt(fan_in)), for both."""
    init.kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = init.calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        init.uniform_(bias, -bound, bound)


class _BatchNorm(Module):
    """Normalise each channel (dim 1) by batch statistics while training, running ones in eval.

        y = (x - mean) / sqrt(var + eps) * weight + bias

    Training: mean and (biased) var over every dim but 1; the running
    estimates move by running = (1 - momentum) running + momentum batch_stat,
    the variance entering them unbiased (n / (n - 1)), as in PyTorch.
    momentum=None uses the cumulative average (momentum = 1 / batches seen).
    Eval: the running estimates are used. With track_running_stats=False
    there are none and batch statistics are used in both modes.
    affine=False drops weight and bias; bias=False (keyword, new in PyTorch 2.x) drops only bias.

    ``frozen`` (minitl's own, set by ``minitl.lab.transfer.freeze``): a frozen layer
    stays in eval mode whatever ``train()`` asks, so a frozen backbone keeps its
    running statistics while the rest of the model trains.
    """
    _expected_ndims = ()
    _optional_state = ("num_batches_tracked",)  # PyTorch < 0.4.1 had none; PyTorch tolerates its absence
    frozen = False

    def train(self, mode=True):
        return super().train(mode and not self.frozen)

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 device=None, dtype=None, *, bias=True):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        weight = Parameter(creation.ones(num_features, dtype=dtype, device=device)) if affine else None
        self.register_parameter("weight", weight)
        bias = Parameter(creation.zeros(num_features, dtype=dtype, device=device)) if affine and bias else None
        self.register_parameter("bias", bias)
        if track_running_stats:
            self.register_buffer("running_mean", creation.zeros(num_features, dtype=dtype, device=device))
            self.register_buffer("running_var", creation.ones(num_features, dtype=dtype, device=device))
            self.register_buffer("num_batches_tracked",
                                 creation.zeros((), dtype=creation.int64, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def forward(self, x):
        if x.ndim not in self._expected_ndims:
            expected = " or ".join(f"{n}D" for n in self._expected_ndims)
            raise ValueError(f"{type(self).__name__}: expected {expected} input (got {x.ndim}D input "
                             f"of shape {tuple(x.shape)})")
        if x.shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}({self.num_features}): expected {self.num_features} "
                             f"channels in dim 1, got input of shape {tuple(x.shape)}")
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data += 1
            if self.momentum is None:  # cumulative average of all batches so far
                momentum = 1.0 / self.num_batches_tracked.item()
        # Batch statistics while training, and in eval when there are no running ones.
        use_batch_stats = self.training or self.running_mean is None
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            training=use_batch_stats, momentum=momentum, eps=self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) inputs."""
    _expected_ndims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) inputs, per channel over N, H and W."""
    _expected_ndims = (4,)


# -- pooling ------------------------------------------------------------------------
class _Pool2d(Module):
    """Shared by MaxPool2d and AvgPool2d: the window arguments, stride defaulting to the kernel size."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding, self.ceil_mode = padding, ceil_mode

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """Maximum over each kernel_size window, moved by stride (default: kernel_size), after -inf padding;
    ceil_mode keeps a last partial window; return_indices also returns the maxima's places (for MaxUnpool2d)."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.dilation, self.return_indices = dilation, return_indices

    def forward(self, x):
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                            self.return_indices)

    def extra_repr(self):
        return super().extra_repr() + f", dilation={self.dilation}, ceil_mode={self.ceil_mode}"


class AvgPool2d(_Pool2d):
    """Mean over each kernel_size window, moved by stride (default: kernel_size); zero padding counts unless
    count_include_pad=False; divisor_override replaces the window's size as the divisor."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, x):
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad,
                            self.divisor_override)


class _AdaptivePool2d(Module):
    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveAvgPool2d(_AdaptivePool2d):
    """Mean pooling to a fixed output_size (int or (H, W), None keeping that dim) whatever the input size."""

    def forward(self, x):
        return F.adaptive_avg_pool2d(x, self.output_size)


# -- dropout ------------------------------------------------------------------------
class _Dropout(Module):
    def __init__(self, p=0.5):
        super().__init__()
        check_probability(p, "dropout")
        self.p = p

    def extra_repr(self):
        return f"p={self.p}, inplace=False"


class Dropout(_Dropout):
    """Training: zero each element with probability p and scale the rest by 1/(1-p) (inverted dropout,
    so the expected value is unchanged and eval needs no rescaling). Eval: identity."""

    def forward(self, x):
        return F.dropout(x, self.p, self.training)


class Dropout2d(_Dropout):
    """Like Dropout, but zeroes whole channels (x[n, c, :, :]) at once."""

    def forward(self, x):
        return F.dropout2d(x, self.p, self.training)


# -- activations and reshaping --------------------------------------------------------
class _InPlace(Module):
    """An activation with PyTorch's `inplace` flag (the input then stands for the output; see ``F.relu``)."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class ReLU(_InPlace):
    """max(x, 0)."""

    def forward(self, x):
        return F.relu(x, self.inplace)


class LeakyReLU(_InPlace):
    """x if x > 0 else negative_slope * x."""

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__(inplace)
        self.negative_slope = negative_slope

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope, self.inplace)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class Sigmoid(Module):
    """1 / (1 + exp(-x))."""

    def forward(self, x):
        return F.sigmoid(x)


class Tanh(Module):
    """tanh(x)."""

    def forward(self, x):
        return F.tanh(x)


class GELU(Module):
    """x Phi(x), Phi the standard normal CDF; approximate='tanh' for the tanh formula. See ``F.gelu``."""

    def __init__(self, approximate="none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, approximate=self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class _AlongDim(Module):
    """Softmax and LogSoftmax: a function applied along `dim`."""

    def __init__(self, dim=None):
        super().__init__()
        if dim is None:  # PyTorch guesses a dim (with a deprecation warning); minitl asks for it
            raise TypeError(f"{type(self).__name__} needs dim, e.g. {type(self).__name__}(dim=1) for (N, C) scores")
        self.dim = dim

    def extra_repr(self):
        return f"dim={self.dim}"


class Softmax(_AlongDim):
    """Probabilities e**x_i / sum_j e**x_j along `dim`."""

    def forward(self, x):
        return F.softmax(x, self.dim)


class LogSoftmax(_AlongDim):
    """Log-probabilities along `dim` (before ``nn.NLLLoss``), computed stably."""

    def forward(self, x):
        return F.log_softmax(x, self.dim)


class Flatten(Module):
    """Merge dims start_dim..end_dim into one: (N, C, H, W) -> (N, C*H*W) by default."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


# -- more layers of PyTorch's (issue 32) --------------------------------------------
class AdaptiveMaxPool2d(_AdaptivePool2d):
    """Max pooling to a fixed output_size (int or (H, W), None keeping that dim) whatever the input size."""

    def __init__(self, output_size, return_indices=False):
        super().__init__(output_size)
        self.return_indices = return_indices

    def forward(self, x):
        return F.adaptive_max_pool2d(x, self.output_size, self.return_indices)


class MaxUnpool2d(Module):
    """Put each value back at the index MaxPool2d(return_indices=True) gave it, zeros elsewhere."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = pair(kernel_size, "kernel_size")
        self.stride = self.kernel_size if stride is None else pair(stride, "stride")
        self.padding = pair(padding, "padding")

    def forward(self, x, indices, output_size=None):
        return F.max_unpool2d(x, indices, self.kernel_size, self.stride, self.padding, output_size)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class Unflatten(Module):
    """Split dim `dim` into unflattened_size: Flatten's inverse, e.g. (N, 784) -> (N, 1, 28, 28)."""

    def __init__(self, dim, unflattened_size):
        super().__init__()
        self.dim, self.unflattened_size = dim, unflattened_size

    def forward(self, x):
        dim = self.dim % x.ndim
        return x.reshape(x.shape[:dim] + tuple(self.unflattened_size) + x.shape[dim + 1:])

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class Upsample(Module):
    """Resize by F.interpolate: to `size`, or by `scale_factor`; mode 'nearest' or 'bilinear'."""

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        self.size, self.mode, self.align_corners = size, mode, align_corners
        self.scale_factor = float(scale_factor) if isinstance(scale_factor, (int, float)) else scale_factor
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, x):
        return F.interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners,
                             recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self):
        what = f"scale_factor={self.scale_factor}" if self.scale_factor is not None else f"size={self.size}"
        return f"{what}, mode='{self.mode}'"


class ELU(_InPlace):
    """x if x > 0 else alpha (e**x - 1); see ``F.elu``."""

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__(inplace)
        self.alpha = alpha

    def forward(self, x):
        return F.elu(x, self.alpha, self.inplace)

    def extra_repr(self):
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class SiLU(_InPlace):
    """x sigmoid(x)."""

    def forward(self, x):
        return F.silu(x, self.inplace)


class Softplus(Module):
    """log(1 + e**(beta x)) / beta, linear where beta x > threshold."""

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class Hardtanh(_InPlace):
    """x clamped to [min_val, max_val]."""

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False):
        super().__init__(inplace)
        if not max_val > min_val:  # PyTorch's check here (an AssertionError); F.hardtanh's is a ValueError
            raise AssertionError(f"max_val ({max_val}) must be greater than min_val ({min_val})")
        self.min_val, self.max_val = min_val, max_val

    def forward(self, x):
        return F.hardtanh(x, self.min_val, self.max_val, self.inplace)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}" + (", inplace=True" if self.inplace else "")


class PReLU(Module):
    """x if x > 0 else a x, the slope a learned: one, or one per channel (num_parameters=C), initialised to `init`."""

    def __init__(self, num_parameters=1, init=0.25, device=None, dtype=None):
        super().__init__()
        self.num_parameters, self.init = num_parameters, init
        self.weight = _empty_parameter((num_parameters,), device, dtype)
        self.reset_parameters()

    def reset_parameters(self):
        init.constant_(self.weight, self.init)

    def forward(self, x):
        return F.prelu(x, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"
