"""Batch normalisation (Ioffe & Szegedy 2015) over dimension 1 of (N, C), (N, C, L) or (N, C, H, W).

Training, with M = the number of values per channel (N, or N H W):

    mean = sum(x) / M            var = sum((x - mean)**2) / M   (biased)
    xhat = (x - mean) / sqrt(var + eps)
    y    = gamma * xhat + beta
    running_mean = (1 - momentum) running_mean + momentum mean
    running_var  = (1 - momentum) running_var  + momentum var M / (M - 1)   (unbiased)

Evaluation uses the running statistics instead of the batch's, which makes
the layer one scale and shift per channel: y = x * gamma / sqrt(var + eps)
+ (beta - mean * gamma / sqrt(var + eps)).

Backward (g = dL/dy, sums over the M values of a channel):

    dbeta  = sum(g)            dgamma = sum(g xhat)
    dx     = gamma / (M sqrt(var + eps)) * (M g - dbeta - xhat dgamma)    (training)
    dx     = gamma / sqrt(var + eps) * g                                    (evaluation)

In training, mean and var depend on x, hence the two extra terms. The whole
layer is one Function in closed form: composing mean, var, sqrt, * and +
would record a long graph and pass over the activations many more times.
That composition is ``reference_batch_norm``, the definition as a student
writes it; autograd differentiates it, and the tests compare the closed form
with it (values and all three gradients).
"""
from minitl import backend, threads
from minitl.autograd import Function, Tensor
from minitl.nn.arguments import tensor_argument


def reference_batch_norm(x, weight, bias, eps=1e-5):
    """Training-mode batch norm as recorded operations: the formulas above, differentiated by autograd."""
    dims = (0,) + tuple(range(2, x.ndim))
    channel_shape = (1, -1) + (1,) * (x.ndim - 2)
    mean = x.mean(dim=dims, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=dims, keepdim=True)
    xhat = (x - mean) / (var + eps).sqrt()
    return weight.reshape(channel_shape) * xhat + bias.reshape(channel_shape)


