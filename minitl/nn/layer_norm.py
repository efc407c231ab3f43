"""Layer and group normalisation: per-sample statistics, so the same in training and evaluation.

layer_norm normalises each sample over its last dims (`normalized_shape`, e.g. the features of a token);
group_norm splits the C channels of (N, C, *) into G groups and normalises each sample's group:

    y = (x - mean) / sqrt(var + eps) * weight + bias     (var the biased variance, over the same elements)

Both are compositions of differentiable ops (mean, subtraction, sqrt, division), so their gradients,
first and higher order, follow from those ops' formulas.
"""

from minitl import creation
from minitl.nn import init
from minitl.nn.arguments import tensor_argument
from minitl.nn.module import Module, Parameter
from minitl.ops.elementwise import sqrt


def _normalize(x, dims, eps):
    """(x - mean) / sqrt(var + eps), mean and biased var over `dims`."""
    centred = x - x.mean(dims, keepdim=True)
    return centred / sqrt((centred * centred).mean(dims, keepdim=True) + eps)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the last len(normalized_shape) dims, then scale and shift elementwise."""
    tensor_argument(input, "layer_norm", "input")
    normalized_shape = tuple(normalized_shape)
    if input.shape[input.ndim - len(normalized_shape):] != normalized_shape:
        raise RuntimeError(f"Given normalized_shape={list(normalized_shape)}, expected input with shape "
                           f"[*, {', '.join(map(str, normalized_shape))}], but got input of size{list(input.shape)}")
    y = _normalize(input, tuple(range(input.ndim - len(normalized_shape), input.ndim)), eps)
    y = y if weight is None else y * weight
    return y if bias is None else y + bias


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalise each sample's num_groups groups of channels of (N, C, *), then scale and shift per channel."""
    tensor_argument(input, "group_norm", "input")
    if input.ndim < 2 or input.shape[1] % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, but got input of "
                           f"shape {list(input.shape)} and num_groups={num_groups}")
    grouped = input.reshape(input.shape[0], num_groups, -1)
    y = _normalize(grouped, (2,), eps).reshape(input.shape)
    per_channel = (-1,) + (1,) * (input.ndim - 2)
    y = y if weight is None else y * weight.reshape(per_channel)
    return y if bias is None else y + bias.reshape(per_channel)


def _affine_parameters(module, shape, affine, bias, device, dtype):
    """weight (ones) and bias (zeros) of `shape`, each None when not wanted: PyTorch's parameters and keys."""
    module.register_parameter("weight", Parameter(creation.ones(shape, dtype=dtype, device=device))
                              if affine else None)
    module.register_parameter("bias", Parameter(creation.zeros(shape, dtype=dtype, device=device))
                              if affine and bias else None)


def _reset_affine(module):
    if module.weight is not None:
        init.ones_(module.weight)
    if module.bias is not None:
        init.zeros_(module.bias)


class LayerNorm(Module):
    """Layer normalisation (Ba et al. 2016) over the last dims; weight 1 and bias 0 of `normalized_shape`."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, device=None, dtype=None):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, elementwise_affine
        _affine_parameters(self, shape, elementwise_affine, bias, device, dtype)

    def reset_parameters(self):
        _reset_affine(self)

    def forward(self, x):
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


class GroupNorm(Module):
    """Group normalisation (Wu & He 2018); num_groups=1 is layer norm over (C, *), num_groups=C instance norm."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None, dtype=None, *, bias=True):
        super().__init__()
        if num_channels % num_groups:
            raise ValueError(f"num_channels ({num_channels}) must be divisible by num_groups ({num_groups})")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        _affine_parameters(self, (num_channels,), affine, bias, device, dtype)

    def reset_parameters(self):
        _reset_affine(self)

    def forward(self, x):
        return group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, bias={self.bias is not None}"
