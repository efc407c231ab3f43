"""The engine: ``backward()`` and ``grad()`` walk the graph from an output back to the leaves.

``Tensor.backward()`` walks the graph without recursion: Functions are taken
from a heap, newest generation first, so a Function runs only after every
gradient flowing into its output has been summed (a 20,000-op chain works).
Once a Function has run, it drops its inputs (unless retain_graph), so the
arrays of a training step do not outlive the step.

Where a gradient meets an input, the engine fits it to that input: a
gradient of a broadcast shape is summed back to the input's shape
(``sum_to``) and a gradient of another dtype is cast to the input's dtype.
So ``Add.backward`` is just ``return gy, gy``, and no op can hand a leaf a
gradient of the wrong shape or dtype. Gradients accumulate into the
``.grad`` of leaf tensors (each leaf owns its own array, safe to change in
place); intermediate gradients are dropped once used, unless a tensor asked
for its own with ``retain_grad()``.

Higher derivatives: with ``backward(create_graph=True)`` or ``grad(...,
create_graph=True)`` the engine runs with recording on, so each Function's
``backward`` (the same formula as always, see function.py) is recorded, and
the engine's own steps (summing gradients, ``sum_to``, dtype casts) are
minitl operations too in that mode.
"""
import heapq
import itertools

import numpy as np

from minitl import backend, grad_mode, threads
from minitl.autograd.hooks import run_tensor_hooks
from minitl.autograd.tensor import Tensor

__all__ = ["backward", "clear_grads", "grad", "sum_to"]


def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

    ``gradient`` is dL/d(self); it may be omitted only for a one-element
    tensor (then it is 1). ``retain_graph=True`` keeps the graph for another
    call (its default is ``create_graph``). ``create_graph=True`` records
    the backward pass itself: the gradients are tensors with a graph, which
    can be differentiated again. ``inputs`` limits the accumulation to those
    tensors (leaves, or non-leaves whose ``.grad`` is then filled).
    """
    targets = None
    if inputs is not None:
        targets = {id(x): x for x in _as_tuple(inputs)}
        if not targets:
            raise RuntimeError("backward(): inputs= was given but is empty")
    _run_backward((self,), (gradient,), retain_graph, create_graph, _Destinations(targets, accumulate=True))


Tensor.backward = backward  # a method of every tensor: loss.backward()


def sum_to(grad, shape):
    """Sum `grad` down to `shape`, reversing NumPy broadcasting (an array, or a Tensor when recording).

    Broadcasting stretches an input of shape (3, 1) to (3, 4), so each of its
    elements is used 4 times: its gradient is the sum of the 4 upstream ones.
    """
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)  # leading axes that broadcasting added
    stretched = tuple(extra + i for i, n in enumerate(shape) if n == 1 and grad.shape[extra + i] != 1)
    grad = grad.sum(axis=tuple(range(extra)) + stretched, keepdims=True)
    return grad.reshape(shape)


def _broadcasts_to(shape, target):
    """True when an array of `shape` broadcasts to `target` (so a gradient of `target` sums back to it)."""
    if len(shape) > len(target):
        return False
    return all(n == m or n == 1 for n, m in zip(shape, target[len(target) - len(shape):]))


def _fitted_gradient(fn, index, x, gx, create_graph):
    """Function `fn`'s gradient `gx` for its input number `index` (tensor `x`), summed back and cast to x.

    An array in a first-order backward; a Tensor (its graph recorded) with create_graph.
    """
    if create_graph:
        if not isinstance(gx, Tensor):
            raise TypeError(f"{type(fn).__name__}.backward returned a {type(gx).__name__} as the gradient "
                            f"of input {index}: expected a Tensor of shape {x.shape} (or None)")
    elif isinstance(gx, Tensor):
        gx = gx.data
    elif not backend.is_array(gx):
        if not isinstance(gx, np.generic):
            raise TypeError(f"{type(fn).__name__}.backward returned a {type(gx).__name__} as the gradient of "
                            f"input {index}: expected an array of shape {x.shape} (or None)")
        gx = backend.get_array_module(x.data).asarray(gx)
    if gx.shape != x.shape:
        if not _broadcasts_to(x.shape, gx.shape):
            raise RuntimeError(f"{type(fn).__name__}.backward returned a gradient of shape {gx.shape} for input "
                               f"{index}, which has shape {x.shape}: expected that shape, or one it broadcasts to")
        gx = sum_to(gx, x.shape)
    if gx.dtype != x.dtype:
        gx = gx.to(dtype=x.dtype) if create_graph else gx.astype(x.dtype)
    return gx


def _gradients_of(fn, gy, create_graph):
    """fn's gradients for gy, one entry per input, or an error naming the Function."""
    if create_graph:
        fn.check_graph_safe()
    grads = fn.backward(gy)
    count = len(fn.inputs)
    if type(grads) is tuple and len(grads) == count:
        return grads  # the common case, first
    if not isinstance(grads, (tuple, list)):
        if count != 1:
            raise TypeError(f"{type(fn).__name__}.backward returned one {type(grads).__name__} for {count} inputs: "
                            f"return a tuple with one gradient (or None) per input")
        grads = (grads,)  # one input: a bare gradient is accepted, as in PyTorch
    if len(grads) > count and all(g is None for g in grads[count:]):
        grads = grads[:count]  # trailing Nones for optional inputs not given (a bias), as PyTorch allows
    if len(grads) != count:
        raise TypeError(f"{type(fn).__name__}.backward returned {len(grads)} gradients for {count} inputs: "
                        f"return a tuple with one gradient (or None) per input")
    return grads