class BatchNorm(Function):
    """y = gamma * (x - mean) / sqrt(var + eps) + beta per channel; see the module docstring.

    `statistics` = (running_mean, running_var) arrays to normalise by (evaluation), or None to use
    the batch's (training; they are kept as `mean` and `var` for the running estimates).
    """

    def __init__(self, axes, eps, statistics=None):
        self.axes, self.eps, self.statistics = axes, eps, statistics

    def forward(self, x, weight, bias):
        xp = backend.get_array_module(x)
        channel_shape = (1, -1) + (1,) * (x.ndim - 2)
        self.weight, self.bias = weight.reshape(channel_shape), bias.reshape(channel_shape)
        statistic_shape = self.weight.shape
        if self.statistics is None:
            self.mean, self.var = xp.empty(statistic_shape, x.dtype), xp.empty(statistic_shape, x.dtype)
            self.xhat = xp.empty_like(x)
        else:
            self.mean, self.var = (statistic.reshape(channel_shape) for statistic in self.statistics)
            self.x = x  # dgamma needs xhat: recomputed in backward only if asked for
        self.inv_std = xp.empty(statistic_shape, x.dtype)
        y = xp.empty_like(x)
        # Every formula is per channel, so blocks of channels can run on different threads.
        threads.parallel_map(lambda block: self.normalize(x[:, block], y[:, block], block),
                             threads.blocks(x.shape[1], threads.work_size(x)))
        return y

    def normalize(self, x, y, c):
        """y = gamma xhat + beta for the channels in slice `c` (x and y are those channels)."""
        xp = backend.get_array_module(x)
        weight, bias = self.weight[:, c], self.bias[:, c]
        if self.statistics is None:
            mean = x.mean(axis=self.axes, keepdims=True)
            xhat = self.xhat[:, c]
            xp.subtract(x, mean, out=xhat)
            var = (xhat * xhat).mean(axis=self.axes, keepdims=True)
            inv_std = 1 / xp.sqrt(var + self.eps)
            xhat *= inv_std
            xp.multiply(xhat, weight, out=y)
            y += bias
            self.mean[:, c], self.var[:, c], self.inv_std[:, c] = mean, var, inv_std
            return
        inv_std = 1 / xp.sqrt(self.var[:, c] + self.eps)
        scale = weight * inv_std
        xp.multiply(x, scale, out=y)
        y += bias - self.mean[:, c] * scale
        self.inv_std[:, c] = inv_std

    def backward(self, g):
        xp = backend.get_array_module(g)
        needs_x, needs_weight, needs_bias = self.needs_input_grad
        channels = g.shape[1]
        gx = xp.empty_like(g) if needs_x else None
        sums = xp.empty((2, channels), dtype=g.dtype)  # sum(g) and sum(g xhat) per channel
        threads.parallel_map(lambda block: self.backward_channels(g[:, block], gx, sums, block),
                             threads.blocks(channels, threads.work_size(g)))
        return gx, sums[1] if needs_weight else None, sums[0] if needs_bias else None

    def backward_channels(self, g, gx, sums, c):
        """dx[:, c] (into gx when it is wanted) and the sums for gamma's and beta's gradients, for the
        channels in slice `c` (g is those channels)."""
        xp = backend.get_array_module(g)
        needs_x, needs_weight, _ = self.needs_input_grad
        training = self.statistics is None
        weight, inv_std = self.weight[:, c], self.inv_std[:, c]
        sum_g = g.sum(axis=self.axes, keepdims=True)
        sums[0, c] = sum_g.reshape(-1)
        if training or needs_weight:
            xhat = self.xhat[:, c] if training else (self.x[:, c] - self.mean[:, c]) * inv_std
            sum_g_xhat = (g * xhat).sum(axis=self.axes, keepdims=True)
            sums[1, c] = sum_g_xhat.reshape(-1)
        if needs_x and training:
            count = g.size // g.shape[1]
            k = weight * inv_std / count
            gx = gx[:, c]
            xp.multiply(g, count * k, out=gx)  # dx = k (M g - sum_g - xhat sum_g_xhat), the subtractions in place
            gx -= xhat * (k * sum_g_xhat)
            gx -= k * sum_g
        elif needs_x:
            xp.multiply(g, weight * inv_std, out=gx[:, c])

    def backward_graph(self, g):
        """The same formulas on the input tensors (create_graph): mean, var and xhat recomputed as ops."""
        x, weight, _ = self.inputs
        channel_shape = (1, -1) + (1,) * (x.ndim - 2)
        dims = self.axes
        if self.statistics is None:
            centered = x - x.mean(dim=dims, keepdim=True)
            inv_std = ((centered * centered).mean(dim=dims, keepdim=True) + self.eps) ** -0.5
            xhat = centered * inv_std
        else:
            inv_std = self.inv_std
            xhat = (x - self.mean) * inv_std
        scale = weight.reshape(channel_shape) * inv_std
        sum_g = g.sum(dim=dims, keepdim=True)
        sum_g_xhat = (g * xhat).sum(dim=dims, keepdim=True)
        if self.statistics is None:
            count = g.numel() // g.shape[1]
            gx = scale * (g - sum_g / count - xhat * (sum_g_xhat / count))
        else:
            gx = g * scale
        return gx, sum_g_xhat.reshape(-1), sum_g.reshape(-1)


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Normalise each channel (dim 1), PyTorch's F.batch_norm.

    `running_mean` and `running_var` are (C,) tensors (or None): read in evaluation, and updated in
    place when training (the same tensor objects change, as a BatchNorm layer's buffers do).
    """
    tensor_argument(x, "batch_norm", "input")
    for name, value in [("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                        ("bias", bias)]:
        if tensor_argument(value, "batch_norm", name, optional=True) is not None and value.shape != (x.shape[1],):
            raise ValueError(f"batch_norm: {name} must have shape ({x.shape[1]},) for input of shape "
                             f"{x.shape}, got {value.shape}")
    if x.ndim < 2:
        raise ValueError(f"batch_norm expects input of shape (N, C, ...), got {x.shape}")
    axes = (0,) + tuple(range(2, x.ndim))
    xp = backend.get_array_module(x.data)
    # A missing gamma or beta is a constant 1 or 0: the same Function then serves every case.
    if weight is None:
        weight = Tensor(xp.ones(x.shape[1], dtype=x.dtype))
    if bias is None:
        bias = Tensor(xp.zeros(x.shape[1], dtype=x.dtype))
    if not training:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm in eval mode needs running_mean and running_var")
        return BatchNorm(axes, eps, (running_mean.data, running_var.data))(x, weight, bias)
    count = x.data.size // x.shape[1]
    if count < 2:
        raise ValueError(f"batch_norm: expected more than 1 value per channel when training, "
                         f"got input of shape {x.shape}")
    normalize = BatchNorm(axes, eps)
    y = normalize(x, weight, bias)
    if running_mean is not None:
        running_mean.data *= 1 - momentum
        running_mean.data += momentum * normalize.mean.reshape(-1)
    if running_var is not None:
        running_var.data *= 1 - momentum
        running_var.data += (momentum * count / (count - 1)) * normalize.var.reshape(-1)
    return y
