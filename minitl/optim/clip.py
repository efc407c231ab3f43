"""Gradient clipping, as torch.nn.utils.clip_grad_norm_ and clip_grad_value_ (also ``minitl.nn.utils``).

By value: every gradient element is clamped to [-clip_value, clip_value].

By the global norm:

All gradients are seen as one long vector g. Its norm

    total_norm = ||g||_p = (sum over tensors of ||g_i||_p ** p) ** (1/p)   (max |g| for p = inf)

is measured, and when it exceeds max_norm every gradient is scaled by the
same factor,

    g_i *= min(1, max_norm / (total_norm + 1e-6)),

which keeps the direction of the step and caps its length: the usual guard
against exploding gradients in recurrent networks.
"""
import math

from minitl.autograd import Tensor
from minitl.backend import get_array_module


def _with_grad(parameters):
    """The parameters (a Tensor or an iterable of them) that have a gradient."""
    return [p for p in ([parameters] if isinstance(parameters, Tensor) else parameters) if p.grad is not None]


def clip_grad_value_(parameters, clip_value):
    """Clamp every gradient element of `parameters` to [-clip_value, clip_value]."""
    for p in _with_grad(parameters):
        # a new array, not in place: a gradient array may be shared by several tensors
        p.grad.data = get_array_module(p.grad.data).clip(p.grad.data, -clip_value, clip_value)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale the gradients of `parameters` so their joint norm is at most `max_norm`.

    Returns the total norm before clipping, as a 0-d Tensor (0.0 when no
    parameter has a gradient). Parameters without a gradient are ignored.
    """
    with_grad = _with_grad(parameters)
    norm_type = float(norm_type)
    if not with_grad:
        return Tensor(0.0)
    grads = [p.grad.data for p in with_grad]
    xp = get_array_module(grads[0])
    per_tensor = xp.stack([xp.linalg.norm(g.ravel(), ord=norm_type) for g in grads])
    total_norm = xp.linalg.norm(per_tensor, ord=norm_type)
    if error_if_nonfinite and not math.isfinite(float(total_norm)):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is "
                           f"{float(total_norm)}, so they cannot be clipped; pass error_if_nonfinite=False "
                           "to clip anyway")
    clip_coef = xp.minimum(max_norm / (total_norm + 1e-6), 1.0)
    for p in with_grad:
        p.grad.data *= clip_coef.astype(p.grad.dtype)  # in place: each parameter owns its gradient
    return Tensor(total_norm)
