"""minitl.nn.functional (``F``): the stateless layer functions that the nn Modules call.

Each function takes tensors and returns a tensor with its graph recorded.
The bigger ones live in their own files: convolution (conv.py), pooling
(pooling.py), padding (padding.py), resizing (resize.py),
im2col as unfold/fold (unfold.py), batch norm (normalization.py), softmax and friends
(activations.py), losses (losses.py). Here: linear layers and dropout.
"""
import warnings

from minitl import random
from minitl.autograd import Tensor
from minitl.nn.activations import gelu, leaky_relu, log_softmax, softmax
from minitl.nn.arguments import check_input_dtype, check_probability, tensor_argument
from minitl.nn.conv import conv1d, conv2d, conv_transpose2d
from minitl.nn.fractional_pool import fractional_max_pool2d
from minitl.nn.losses import binary_cross_entropy_with_logits, cross_entropy, mse_loss, nll_loss
from minitl.nn.normalization import batch_norm
from minitl.nn.padding import pad
from minitl.nn.pooling import adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool2d, max_pool2d, max_unpool2d
from minitl.nn.resize import interpolate
from minitl.nn.unfold import fold, unfold
from minitl.ops.elementwise import relu, sigmoid, tanh
from minitl.ops.matmul import matmul


def linear(x, weight, bias=None):
    """y = x W^T + b, with W of shape (out_features, in_features) as in PyTorch."""
    x, weight = tensor_argument(x, "linear", "input"), tensor_argument(weight, "linear", "weight")
    tensor_argument(bias, "linear", "bias", optional=True)
    check_input_dtype(x, weight, "linear")
    if x.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: input has {x.shape[-1]} features (shape {x.shape}) but weight "
                         f"{weight.shape} expects {weight.shape[1]}")
    y = matmul(x, weight.T)
    return y if bias is None else y + bias


def _dropout_mask(x, p, mask_shape):
    """Keep each entry with probability 1 - p, scaled by 1 / (1 - p) so the expected value is unchanged."""
    check_probability(p, "dropout")
    keep = (random.uniform(mask_shape, dtype=x.dtype, device=x.device) >= p).astype(x.dtype)
    return Tensor(keep * (1.0 / (1 - p)) if p < 1 else keep)


def dropout(x, p=0.5, training=True):
    """Inverted dropout: zero each element with probability p and scale the rest by 1/(1-p)."""
    tensor_argument(x, "dropout", "input")
    if not training or p == 0:
        _dropout_mask(x, p, ())  # still validates p
        return x
    return x * _dropout_mask(x, p, x.shape)


def dropout2d(x, p=0.5, training=True):
    """Channel dropout for (N, C, H, W): zero whole channels x[n, c] with probability p, scale the rest.

    Other shapes behave as PyTorch's: (N, C, L) drops whole x[n, c] rows, with torch's warning that this
    will change; 2-D or 5-D and larger input is deprecated there (a warning), and drops x[n, c, ...] too.
    """
    tensor_argument(x, "dropout2d", "input")
    if x.ndim < 2:
        raise RuntimeError(f"Feature dropout requires at least 2 dimensions in the input, got shape {x.shape}")
    if x.ndim not in (3, 4):
        warnings.warn(f"dropout2d: Received a {x.ndim}-D input to dropout2d, which is deprecated and will result in an "
                      "error in a future release. To retain the behavior and silence this warning, please use dropout "
                      "instead. Note that dropout2d exists to provide channel-wise dropout on inputs with 2 spatial "
                      "dimensions, a channel dimension, and an optional batch dimension (i.e. 3D or 4D inputs).",
                      stacklevel=2)
    if x.ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout behavior "
                      "is desired - input is interpreted as shape (N, C, L), where C is the channel dim. This behavior "
                      "will change in a future release to interpret the input as one without a batch dimension, i.e. "
                      "shape (C, H, W). To maintain the 1D channel-wise dropout behavior, please switch to using "
                      "dropout1d instead.", stacklevel=2)
    if not training or p == 0:
        _dropout_mask(x, p, ())
        return x
    return x * _dropout_mask(x, p, x.shape[:2] + (1,) * (x.ndim - 2))


__all__ = ["linear", "conv2d", "conv_transpose2d", "unfold", "fold", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d",
           "batch_norm", "dropout", "dropout2d", "relu", "leaky_relu", "gelu", "sigmoid", "tanh", "softmax", "log_softmax",
           "cross_entropy",
           "nll_loss", "mse_loss", "binary_cross_entropy_with_logits"]
__all__ += ["fractional_max_pool2d"]
__all__ += ["conv1d", "pad", "interpolate", "adaptive_max_pool2d", "max_unpool2d"]
