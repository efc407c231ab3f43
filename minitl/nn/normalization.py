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
would record a long graph and pass over the activations many more times
(the tests check the closed form against autograd through that
composition). The arithmetic, by blocks of channels on minitl's threads, is
in ``minitl.kernels.normalization``, beside its plain reference.
"""
from minitl import backend
from minitl.autograd import Function, Tensor
from minitl.kernels import normalization as kernels
from minitl.nn.arguments import tensor_argument


class BatchNorm(Function):
    """y = gamma * (x - mean) / sqrt(var + eps) + beta per channel; the gradients of the module docstring.

    `statistics` = (running_mean, running_var) arrays to normalise by (evaluation), or None to use
    the batch's (training; they are kept as `mean` and `var` for the running estimates).
    """

    def __init__(self, eps, statistics=None):
        self.eps, self.statistics = eps, statistics

    def forward(self, x, weight, bias):
        if self.statistics is None:
            y, self.xhat, self.mean, self.var, self.inv_std = kernels.batch_norm(x, weight, bias, self.eps)
            self.save_for_backward(weight)
        else:
            y, self.inv_std = kernels.batch_norm_eval(x, weight, bias, *self.statistics, self.eps)
            self.save_for_backward(weight, x)  # x for dgamma's xhat, computed in backward only if asked for
        return y

    def backward(self, g):
        if isinstance(g, Tensor):  # the kernel computes in place, by blocks of channels: on arrays only
            return self._recorded(g)
        if self.statistics is None:
            (weight,) = self.saved_tensors
            return kernels.batch_norm_backward(g, self.xhat, weight, self.inv_std, True, self.needs_input_grad[0])
        weight, x = self.saved_tensors
        xhat = (x - self.statistics[0].reshape(self.inv_std.shape)) * self.inv_std if self.needs_input_grad[1] else None
        return kernels.batch_norm_backward(g, xhat, weight, self.inv_std, False, self.needs_input_grad[0])

    def _recorded(self, g):
        """The same formulas as recorded ops on the input tensors (create_graph): mean, var and xhat
        recomputed from x, so that they carry its graph."""
        x, weight, _ = self.inputs
        dims = (0,) + tuple(range(2, x.ndim))
        if self.statistics is None:
            centered = x - x.mean(dim=dims, keepdim=True)
            inv_std = ((centered * centered).mean(dim=dims, keepdim=True) + self.eps) ** -0.5
            xhat = centered * inv_std
        else:
            inv_std = self.inv_std
            xhat = (x - self.statistics[0].reshape(inv_std.shape)) * inv_std
        scale = weight.reshape(inv_std.shape) * inv_std
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
    xp = backend.get_array_module(x.data)
    # A missing gamma or beta is a constant 1 or 0: the same Function then serves every case.
    if weight is None:
        weight = Tensor(xp.ones(x.shape[1], dtype=x.dtype))
    if bias is None:
        bias = Tensor(xp.zeros(x.shape[1], dtype=x.dtype))
    if not training:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm in eval mode needs running_mean and running_var")
        return BatchNorm(eps, (running_mean.data, running_var.data))(x, weight, bias)
    count = x.data.size // x.shape[1]
    if count < 2:
        raise ValueError(f"batch_norm: expected more than 1 value per channel when training, "
                         f"got input of shape {x.shape}")
    normalize = BatchNorm(eps)
    y = normalize(x, weight, bias)
    if running_mean is not None:
        running_mean.data *= 1 - momentum
        running_mean.data += momentum * normalize.mean.reshape(-1)
    if running_var is not None:
        running_var.data *= 1 - momentum
        running_var.data += (momentum * count / (count - 1)) * normalize.var.reshape(-1)
    return y
