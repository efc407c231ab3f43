"""Stochastic gradient descent, with momentum and Nesterov momentum.

In the lecture's notation (x the parameters, dx the gradient, rho the
momentum, lr the learning rate):

    SGD:                x -= lr * dx
    SGD + momentum:     v = rho * v + dx
                        x -= lr * v
      or, with lr inside the velocity:
                        v = rho * v - lr * dx
                        x += v
    Nesterov momentum:  v_prev = v
                        v = rho * v - lr * dx
                        x += -rho * v_prev + (1 + rho) * v

PyTorch's form, implemented here for step-for-step parity (g = dx plus the
L2 term weight_decay * x; mu = momentum; tau = dampening):

    g = dx + weight_decay * x
    buf = g                             on the first step
    buf = mu * buf + (1 - tau) * g      afterwards
    x -= lr * buf                       (momentum)
    x -= lr * (g + mu * buf)            (nesterov)

Where it differs from the lecture:
  * momentum is the lecture's first form (buf = v). The second form, with lr
    inside the velocity, takes the same steps while lr is constant
    (v = -lr * buf); when a schedule changes lr, PyTorch's buffer applies the
    new lr to the whole accumulated velocity at once.
  * PyTorch's Nesterov step is the lecture's rewritten without v_prev:
    x += -lr * g + mu * v with v = -lr * buf, the same sequence of x.
  * dampening tau scales the new gradient, except on the first step, which
    copies the gradient into the buffer.
"""
from minitl.optim.optimizer import Optimizer


class SGD(Optimizer):
    """``SGD(params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *, maximize=False)``.

    As torch.optim.SGD (``foreach``, ``differentiable``, ``fused``: see ``minitl.optim.optimizer``).

    State per parameter: ``momentum_buffer`` (only when momentum != 0).
    """
    state_names = ("momentum_buffer",)

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, foreach=foreach, differentiable=differentiable,
                        fused=fused)
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group):
        self._check_nonnegative(group, "lr", "momentum", "weight_decay")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(f"SGD: nesterov=True needs momentum > 0 and dampening = 0, got "
                             f"momentum={group['momentum']!r}, dampening={group['dampening']!r}")

    def _update(self, param, grad, state, group):
        momentum = group["momentum"]
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = grad.copy()
            else:
                buf *= momentum
                buf += (1 - group["dampening"]) * grad
            grad = grad + momentum * buf if group["nesterov"] else buf
        param -= group["lr"] * grad
