"""Batch normalisation forward and backward by blocks of channels, beside their plain references.

Per channel, over its M values (axes 0, 2, 3...):

    training     mean, var = the batch's (biased var);  xhat = (x - mean) inv_std,  inv_std = 1 / sqrt(var + eps)
                 y = gamma xhat + beta
    evaluation   y = x scale + (beta - mean scale),  scale = gamma inv_std, from the running mean and var
    backward     dbeta = sum(g),  dgamma = sum(g xhat)
                 dx = k (M g - dbeta - xhat dgamma),  k = gamma inv_std / M   (training: mean and var depend on x)
                 dx = gamma inv_std g                                        (evaluation)

Why the kernels are fast: every formula is per channel, so the channels are
cut into blocks (one per thread, ``threads.blocks``) and each block runs the
whole formula while its values are in the cache, writing into preallocated
arrays (``out=`` and in-place updates) instead of making a temporary per
operation. The references compute each formula once over the whole array.
"""
from minitl import backend, threads


def _axes_and_channel_shape(x):
    """The axes a channel's values lie along, (0, 2, 3...), and the shape (1, C, 1...) of per-channel values."""
    return (0,) + tuple(range(2, x.ndim)), (1, -1) + (1,) * (x.ndim - 2)


# -- the references: what the kernels compute ---------------------------------------------
def reference_batch_norm(x, weight, bias, eps):
    """Training: (y, xhat, mean, var, inv_std), one whole-array expression each."""
    xp = backend.get_array_module(x)
    axes, channel_shape = _axes_and_channel_shape(x)
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    inv_std = 1 / xp.sqrt(var + eps)
    xhat = (x - mean) * inv_std
    return weight.reshape(channel_shape) * xhat + bias.reshape(channel_shape), xhat, mean, var, inv_std


def reference_batch_norm_eval(x, weight, bias, mean, var, eps):
    """Evaluation with the running statistics `mean` and `var` (C,): (y, inv_std)."""
    xp = backend.get_array_module(x)
    _, channel_shape = _axes_and_channel_shape(x)
    inv_std = 1 / xp.sqrt(var.reshape(channel_shape) + eps)
    xhat = (x - mean.reshape(channel_shape)) * inv_std
    return weight.reshape(channel_shape) * xhat + bias.reshape(channel_shape), inv_std


def reference_batch_norm_backward(g, xhat, weight, inv_std, training, need_dx):
    """(dx or None, dgamma or None when xhat is None, dbeta)."""
    axes, channel_shape = _axes_and_channel_shape(g)
    count = g.size // g.shape[1]
    sum_g = g.sum(axis=axes, keepdims=True)
    sum_g_xhat = None if xhat is None else (g * xhat).sum(axis=axes, keepdims=True)
    dx = None
    if need_dx:
        scale = weight.reshape(channel_shape) * inv_std
        dx = scale * (g - sum_g / count - xhat * sum_g_xhat / count) if training else scale * g
    return dx, None if xhat is None else sum_g_xhat.reshape(-1), sum_g.reshape(-1)


# -- the fast path: each block of channels on its own thread ------------------------------
def batch_norm(x, weight, bias, eps):
    """Training with the batch's statistics: (y, xhat, mean, var, inv_std), the last three (1, C, 1...)."""
    xp = backend.get_array_module(x)
    axes, channel_shape = _axes_and_channel_shape(x)
    weight, bias = weight.reshape(channel_shape), bias.reshape(channel_shape)
    mean, var, inv_std = (xp.empty(weight.shape, x.dtype) for _ in range(3))
    xhat, y = xp.empty_like(x), xp.empty_like(x)

    def normalize(c):  # the channels in slice c
        block_mean = x[:, c].mean(axis=axes, keepdims=True)
        block_xhat = xhat[:, c]
        xp.subtract(x[:, c], block_mean, out=block_xhat)
        block_var = (block_xhat * block_xhat).mean(axis=axes, keepdims=True)
        block_inv_std = 1 / xp.sqrt(block_var + eps)
        block_xhat *= block_inv_std
        xp.multiply(block_xhat, weight[:, c], out=y[:, c])
        y[:, c] += bias[:, c]
        mean[:, c], var[:, c], inv_std[:, c] = block_mean, block_var, block_inv_std
    threads.parallel_map(normalize, threads.blocks(x.shape[1], threads.work_size(x)))
    return y, xhat, mean, var, inv_std


def batch_norm_eval(x, weight, bias, mean, var, eps):
    """Evaluation with the running statistics `mean` and `var` (C,): (y, inv_std), inv_std (1, C, 1...)."""
    xp = backend.get_array_module(x)
    _, channel_shape = _axes_and_channel_shape(x)
    weight, bias = weight.reshape(channel_shape), bias.reshape(channel_shape)
    mean, var = mean.reshape(channel_shape), var.reshape(channel_shape)
    inv_std, y = xp.empty(weight.shape, x.dtype), xp.empty_like(x)

    def normalize(c):  # the channels in slice c
        block_inv_std = 1 / xp.sqrt(var[:, c] + eps)
        scale = weight[:, c] * block_inv_std
        xp.multiply(x[:, c], scale, out=y[:, c])
        y[:, c] += bias[:, c] - mean[:, c] * scale
        inv_std[:, c] = block_inv_std
    threads.parallel_map(normalize, threads.blocks(x.shape[1], threads.work_size(x)))
    return y, inv_std


def batch_norm_backward(g, xhat, weight, inv_std, training, need_dx):
    """(dx or None, dgamma or None when xhat is None, dbeta): the backward formulas of the module docstring."""
    xp = backend.get_array_module(g)
    axes, channel_shape = _axes_and_channel_shape(g)
    weight = weight.reshape(channel_shape)
    gx = xp.empty_like(g) if need_dx else None
    sums = xp.empty((2, g.shape[1]), dtype=g.dtype)  # sum(g) and sum(g xhat) per channel

    def backward_channels(c):  # the channels in slice c
        block_g, k = g[:, c], weight[:, c] * inv_std[:, c]
        sum_g = block_g.sum(axis=axes, keepdims=True)
        sums[0, c] = sum_g.reshape(-1)
        if xhat is not None:
            sum_g_xhat = (block_g * xhat[:, c]).sum(axis=axes, keepdims=True)
            sums[1, c] = sum_g_xhat.reshape(-1)
        if need_dx and training:
            count = block_g.size // block_g.shape[1]
            k = k / count
            block_gx = gx[:, c]
            xp.multiply(block_g, count * k, out=block_gx)  # dx = k (M g - sum_g - xhat sum_g_xhat), subtracting in place
            block_gx -= xhat[:, c] * (k * sum_g_xhat)
            block_gx -= k * sum_g
        elif need_dx:
            xp.multiply(block_g, k, out=gx[:, c])
    threads.parallel_map(backward_channels, threads.blocks(g.shape[1], threads.work_size(g)))
    return gx, None if xhat is None else sums[1], sums[0]
