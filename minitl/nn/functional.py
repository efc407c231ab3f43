"""minitl.nn.functional (``F``): the stateless layer functions that the nn Modules call.

Each function takes tensors and returns a tensor with its graph recorded.
The bigger ones live in their own files: convolution (conv.py), pooling
(pooling.py), padding (padding.py), resizing (resize.py), im2col as unfold/fold (unfold.py), batch norm
(normalization.py), softmax and friends (activations.py), losses (losses.py), layer and group norm (layer_norm.py),
embedding (embedding.py). Here: linear layers, dropout, one_hot and the normalised vectors (normalize,
cosine_similarity).
"""
import warnings

from minitl import backend, random
from minitl.autograd import Tensor
from minitl.nn.activations import elu, gelu, hardtanh, leaky_relu, log_softmax, prelu, relu, silu, softmax, softplus
from minitl.nn.arguments import check_input_dtype, check_probability, tensor_argument
from minitl.nn.conv import conv1d, conv2d, conv_transpose2d
from minitl.nn.embedding import embedding
from minitl.nn.fractional_pool import fractional_max_pool2d
from minitl.nn.layer_norm import group_norm, layer_norm
from minitl.nn.losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    huber_loss,
    kl_div,
    l1_loss,
    mse_loss,
    multi_margin_loss,
    nll_loss,
    smooth_l1_loss,
)
from minitl.nn.normalization import batch_norm
from minitl.nn.padding import pad
from minitl.nn.pooling import adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool2d, max_pool2d, max_unpool2d
from minitl.nn.resize import interpolate
from minitl.nn.unfold import fold, unfold
from minitl.ops import linalg
from minitl.ops.elementwise import clip, sigmoid, tanh
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


def one_hot(tensor, num_classes=-1):
    """An int64 tensor of shape (*, num_classes) with 1 at each index of `tensor` (*), 0 elsewhere;
    num_classes=-1 takes the largest index + 1."""
    tensor_argument(tensor, "one_hot", "tensor")
    if tensor.dtype.kind not in "iu":
        raise RuntimeError(f"one_hot is only applicable to index tensor, got {tensor.dtype}")
    xp = backend.get_array_module(tensor.data)
    if num_classes == -1:
        num_classes = int(tensor.data.max()) + 1 if tensor.numel() else 0
    if tensor.numel() and tensor.data.min() < 0:
        raise RuntimeError("Class values must be non-negative.")
    if tensor.numel() and tensor.data.max() >= num_classes:
        raise RuntimeError("Class values must be smaller than num_classes.")
    return Tensor((tensor.data[..., None] == xp.arange(num_classes)).astype(xp.int64))


def normalize(input, p=2.0, dim=1, eps=1e-12):
    """x / max(||x||_p, eps) along `dim`: unit vectors, and zero vectors left at zero."""
    tensor_argument(input, "normalize", "input")
    return input / clip(linalg.vector_norm(input, p, dim, keepdim=True), eps)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """sum(x1 x2) / (max(||x1||, eps) max(||x2||, eps)) along `dim` (broadcast), as PyTorch 2 computes it."""
    tensor_argument(x1, "cosine_similarity", "x1")
    tensor_argument(x2, "cosine_similarity", "x2")
    return (normalize(x1, 2, dim, eps) * normalize(x2, 2, dim, eps)).sum(dim)


__all__ = ["linear", "conv2d", "conv_transpose2d", "unfold", "fold", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d",
           "batch_norm", "dropout", "dropout2d", "relu", "leaky_relu", "gelu", "sigmoid", "tanh", "softmax", "log_softmax",
           "cross_entropy",
           "nll_loss", "mse_loss", "binary_cross_entropy_with_logits"]
__all__ += ["fractional_max_pool2d"]
__all__ += ["conv1d", "pad", "interpolate", "adaptive_max_pool2d", "max_unpool2d"]
__all__ += ["elu", "silu", "softplus", "hardtanh", "prelu", "layer_norm", "group_norm", "embedding", "one_hot",
            "normalize", "cosine_similarity", "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
            "kl_div", "multi_margin_loss"]
