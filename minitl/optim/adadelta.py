"""Adadelta: RMSProp whose step size is itself a running average, so it needs no learning rate.

In the lecture's notation (rho the decay rate, as RMSProp's decay_rate):

    grad_squared = rho * grad_squared + (1 - rho) * dx * dx
    step = sqrt(delta_squared + eps) / sqrt(grad_squared + eps) * dx
    delta_squared = rho * delta_squared + (1 - rho) * step * step
    x -= step

The ratio of two root-mean-squares has the units of x (Zeiler, 2012): the
step's size comes from the recent steps, so plain Adadelta has no learning
rate. Both averages start at zero: the first steps are about sqrt(eps) per
element, and grow as delta_squared fills.

PyTorch's form, implemented here (square_avg = grad_squared, acc_delta =
delta_squared, delta = step):

    g = dx + weight_decay * x
    square_avg = rho * square_avg + (1 - rho) * g * g
    delta = sqrt(acc_delta + eps) / sqrt(square_avg + eps) * g
    acc_delta = rho * acc_delta + (1 - rho) * delta * delta
    x -= lr * delta

It adds to the lecture's the L2 term and a learning rate `lr` (default 1,
the original rule) that scales the step.
"""
from minitl.backend import get_array_module
from minitl.optim.optimizer import Optimizer


class Adadelta(Optimizer):
    """``Adadelta(params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, *, maximize=False)``.

    State per parameter: ``step``, ``square_avg``, ``acc_delta``.
    """
    nonnegative_options = ("lr", "rho", "eps", "weight_decay")
    state_names = ("square_avg", "acc_delta")

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *, capturable=False,
                 maximize=False, differentiable=False):
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group):
        super()._check_hyperparameters(group)
        if not group["rho"] <= 1:
            raise ValueError(f"Adadelta: invalid rho={group['rho']!r}: must be in [0, 1]")

    def _update(self, param, grad, state, group):
        xp = get_array_module(param)
        rho, eps = group["rho"], group["eps"]
        self._next_step(state, param, "square_avg", "acc_delta")
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param

        square_avg, acc_delta = state["square_avg"], state["acc_delta"]
        square_avg *= rho
        square_avg += (1 - rho) * grad * grad
        delta = xp.sqrt(acc_delta + eps) / xp.sqrt(square_avg + eps) * grad
        acc_delta *= rho
        acc_delta += (1 - rho) * delta * delta
        param -= group["lr"] * delta
