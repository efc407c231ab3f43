"""NAdam: Adam with Nesterov momentum (Dozat, 2016).

In the lecture's notation (t counts the steps from 1): Nesterov momentum
evaluates the step at the point momentum is about to take us to; NAdam does
the same with Adam's first moment, mixing this step's gradient with the
*next* step's momentum:

    first_moment = beta1 * first_moment + (1 - beta1) * dx
    second_moment = beta2 * second_moment + (1 - beta2) * dx * dx
    second_unbias = second_moment / (1 - beta2 ** t)
    x -= lr * ((1 - beta1) * dx / (1 - beta1 ** t)
               + beta1 * first_moment / (1 - beta1 ** (t + 1))) / (sqrt(second_unbias) + eps)

PyTorch's form, implemented here (m = exp_avg, v = exp_avg_sq). It also
warms the momentum up: beta1 becomes mu_t, a schedule rising from about
beta1 / 2 towards beta1, and the products of the mu's replace the powers
beta1 ** t in the bias corrections:

    g = dx + weight_decay * x                      (or, decoupled: g = dx;  x *= 1 - lr * weight_decay)
    mu_t = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
    mu_product = mu_1 * mu_2 * ... * mu_t
    m = m + (1 - beta1) * (g - m)
    v = beta2 * v + (1 - beta2) * g * g
    denom = sqrt(v / (1 - beta2 ** t)) + eps
    x -= lr * (1 - mu_t) / (1 - mu_product) * g / denom
    x -= lr * mu_{t+1} / (1 - mu_product * mu_{t+1}) * m / denom

With momentum_decay = 0, mu_t = beta1 / 2 for every t. PyTorch keeps
mu_product as a float32 number (its default scalar dtype), and so does
this file: the steps then agree with PyTorch's to the last bits.
"""
import struct

from minitl.backend import get_array_module
from minitl.optim.adam import apply_weight_decay, update_moments
from minitl.optim.optimizer import Optimizer


class NAdam(Optimizer):
    """``NAdam(params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
    decoupled_weight_decay=False, *, maximize=False)``.

    State per parameter: ``step``, ``mu_product``, ``exp_avg``, ``exp_avg_sq``.
    """
    nonnegative_options = ("lr", "eps", "weight_decay", "momentum_decay")
    state_names = ("exp_avg", "exp_avg_sq")

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False):
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay,
                        maximize=maximize, foreach=foreach, capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    def _update(self, param, grad, state, group):
        xp = get_array_module(param)
        beta1, beta2 = group["betas"]
        lr, momentum_decay = group["lr"], group["momentum_decay"]
        step = self._next_step(state, param, "exp_avg", "exp_avg_sq")
        state.setdefault("mu_product", 1.0)

        grad = apply_weight_decay(param, grad, group)
        mu = beta1 * (1 - 0.5 * 0.96 ** (step * momentum_decay))
        mu_next = beta1 * (1 - 0.5 * 0.96 ** ((step + 1) * momentum_decay))
        mu_product = state["mu_product"] = _float32(state["mu_product"] * _float32(mu))
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        update_moments(exp_avg, exp_avg_sq, grad, group["betas"])

        denom = xp.sqrt(exp_avg_sq / (1 - beta2 ** step)) + group["eps"]
        param -= (lr * (1 - mu) / (1 - mu_product)) * grad / denom
        param -= (lr * mu_next / (1 - mu_product * mu_next)) * exp_avg / denom


def _float32(x):
    """`x` rounded to the nearest float32 (a product of two float32 numbers is exact in a Python float, so
    rounding it gives the float32 product)."""
    return struct.unpack("f", struct.pack("f", x))[0]
