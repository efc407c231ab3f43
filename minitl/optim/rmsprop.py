"""RMSProp: AdaGrad with a leaky (moving-average) sum of squared gradients.

In the lecture's notation (decay_rate = alpha):

    grad_squared = decay_rate * grad_squared + (1 - decay_rate) * dx * dx
    x -= lr * dx / (sqrt(grad_squared) + eps)

Old gradients are forgotten at rate 1 - alpha, so the step size no longer
decays to zero as in AdaGrad.

PyTorch's form, implemented here (alpha = decay_rate, mu = momentum):

    g = dx + weight_decay * x
    square_avg = alpha * square_avg + (1 - alpha) * g * g
    centered:   grad_avg = alpha * grad_avg + (1 - alpha) * g
                avg = sqrt(square_avg - grad_avg**2) + eps
    otherwise:  avg = sqrt(square_avg) + eps
    momentum:   buf = mu * buf + g / avg
                x -= lr * buf
    otherwise:  x -= lr * g / avg

Beyond the lecture's: the L2 term; `centered` divides by an estimate of the
gradient's standard deviation instead of its root mean square; `momentum`
keeps a velocity of the normalised steps (buffer starts at zero, unlike
SGD's). grad_avg is updated as grad_avg + (1 - alpha) * (g - grad_avg), the
same average in the rounding order of PyTorch's lerp.
"""
from minitl.backend import get_array_module
from minitl.optim.optimizer import Optimizer


class RMSprop(Optimizer):
    """``RMSprop(params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False, maximize=False)``.

    State per parameter: ``step``, ``square_avg``, ``momentum_buffer`` (momentum > 0),
    ``grad_avg`` (centered).
    """
    state_names = ("square_avg", "momentum_buffer", "grad_avg")

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                        centered=centered, capturable=capturable, foreach=foreach, maximize=maximize,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group):
        self._check_nonnegative(group, "lr", "alpha", "eps", "weight_decay", "momentum")

    def _update(self, param, grad, state, group):
        xp = get_array_module(param)
        alpha, momentum = group["alpha"], group["momentum"]
        if not state:
            state["step"] = 0
            state["square_avg"] = xp.zeros_like(param)
            if momentum > 0:
                state["momentum_buffer"] = xp.zeros_like(param)
            if group["centered"]:
                state["grad_avg"] = xp.zeros_like(param)
        state["step"] += 1
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param

        square_avg = state["square_avg"]
        square_avg *= alpha
        square_avg += (1 - alpha) * grad * grad
        if group["centered"]:
            grad_avg = state["grad_avg"]
            grad_avg += (1 - alpha) * (grad - grad_avg)
            avg = xp.sqrt(square_avg - grad_avg * grad_avg) + group["eps"]
        else:
            avg = xp.sqrt(square_avg) + group["eps"]

        if momentum > 0:
            buf = state["momentum_buffer"]
            buf *= momentum
            buf += grad / avg
            param -= group["lr"] * buf
        else:
            param -= group["lr"] * grad / avg
