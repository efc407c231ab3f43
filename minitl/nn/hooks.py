"""Module hooks, for studying a network's internals: see or change what a module takes, gives and gets back.

    register_forward_pre_hook(hook)     hook(module, args) -> None or new args           before forward
    register_forward_hook(hook)         hook(module, args, output) -> None or new output  after forward
    register_full_backward_hook(hook)   hook(module, grad_input, grad_output) -> None or new grad_input

Each returns a handle whose ``remove()`` takes the hook away. The backward hook
works as PyTorch's does: the module's Tensor inputs and its output pass through
an identity Function (``BackwardHookFunction``), whose backward sees the
gradients: the output's first (grad_output), then the inputs' (grad_input,
None for an input that does not require grad), and the hook runs once every
input's gradient is known; a tuple it returns replaces grad_input.
"""
import warnings

from minitl.autograd import Function, Tensor

__all__ = ["BackwardHookFunction", "call_with_hooks"]


class BackwardHookFunction(Function):
    """y = x, a module's input or output marked for its backward hooks;  dx = gy as the hooks see or replace it."""

    def __init__(self, on_gradient):
        self.on_gradient = on_gradient

    def forward(self, x):
        return x

    def backward(self, gy):
        return (self.on_gradient(gy),)


class _BackwardHookCall:
    """One call of a module with backward hooks: collects grad_output, then grad_input, then runs the hooks."""

    def __init__(self, module, inputs):
        self.module, self.grad_output = module, None
        self.waiting = [i for i, x in enumerate(inputs) if x.requires_grad]
        self.grad_input = [None] * len(inputs)

    def output_gradient(self, gy):
        self.grad_output = (_as_tensor(gy),)
        if not self.waiting:  # no input needs a gradient (the first layer): the hooks run now
            warnings.warn("Full backward hook is firing when gradients are computed with respect to module outputs "
                          "since no inputs require gradients.", UserWarning, stacklevel=2)
            self._run_hooks()
        return gy

    def input_gradient(self, index, gx):
        self.grad_input[index] = _as_tensor(gx)
        self.waiting.remove(index)
        if not self.waiting:
            self._run_hooks()
        result = self.grad_input[index]
        return result if isinstance(gx, Tensor) or result is None else result.data

    def _run_hooks(self):
        for hook in list(self.module._backward_hooks.values()):
            result = hook(self.module, tuple(self.grad_input), self.grad_output)
            if result is not None:
                result = tuple(result) if isinstance(result, (tuple, list)) else (result,)
                if len(result) != len(self.grad_input):
                    raise RuntimeError(f"backward hook returned {len(result)} gradients for "
                                       f"{len(self.grad_input)} inputs of {type(self.module).__name__}")
                self.grad_input = list(result)


def _as_tensor(g):
    return g if isinstance(g, Tensor) else Tensor(g)


def call_with_hooks(module, args, kwargs):
    """``module(*args, **kwargs)`` with its forward pre-hooks, forward hooks and backward hooks."""
    for hook in list(module._forward_pre_hooks.values()):
        result = hook(module, args)
        if result is not None:
            args = result if isinstance(result, tuple) else (result,)
    call = None
    if module._backward_hooks:
        positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        call = _BackwardHookCall(module, [args[i] for i in positions])
        args = list(args)
        for index, position in enumerate(positions):
            if args[position].requires_grad:
                args[position] = BackwardHookFunction(
                    lambda gx, index=index: call.input_gradient(index, gx))(args[position])
        args = tuple(args)
    output = module.forward(*args, **kwargs)
    for hook in list(module._forward_hooks.values()):
        result = hook(module, args, output)
        if result is not None:
            output = result
    if call is not None:
        if not isinstance(output, Tensor):
            raise TypeError(f"register_full_backward_hook needs a module that returns one Tensor; "
                            f"{type(module).__name__} returned a {type(output).__name__}")
        if output.requires_grad:
            output = BackwardHookFunction(call.output_gradient)(output)
    return output
