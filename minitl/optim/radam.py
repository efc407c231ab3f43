"""RAdam: Adam that waits for its second moment to be trustworthy (Liu et al., 2020).

In the lecture's notation (t counts the steps from 1): in Adam's first
steps the second moment averages only a few squared gradients, so
1 / sqrt(second_unbias) has a large variance and the first steps can be
far too big (hence the warm-up schedules used with Adam). RAdam measures
how many gradients the average holds, rho_t, and

    while rho_t <= 5:  x -= lr * first_unbias                     (momentum SGD, no adaptive scaling)
    afterwards:        x -= lr * first_unbias * r_t / (sqrt(second_unbias) + eps)

where r_t, rising towards 1, rescales the adaptive step to the variance it
would have with an average of infinitely many gradients:

    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 t beta2 ** t / (1 - beta2 ** t)
    r_t = sqrt((rho_t - 4) (rho_t - 2) rho_inf / ((rho_inf - 4) (rho_inf - 2) rho_t))

With the default beta2 = 0.999, the first 5 steps are momentum SGD.

PyTorch's form, implemented here (m = exp_avg, v = exp_avg_sq):

    g = dx + weight_decay * x                      (or, decoupled: g = dx;  x *= 1 - lr * weight_decay)
    m = m + (1 - beta1) * (g - m)
    v = beta2 * v + (1 - beta2) * g * g
    rho_t > 5:   x -= m / (1 - beta1 ** t) * lr * sqrt(1 - beta2 ** t) / (sqrt(v) + eps) * r_t
    otherwise:   x -= m / (1 - beta1 ** t) * lr

PyTorch adds eps to sqrt(v), not to sqrt of the corrected v as Adam does.
"""
from minitl.backend import get_array_module
from minitl.optim.adam import apply_weight_decay, update_moments
from minitl.optim.optimizer import Optimizer


class RAdam(Optimizer):
    """``RAdam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False, *,
    maximize=False)``.

    State per parameter: ``step``, ``exp_avg``, ``exp_avg_sq``.
    """
    nonnegative_options = ("lr", "eps", "weight_decay")
    state_names = ("exp_avg", "exp_avg_sq")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False,
                 *, foreach=None, maximize=False, capturable=False, differentiable=False):
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, maximize=maximize,
                        foreach=foreach, capturable=capturable, decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def _update(self, param, grad, state, group):
        xp = get_array_module(param)
        beta1, beta2 = group["betas"]
        lr = group["lr"]
        step = self._next_step(state, param, "exp_avg", "exp_avg_sq")

        grad = apply_weight_decay(param, grad, group)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        update_moments(exp_avg, exp_avg_sq, grad, group["betas"])

        bias_correction1 = 1 - beta1 ** step
        bias_correction2 = 1 - beta2 ** step
        first_unbias = exp_avg / bias_correction1
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * beta2 ** step / bias_correction2
        if rho_t > 5:
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            adaptive_lr = bias_correction2 ** 0.5 / (xp.sqrt(exp_avg_sq) + group["eps"])
            param -= first_unbias * lr * adaptive_lr * rect
        else:
            param -= first_unbias * lr
