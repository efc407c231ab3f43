"""AdaGrad: a per-element step size that shrinks with the gradients seen so far.

In the lecture's notation:

    grad_squared += dx * dx
    x -= lr * dx / (sqrt(grad_squared) + eps)

Elements with large past gradients take small steps and the rarely-updated
ones large steps. The sum only grows, so the effective step decays towards
zero: fine for convex problems, often too early a stop for deep networks
(RMSprop and Adam replace the sum by a moving average).

PyTorch's form, implemented here (t counts the steps from 1):

    g = dx + weight_decay * x
    clr = lr / (1 + (t - 1) * lr_decay)
    sum += g * g                        (sum starts at initial_accumulator_value)
    x -= clr * g / (sqrt(sum) + eps)

It adds to the lecture's: the L2 term, the optional learning-rate decay and
the starting value of the sum.
"""
from minitl.backend import get_array_module
from minitl.optim.optimizer import Optimizer, tensor_state


class Adagrad(Optimizer):
    """``Adagrad(params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10, *, maximize=False)``.

    State per parameter: ``step``, ``sum``.
    """
    state_names = ("sum",)

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        # as in PyTorch, the state exists from the start, for parameters with and without gradients
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p] = tensor_state(self._new_state(p.data, group), self.state_names)

    @staticmethod
    def _new_state(param, group):
        return {"step": 0, "sum": get_array_module(param).full_like(param, group["initial_accumulator_value"])}

    def _check_hyperparameters(self, group):
        self._check_nonnegative(group, "lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps")

    def _update(self, param, grad, state, group):
        if not state:  # a parameter added by add_param_group
            state.update(self._new_state(param, group))
        state["step"] += 1
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        state["sum"] += grad * grad
        std = get_array_module(param).sqrt(state["sum"]) + group["eps"]
        param -= clr * grad / std
