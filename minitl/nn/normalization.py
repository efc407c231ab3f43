"""Batch normalisation (Ioffe & Szegedy 2015) over dimension 1 of (N, C), (N, C, L) or (N, C, H, W).

Training, with M = the number of values per channel (N, or N H W):

    mean = sum(x) / M            var = sum((x - mean)**2) / M   (biased)
    xhat = (x - mean) / sqrt(var + eps)
    y    = gamma * xhat + beta
    running_mean = (1 - momentum) running_mean + momentum mean
    running_var  = (1 - momentum) running_var  + momentum var M / (M - 1)   (unbiased)

Evaluation uses the running statistics instead of the batch's.

Backward of the batch normalisation (g = dL/dxhat, sums over the M values
of a channel):

    dx = (1/M) / sqrt(var + eps) * (M g - sum(g) - xhat sum(g xhat))

one pass of closed form instead of the long graph that composing mean, var
and sqrt would record.
"""
from minitl import backend
from minitl.autograd import Function, Tensor


class BatchNormalize(Function):
    """xhat = (x - batch mean) / sqrt(batch var + eps), per channel; see the module docstring."""

    def __init__(self, axes, eps):
        self.axes, self.eps = axes, eps

    def forward(self, x):
        xp = backend.get_array_module(x)
        self.mean = x.mean(axis=self.axes, keepdims=True)
        centered = x - self.mean
        self.var = (centered * centered).mean(axis=self.axes, keepdims=True)
        self.inv_std = 1 / xp.sqrt(self.var + self.eps)
        self.xhat = centered * self.inv_std
        return self.xhat

    def backward(self, g):
        count = g.size // g.shape[1]
        sum_g = g.sum(axis=self.axes, keepdims=True)
        sum_g_xhat = (g * self.xhat).sum(axis=self.axes, keepdims=True)
        return ((self.inv_std / count) * (count * g - sum_g - self.xhat * sum_g_xhat),)


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Normalise each channel (dim 1); `running_mean`/`running_var` are arrays updated in place when training."""
    if x.ndim < 2:
        raise ValueError(f"batch_norm expects input of shape (N, C, ...), got {x.shape}")
    axes = (0,) + tuple(range(2, x.ndim))
    channel_shape = (1, -1) + (1,) * (x.ndim - 2)
    if training:
        count = x.data.size // x.shape[1]
        if count < 2:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when training, "
                             f"got input of shape {x.shape}")
        normalize = BatchNormalize(axes, eps)
        xhat = normalize(x)
        if running_mean is not None:
            running_mean *= 1 - momentum
            running_mean += momentum * normalize.mean.reshape(-1)
            running_var *= 1 - momentum
            running_var += (momentum * count / (count - 1)) * normalize.var.reshape(-1)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm in eval mode needs running_mean and running_var")
        xp = backend.get_array_module(running_var)
        inv_std = Tensor((1 / xp.sqrt(running_var + eps)).reshape(channel_shape))
        xhat = (x - Tensor(running_mean.reshape(channel_shape))) * inv_std
    if weight is not None:
        xhat = xhat * weight.reshape(channel_shape)
    if bias is not None:
        xhat = xhat + bias.reshape(channel_shape)
    return xhat
