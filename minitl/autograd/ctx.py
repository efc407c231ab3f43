"""PyTorch's style of custom Function, beside minitl's own: static methods with a ``ctx``, called by ``apply``.

    class Cube(tl.autograd.Function):
        @staticmethod
        def forward(ctx, x):                  # Tensors in, a Tensor out (run without recording)
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, grad):              # Tensors in, one gradient (or None) per forward argument out
            (x,) = ctx.saved_tensors
            return grad * 3 * x ** 2

    y = Cube.apply(x)

``apply`` wraps the class in a ``CtxFunction``, an ordinary minitl Function,
so the engine treats both styles alike: forward runs on the input tensors'
values, backward is the one formula for every order. Its backward gets
Tensors even in first order (PyTorch's contract), and under create_graph the
saved inputs are the input tensors themselves, so the formula is recorded and
can be differentiated again. Non-Tensor arguments (numbers, flags) pass
through to forward; their gradient must be None.
"""
import functools

from minitl import grad_mode
from minitl.autograd.function import Function
from minitl.autograd.tensor import Tensor

__all__ = ["CtxFunction", "FunctionCtx", "node_class"]


class FunctionCtx:
    """The ``ctx`` of a PyTorch-style Function: what forward keeps for backward.

    ``ctx.save_for_backward(*tensors)`` / ``ctx.saved_tensors``; ``ctx.needs_input_grad``
    (one flag per forward argument); any other attribute (``ctx.alpha = 2``) is kept as it is.
    """

    def __init__(self, function, needs_input_grad):
        self._function = function
        self.needs_input_grad = needs_input_grad

    def save_for_backward(self, *tensors):
        for value in tensors:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"save_for_backward can only save Tensors (or None), got a {type(value).__name__}: "
                                f"keep other values as attributes of ctx")
        self._function.save_for_backward(*[None if t is None else t.data for t in tensors])

    @property
    def saved_tensors(self):
        return tuple(v if v is None or isinstance(v, Tensor) else Tensor(v) for v in self._function.saved_tensors)


class CtxFunction(Function):
    """A PyTorch-style Function class (``user_class``) called with ``args`` as one minitl Function node.

    The node's inputs are the Tensor arguments; the other arguments are kept in place for forward.
    """

    def __init__(self, user_class, args):
        self.user_class, self.args = user_class, args
        self.tensor_positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        self.ctx = FunctionCtx(self, tuple(isinstance(a, Tensor) and a.requires_grad for a in args))

    def forward(self, *arrays):
        args = list(self.args)
        for position, array in zip(self.tensor_positions, arrays):
            args[position] = Tensor(array)
        with grad_mode.no_grad():
            output = self.user_class.forward(self.ctx, *args)
        if not isinstance(output, Tensor):
            raise TypeError(f"{self.user_class.__name__}.forward returned a {type(output).__name__}: minitl's "
                            f"PyTorch-style Functions return one Tensor")
        return output.data

    def backward(self, gy):
        grads = self.user_class.backward(self.ctx, gy if isinstance(gy, Tensor) else Tensor(gy))
        grads = grads if isinstance(grads, tuple) else (grads,)
        if len(grads) != len(self.args):
            raise TypeError(f"{self.user_class.__name__}.backward returned {len(grads)} gradients for "
                            f"{len(self.args)} forward arguments: return one per argument (None for non-Tensors)")
        for position, g in enumerate(grads):
            if g is not None and position not in self.tensor_positions:
                raise TypeError(f"{self.user_class.__name__}.backward returned a gradient for argument "
                                f"{position}, which is not a Tensor: return None there")
        return tuple(grads[position] for position in self.tensor_positions)


@functools.cache
def node_class(user_class):
    """A CtxFunction subclass named after the user's class, so ``grad_fn`` and errors name it (``<CubeBackward>``,
    PyTorch's name for a custom Function's node)."""
    return type(user_class.__name__, (CtxFunction,), {"__doc__": user_class.__doc__,
                                                       "name": lambda self: f"{user_class.__name__}Backward"})
