"""Hooks: functions that see (and may replace) a gradient as backward passes by, and their handles.

``t.register_hook(hook)`` adds ``hook(grad) -> None or a new grad`` to tensor t.
During backward, once t's gradient is complete, its hooks run in the order
they were registered, each on the result of the one before; what the last
one returns is what flows on to the Functions that made t (or into ``t.grad``
for a leaf). A ``retain_grad()`` tensor keeps the gradient after its hooks,
as in PyTorch. Every ``register_*hook`` returns a ``RemovableHandle``, whose
``remove()`` takes that hook away again.
"""
import itertools

from minitl.autograd.tensor import Tensor

__all__ = ["RemovableHandle", "run_tensor_hooks"]

_ids = itertools.count()  # each hook's key in its table, so a handle removes exactly its own hook


class RemovableHandle:
    """What ``register_hook`` returns: ``handle.remove()`` takes the hook out of its table (twice is harmless)."""

    def __init__(self, table, hook):
        self.table, self.id = table, next(_ids)
        table[self.id] = hook

    def remove(self):
        self.table.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.remove()


def run_tensor_hooks(hooks, grad):
    """The gradient after each hook in `hooks` (a dict, in registration order) has seen and maybe replaced it.

    The engine's gradient is an array in first order and a Tensor under
    create_graph; a hook always sees a Tensor, and gets back what it is given.
    """
    for hook in list(hooks.values()):  # a hook may remove itself
        result = hook(grad if isinstance(grad, Tensor) else Tensor(grad))
        if result is None:
            continue
        if not isinstance(result, Tensor):
            raise TypeError(f"hook '{_name(hook)}' returned a {type(result).__name__}: return a Tensor or None")
        if result.shape != grad.shape:
            raise RuntimeError(f"hook '{_name(hook)}' has changed the size of value: from {grad.shape} "
                               f"to {result.shape}")
        grad = result if isinstance(grad, Tensor) else result.data.astype(grad.dtype, copy=False)
    return grad


def _name(hook):
    return getattr(hook, "__name__", type(hook).__name__)