def _check_versions(fn):
    if fn.input_versions == [x._version for x in fn.inputs]:
        return
    for index, (x, version) in enumerate(zip(fn.inputs, fn.input_versions)):
        if x._version != version:
            raise RuntimeError(f"one of the tensors needed for gradient computation was modified by an in-place "
                               f"operation: input {index} of {type(fn).__name__} (shape {x.shape}) is at version "
                               f"{x._version}, expected {version}; change it after backward(), or use an "
                               f"out-of-place operation")


def _accumulate(tensor, grad):
    """tensor.grad += grad; each tensor owns its .grad (the first gradient is copied).

    A gradient with a graph (create_graph) is added out of place, so the graph stays intact.
    """
    if isinstance(grad, Tensor):
        tensor._grad = grad.clone() if tensor._grad is None else tensor._grad + grad
    elif tensor._grad is None:
        tensor._grad = Tensor(grad.copy())
    else:
        tensor._grad.data += grad


def clear_grads(tensors, set_to_none=True):
    """Module.zero_grad and Optimizer.zero_grad: drop each tensor's .grad, or zero it in place (it owns it)."""
    for tensor in tensors:
        if set_to_none:
            tensor.grad = None
        elif tensor.grad is not None:
            tensor.grad.zero_()


def _first_gradient(root, gradient, create_graph):
    """dL/d(root) to start from: `gradient` checked and cast, or 1 for a one-element root."""
    if not isinstance(root, Tensor) or not root.requires_grad:
        raise RuntimeError("backward() on a tensor that does not require grad "
                           "(no input had requires_grad=True, or it was made under no_grad)")
    xp = backend.get_array_module(root.data)
    if gradient is None:
        if root.data.size != 1:
            raise RuntimeError(f"backward() without a gradient needs a one-element tensor, got shape "
                               f"{root.shape}: pass gradient=, or reduce first (e.g. .sum())")
        gradient = xp.ones_like(root.data)
    elif isinstance(gradient, Tensor) and create_graph:
        gradient = gradient if gradient.dtype == root.dtype else gradient.to(dtype=root.dtype)
    else:
        gradient = xp.asarray(gradient.data if isinstance(gradient, Tensor) else gradient, dtype=root.dtype)
    if gradient.shape != root.shape:
        raise ValueError(f"backward(): gradient has shape {gradient.shape}, expected {root.shape}")
    return Tensor(gradient) if create_graph and not isinstance(gradient, Tensor) else gradient


class _Destinations:
    """Where gradients end up: .grad of leaves (backward), of chosen tensors (backward(inputs=)), or a dict (grad()).

    `targets` maps id -> tensor for backward(inputs=) and autograd.grad; None means every leaf.
    """

    def __init__(self, targets, accumulate):
        self.targets, self.accumulate, self.captured = targets, accumulate, {}
        self.by_function = {id(t.grad_fn): t for t in (targets or {}).values() if t.grad_fn is not None}

    def leaf(self, x, gx):
        if self.targets is None or id(x) in self.targets:
            self._arrive(x, gx if x._hooks is None else run_tensor_hooks(x._hooks, gx))

    def output_of(self, fn, gy):
        """The total gradient of fn's output, after its tensor's hooks (returned: it flows on from here),
        which a target or a retain_grad() tensor may want."""
        if fn.tensor_hooks is not None:
            gy = run_tensor_hooks(fn.tensor_hooks, gy)
        target = self.by_function.get(id(fn))
        if target is not None:
            self._arrive(target, gy)
        elif self.targets is None and fn.retained_output is not None and fn.retained_output() is not None:
            _accumulate(fn.retained_output(), gy)
        return gy

    def _arrive(self, tensor, g):
        if self.accumulate:
            _accumulate(tensor, g)
        elif id(tensor) in self.captured:
            self.captured[id(tensor)] = self.captured[id(tensor)] + g
        else:
            self.captured[id(tensor)] = g if isinstance(g, Tensor) else g.copy()


