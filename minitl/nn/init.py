"""Parameter initialisation, in place, as ``torch.nn.init``.

Each function overwrites ``tensor.data`` with values drawn from
``minitl.random`` (so ``tl.manual_seed`` makes them repeatable) and returns
the tensor. The scaled ones use the fans of a weight of shape
(out, in, *kernel): with r = product of the kernel dimensions,

    fan_in = in * r        fan_out = out * r

Xavier/Glorot (keep the variance of activations and gradients about equal
for a layer with gain g):  std = g * sqrt(2 / (fan_in + fan_out))
Kaiming/He (keep the variance of the forward pass, mode='fan_in', or the
backward pass, mode='fan_out'):  std = g / sqrt(fan)
A uniform U(-b, b) has std b / sqrt(3), so the uniform versions use b = sqrt(3) * std.
"""
import math

from minitl import backend, random


def calculate_gain(nonlinearity, param=None):
    """The factor g that keeps activations at unit scale after `nonlinearity` (PyTorch's table).

    linear, conv*, sigmoid: 1;  tanh: 5/3;  relu: sqrt(2);
    leaky_relu with slope a (default 0.01): sqrt(2 / (1 + a**2));  selu: 3/4.
    """
    if nonlinearity in ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                        "conv_transpose3d", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        if isinstance(slope, bool) or not isinstance(slope, (int, float)):
            raise ValueError(f"negative_slope {slope!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"unsupported nonlinearity {nonlinearity!r}")


def calculate_fan_in_and_fan_out(tensor):
    """(fan_in, fan_out) of a weight shaped (out, in, *kernel); PyTorch's ``_calculate_fan_in_and_fan_out``."""
    if tensor.ndim < 2:
        raise ValueError(f"fan in and fan out need a tensor with at least 2 dimensions, "
                         f"got shape {tuple(tensor.shape)}")
    receptive_field = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field


def _draw_into(tensor, draw):
    """Fill `tensor` with `draw(array)` (a ``minitl.random`` in-place fill): straight into its data,
    or, for a non-contiguous view, into a fresh array copied over it."""
    if tensor.data.flags.c_contiguous:
        draw(tensor.data)
    else:
        tensor.data[...] = draw(backend.get_array_module(tensor.data).empty(tensor.shape, tensor.dtype))
    return tensor


def uniform_(tensor, a=0.0, b=1.0):
    """Fill with samples from U(a, b)."""
    return _draw_into(tensor, lambda out: random.uniform_(out, a, b))


def normal_(tensor, mean=0.0, std=1.0):
    """Fill with samples from N(mean, std**2)."""
    return _draw_into(tensor, lambda out: random.normal_(out, mean, std))


def constant_(tensor, val):
    tensor.data[...] = val
    return tensor


def zeros_(tensor):
    return constant_(tensor, 0)


def ones_(tensor):
    return constant_(tensor, 1)


def xavier_uniform_(tensor, gain=1.0):
    """U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    bound = math.sqrt(3.0) * gain * math.sqrt(2.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor, gain=1.0):
    """N(0, std**2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def _kaiming_std(tensor, a, mode, nonlinearity):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan_in if mode == "fan_in" else fan_out)


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    """U(-b, b) with b = sqrt(3) * gain / sqrt(fan); `a` is the leaky_relu slope used for the gain.

    PyTorch's default Linear/Conv weight is kaiming_uniform_(w, a=sqrt(5)):
    gain = sqrt(2 / 6), so b = sqrt(3) * sqrt(1/3) / sqrt(fan_in) = 1 / sqrt(fan_in).
    """
    if tensor.numel() == 0:  # nothing to fill, and the fan would be 0
        return tensor
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    """N(0, std**2) with std = gain / sqrt(fan)."""
    if tensor.numel() == 0:
        return tensor
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity))


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0):
    """N(mean, std**2) conditioned on [a, b] (absolute bounds, as PyTorch's): draws outside are drawn again."""
    if not a < b:
        raise ValueError(f"trunc_normal_: need a < b, got a={a}, b={b}")
    xp = backend.get_array_module(tensor.data)

    def draw(out):
        random.normal_(out, mean, std)
        outside = (out < a) | (out > b)
        while outside.any():
            redrawn = random.normal_(xp.empty(int(outside.sum()), out.dtype), mean, std)
            out[outside] = redrawn
            outside = (out < a) | (out > b)
        return out
    return _draw_into(tensor, draw)


def orthogonal_(tensor, gain=1.0):
    """A (semi-)orthogonal matrix (Saxe et al. 2013) over the weight flattened to (rows, cols):
    Q of the QR decomposition of a N(0, 1) matrix, its columns' signs fixed by diag(R) so Q is uniform; times gain."""
    if tensor.ndim < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if tensor.numel() == 0:
        return tensor
    xp = backend.get_array_module(tensor.data)
    rows, cols = tensor.shape[0], tensor.numel() // tensor.shape[0]
    flat = random.normal_(xp.empty((max(rows, cols), min(rows, cols)), tensor.dtype))
    q, r = xp.linalg.qr(flat)
    q = q * xp.sign(xp.diag(r))
    tensor.data[...] = (gain * (q if rows >= cols else q.T)).reshape(tensor.shape)
    return tensor
