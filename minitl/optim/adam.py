"""Adam (momentum + RMSProp + bias correction) and AdamW (decoupled weight decay).

In the lecture's notation (t counts the steps from 1):

    first_moment = beta1 * first_moment + (1 - beta1) * dx
    second_moment = beta2 * second_moment + (1 - beta2) * dx * dx
    first_unbias = first_moment / (1 - beta1 ** t)
    second_unbias = second_moment / (1 - beta2 ** t)
    x -= lr * first_unbias / (sqrt(second_unbias) + eps)

Both moments start at zero and are biased towards it early on. Uncorrected,
the first step would be lr * 0.1 dx / sqrt(0.001 dx**2), about 3.2 lr per
element with the default betas (the small second moment divides); corrected,
it is lr * sign(dx).

PyTorch's form, implemented here in its order of operations (m = exp_avg,
v = exp_avg_sq; PyTorch folds the corrections into the step size and the
denominator, which is the same formula):

    Adam:   g = dx + weight_decay * x              (L2 regularisation: the decay passes
                                                    through the adaptive scaling)
    AdamW:  g = dx;  x *= 1 - lr * weight_decay    (decoupled weight decay)
    m = m + (1 - beta1) * (g - m)                  (= beta1 * m + (1 - beta1) * g)
    v = beta2 * v + (1 - beta2) * g * g
    amsgrad: v_max = max(v_max, v), used for v below
    denom = sqrt(v) / sqrt(1 - beta2 ** t) + eps
    x -= (lr / (1 - beta1 ** t)) * m / denom

AdamW's decay shrinks every weight by the same factor whatever its gradient
history; Adam's L2 term gets divided by sqrt(v) like the gradient, so weights
with large gradients are barely regularised. AMSGrad divides by the largest
second moment seen so far, so a parameter's step size never grows back.
"""
from minitl.backend import get_array_module
from minitl.optim.optimizer import Optimizer


class Adam(Optimizer):
    """``Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *, maximize=False,
    decoupled_weight_decay=False)``.

    ``weight_decay`` is an L2 term added to the gradient (AdamW, or
    ``decoupled_weight_decay=True``, for the decoupled form). State per
    parameter: ``step``, ``exp_avg``, ``exp_avg_sq``, ``max_exp_avg_sq`` (amsgrad).
    """
    nonnegative_options = ("lr", "eps", "weight_decay")
    state_names = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, foreach=foreach, capturable=capturable, differentiable=differentiable,
                        fused=fused, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _update(self, param, grad, state, group):
        xp = get_array_module(param)
        beta1, beta2 = group["betas"]
        lr = group["lr"]
        moments = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq") if group["amsgrad"] else ("exp_avg", "exp_avg_sq")
        step = self._next_step(state, param, *moments)

        grad = apply_weight_decay(param, grad, group)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        update_moments(exp_avg, exp_avg_sq, grad, group["betas"])
        if group["amsgrad"]:
            xp.maximum(state["max_exp_avg_sq"], exp_avg_sq, out=state["max_exp_avg_sq"])
            second_moment = state["max_exp_avg_sq"]
        else:
            second_moment = exp_avg_sq

        bias_correction1 = 1 - beta1 ** step
        bias_correction2 = 1 - beta2 ** step
        step_size = lr / bias_correction1
        denom = xp.sqrt(second_moment) / bias_correction2 ** 0.5 + group["eps"]
        param -= step_size * exp_avg / denom


def apply_weight_decay(param, grad, group):
    """The gradient with the L2 term added, or (decoupled_weight_decay) `param` shrunk in place and `grad`."""
    lr, weight_decay = group["lr"], group["weight_decay"]
    if weight_decay == 0:
        return grad
    if group["decoupled_weight_decay"]:
        param *= 1 - lr * weight_decay
        return grad
    return grad + weight_decay * param


def update_moments(exp_avg, exp_avg_sq, grad, betas):
    """Adam's two moving averages, in place: of the gradient and of its square."""
    beta1, beta2 = betas
    exp_avg += (1 - beta1) * (grad - exp_avg)
    exp_avg_sq *= beta2
    exp_avg_sq += (1 - beta2) * grad * grad


class AdamW(Adam):
    """``AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *, maximize=False)``.

    Adam with decoupled weight decay: ``x *= 1 - lr * weight_decay`` before the Adam step.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, foreach=None, capturable=False, differentiable=False, fused=None):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         foreach=foreach, maximize=maximize, capturable=capturable, differentiable=differentiable,
                         fused=fused, decoupled_weight_decay=True)
