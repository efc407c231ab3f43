"""Tensors and reverse-mode automatic differentiation, in the order a reader needs them.

    tensor.py     Tensor: an array, its gradient, and the Function that made it
    function.py   Function: forward and backward, each written once, and how calling it records the graph
    engine.py     backward() and grad(): the walk from an output back to the leaves
    either.py     the few functions backward formulas call, for an array or a Tensor alike

``tl.autograd.functional`` (jacobian, hessian, vjp, jvp, hvp, vhp: PyTorch's path) is ``minitl/derivatives.py``,
which is built on ops and so lives above them; the package root attaches it here.
"""
from minitl.autograd.engine import clear_grads, grad, sum_to
from minitl.autograd.function import Function
from minitl.autograd.tensor import Array, Tensor
from minitl.grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled

__all__ = ["Array", "Function", "Tensor", "clear_grads", "enable_grad", "grad", "inference_mode", "is_grad_enabled",
           "no_grad", "set_grad_enabled", "sum_to"]

