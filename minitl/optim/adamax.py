"""Adamax: Adam with the largest recent gradient in place of the root mean square.

In the lecture's notation (t counts the steps from 1):

    first_moment = beta1 * first_moment + (1 - beta1) * dx
    inf_norm = max(beta2 * inf_norm, |dx|)
    x -= lr / (1 - beta1 ** t) * first_moment / inf_norm

Adam divides by an L2 average of the past gradients, sqrt(mean of dx**2);
Adamax takes the limit of an Lp average as p goes to infinity (Kingma & Ba,
2015, section 7.1): a decaying maximum. The maximum needs no bias correction
(it is not pulled towards its zero start), and a single huge gradient
shrinks the step for a while instead of being averaged away.

PyTorch's form, implemented here (m = exp_avg, u = exp_inf):

    g = dx + weight_decay * x
    m = m + (1 - beta1) * (g - m)                  (= beta1 * m + (1 - beta1) * g)
    u = max(beta2 * u, |g| + eps)
    x -= (lr / (1 - beta1 ** t)) * m / u

PyTorch adds eps inside the maximum, where the lecture's rule would divide
by zero for an element whose gradients were all zero.
"""
from minitl.backend import get_array_module
from minitl.optim.optimizer import Optimizer


class Adamax(Optimizer):
    """``Adamax(params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, *, maximize=False)``.

    State per parameter: ``step``, ``exp_avg``, ``exp_inf``.
    """
    nonnegative_options = ("lr", "eps", "weight_decay")
    state_names = ("exp_avg", "exp_inf")

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=None, *,
                 maximize=False, differentiable=False, capturable=False):
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def _update(self, param, grad, state, group):
        xp = get_array_module(param)
        beta1, beta2 = group["betas"]
        step = self._next_step(state, param, "exp_avg", "exp_inf")
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param

        exp_avg, exp_inf = state["exp_avg"], state["exp_inf"]
        exp_avg += (1 - beta1) * (grad - exp_avg)
        exp_inf *= beta2
        xp.maximum(exp_inf, xp.abs(grad) + group["eps"], out=exp_inf)
        step_size = group["lr"] / (1 - beta1 ** step)
        param -= step_size * exp_avg / exp_inf