def _functions_leading_to(roots, destinations):
    """(needed, through): ids of the Functions whose output is a target or leads to one, and of those whose
    inputs lead to one (only these run their backward); (None, None) when every leaf is a target.

    backward(inputs=...) and grad() need only these: the walk stops where no
    target lies upstream (torch prunes the same way), which matters most for
    grad() of an intermediate tensor, e.g. inside a create_graph backward.
    """
    if destinations.targets is None:
        return None, None
    reachable, stack = {}, [r.grad_fn for r in roots if r.grad_fn is not None]
    while stack:
        fn = stack.pop()
        if id(fn) not in reachable:
            reachable[id(fn)] = fn
            stack.extend(p for p in (fn.producers or ()) if p is not None)
    needed, through = set(), set()
    for fn in sorted(reachable.values(), key=lambda f: f.generation):  # producers before their consumers
        if any((id(p) in needed) if p is not None else (id(x) in destinations.targets)
               for x, p in zip(fn.inputs or (), fn.producers or ())):
            through.add(id(fn))
        if id(fn) in through or id(fn) in destinations.by_function:
            needed.add(id(fn))
    return needed, through


def _run_backward(roots, gradients, retain_graph, create_graph, destinations):
    """The backward pass from `roots` (with dL/d(root) `gradients`), delivering to `destinations`.

    First-order (create_graph=False), every Function's ``backward`` runs on
    arrays with recording off: as fast as a hand-written backward. With
    create_graph=True the same ``backward`` runs on tensors with recording on
    (see function.py), so the gradients have a graph of their own.
    """
    if retain_graph is None:
        retain_graph = create_graph
    # Gradients waiting to flow back, keyed by the Function whose output they belong to
    # (each Function has one output, so its id names that output too).
    pending, heap = {}, []
    order = itertools.count()  # tie-breaker: heapq never compares Functions
    needed, through = _functions_leading_to(roots, destinations)
    for root, gradient in zip(roots, gradients):
        gradient = _first_gradient(root, gradient, create_graph)
        if root.grad_fn is None:
            destinations.leaf(root, gradient)
        elif needed is not None and id(root.grad_fn) not in needed:
            continue
        elif id(root.grad_fn) in pending:
            pending[id(root.grad_fn)] = pending[id(root.grad_fn)] + gradient
        else:
            pending[id(root.grad_fn)] = gradient
            heapq.heappush(heap, (-root.grad_fn.generation, next(order), root.grad_fn))
    with grad_mode.set_grad_enabled(create_graph), threads.blas_held:  # one hold for the pass, not one per Function
        while heap:
            fn = heapq.heappop(heap)[2]
            if fn.inputs is None:
                raise RuntimeError("backward() through a graph that was already freed: "
                                   "pass retain_graph=True to the first backward() to call it twice")
            gy = pending.pop(id(fn))
            if destinations.by_function or fn.retained_output is not None or fn.tensor_hooks is not None:
                gy = destinations.output_of(fn, gy)
            if through is not None and id(fn) not in through:
                continue  # a target's gradient is complete here, and nothing upstream is wanted
            _check_versions(fn)
            grads = _gradients_of(fn, gy, create_graph)
            for index, (x, producer, gx) in enumerate(zip(fn.inputs, fn.producers, grads)):
                if gx is None or not fn.needs_input_grad[index]:
                    continue
                if create_graph or type(gx) is not np.ndarray or gx.shape != x.data.shape or gx.dtype != x.data.dtype:
                    gx = _fitted_gradient(fn, index, x, gx, create_graph)  # all but the common case
                if producer is None:
                    destinations.leaf(x, gx)
                elif needed is not None and id(producer) not in needed:
                    continue
                elif id(producer) in pending:
                    pending[id(producer)] = pending[id(producer)] + gx
                else:
                    pending[id(producer)] = gx
                    heapq.heappush(heap, (-producer.generation, next(order), producer))
            if not retain_graph:
                fn.inputs = fn.producers = None  # drop the upstream graph (and its arrays) as soon as it is used
    return destinations.captured


def _as_tuple(tensors):
    return (tensors,) if isinstance(tensors, Tensor) else tuple(tensors)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False):
    """d(outputs)/d(inputs) as a tuple of tensors, without touching any ``.grad`` (``torch.autograd.grad``).

    ``grad_outputs`` are dL/d(output) (default 1 for one-element outputs).
    With ``create_graph=True`` the results have a graph, so they can be
    differentiated again (second derivatives, Hessian-vector products,
    gradient penalties). An input the outputs do not depend on is an error,
    or None with ``allow_unused=True``.
    """
    outputs, inputs = _as_tuple(outputs), _as_tuple(inputs)
    grad_outputs = (None,) * len(outputs) if grad_outputs is None else _as_tuple(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad(): {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    for i, x in enumerate(inputs):
        if not (isinstance(x, Tensor) and x.requires_grad):
            raise RuntimeError(f"grad(): input {i} does not require grad, so it has no gradient")
    destinations = _Destinations({id(x): x for x in inputs}, accumulate=False)
    captured = _run_backward(outputs, grad_outputs, retain_graph, create_graph, destinations)
    results = []
    for i, x in enumerate(inputs):
        g = captured.get(id(x))
        if g is None and not allow_unused:
            raise RuntimeError(f"grad(): input {i} was not used to compute the outputs; pass allow_unused=True "
                               f"to get None for it")
        results.append(g if g is None or isinstance(g, Tensor) else Tensor(g))
    return tuple(results)
