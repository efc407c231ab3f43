"""Tensors and reverse-mode automatic differentiation.

A ``Tensor`` wraps a backend array (``.data``: NumPy or CuPy). Every
differentiable operation is a ``Function`` with two methods on raw arrays:

    forward(*xs)  -> y          compute the output, save what backward needs
    backward(gy)  -> (gx, ...)  given dL/dy, return dL/dx for every input

Calling a Function on tensors records the graph: the output remembers its
``grad_fn``, the Function remembers its inputs, and nothing points back from
a Function to its output. With no reference cycles, a graph is freed as soon
as the last tensor of it goes away; ``backward()`` additionally drops each
Function's inputs once used, so the arrays of a training step do not outlive
the step.

``Tensor.backward()`` walks the graph without recursion: Functions are taken
from a heap, newest generation first, so a Function runs only after every
gradient flowing into its output has been summed (a 20,000-op chain works).

Where a gradient meets an input, the engine fits it to that input: a
gradient of a broadcast shape is summed back to the input's shape
(``sum_to``) and a gradient of another dtype is cast to the input's dtype.
So ``Add.backward`` is just ``return gy, gy``, and no op can hand a leaf a
gradient of the wrong shape or dtype. Gradients accumulate into the
``.grad`` of leaf tensors (each leaf owns its own array, safe to change in
place); intermediate gradients are dropped once used, unless a tensor asked
for its own with ``retain_grad()``.

Higher derivatives. A first-order backward stays on arrays: each Function's
``backward`` computes its gradients with the array module, nothing is
recorded, and it costs what a hand-written backward costs. With
``backward(create_graph=True)`` or ``grad(..., create_graph=True)`` the
engine calls each Function's ``backward_graph`` instead: the same formulas
written with minitl operations on the input tensors, under grad mode, so the
gradients come with a graph of their own and can be differentiated again.
The engine's own steps (summing gradients, ``sum_to``, dtype casts) are
minitl operations too in that mode. A Function without ``backward_graph``
raises, naming itself, rather than give a silently wrong higher derivative.
"""
import heapq
import importlib
import itertools
import weakref

import numpy as np

from minitl import backend, grad_mode
from minitl.grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled

__all__ = ["Function", "Tensor", "clear_grads", "enable_grad", "grad", "inference_mode", "is_grad_enabled", "no_grad",
           "set_grad_enabled", "sum_to"]

Array = np.ndarray  # or a cupy.ndarray: what a Function's forward and backward compute on (type hints only)


def __getattr__(name):
    """``tl.autograd.functional`` (jacobian, hessian, vjp, jvp, hvp, vhp), imported on first use."""
    if name == "functional":
        return importlib.import_module("minitl.autograd.functional")
    raise AttributeError(f"module 'minitl.autograd' has no attribute {name!r}")


class Tensor:
    """An array with an optional gradient and a link to the Function that made it.

    Create tensors with ``minitl.tensor``, the factories or operations; this
    constructor wraps a backend array as it is (no copy, no dtype change).
    Arithmetic, reductions, shape ops, indexing and in-place methods are
    installed as methods by ``minitl.ops``; the Python protocols (bool, float,
    int, index, format, NumPy conversion) are here and behave as PyTorch's.
    """
    __slots__ = ("__weakref__", "_generation", "_version", "data", "grad", "grad_fn", "requires_grad")
    __array_priority__ = 1000  # numpy_array * tensor calls Tensor.__rmul__

    def __init__(self, data, requires_grad=False):
        if not backend.is_array(data):
            data = backend.get_array_module(data).asarray(data)  # NumPy scalars from reductions
        self.data = data
        self.grad = None
        self.requires_grad = requires_grad
        self.grad_fn = None
        self._generation = 0
        self._version = 0  # counts in-place changes, so backward can refuse values changed after use

    # -- plain properties -------------------------------------------------
    shape = property(lambda self: self.data.shape)
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    device = property(lambda self: backend.device_of(self.data))
    is_leaf = property(lambda self: self.grad_fn is None)

    def size(self, dim=None):
        """The shape, or the length of one dimension (as in PyTorch)."""
        return self.shape if dim is None else self.shape[dim]

    def numel(self):
        return self.data.size

    def dim(self):
        return self.data.ndim

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(len(self)))

    __hash__ = object.__hash__  # identity: tensors are dict keys (optimizer state); == is elementwise

    def __repr__(self):
        body = np.array2string(backend.to_numpy(self.data), separator=", ", prefix="tensor(")
        extras = []
        if self.dtype != np.float32 and self.dtype.kind == "f" or self.dtype.kind not in "fb":
            extras.append(f"dtype={self.dtype}")
        if self.device != backend.CPU:
            extras.append(f"device='{self.device}'")
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{type(self.grad_fn).__name__}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body] + extras) + ")"

    # -- Python protocols (PyTorch's rules) -----------------------------------
    def _one_value(self):
        if self.data.size != 1:
            raise ValueError(f"only one element tensors can be converted to Python scalars, got shape {self.shape}")
        return self.data.item()

    def __bool__(self):
        """``if loss < 0.1:``, ``max(a, b)``: the truth of a one-element tensor; ambiguous otherwise."""
        if self.data.size == 0:
            raise RuntimeError("Boolean value of Tensor with no values is ambiguous")
        if self.data.size > 1:
            raise RuntimeError(f"Boolean value of Tensor with more than one value is ambiguous "
                               f"(shape {self.shape}): use .any() or .all()")
        return bool(self.data.item())

    def __float__(self):
        return float(self._one_value())

    def __int__(self):
        return int(self._one_value())

    def __index__(self):
        """An integer tensor of one element used as an index (``items[t]``, ``range(t)``)."""
        if self.data.size != 1 or self.dtype.kind not in "iub":
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.data.item())

    def __format__(self, spec):
        """A 0-dim tensor formats as its value (``f"{loss:.3f}"``); others as their repr."""
        if self.ndim == 0:
            return format(self.data.item(), spec)
        return object.__format__(self, spec)

    def __array__(self, dtype=None, copy=None):
        """``np.asarray(t)``: the values (refused for tensors that require grad, as in PyTorch)."""
        if self.requires_grad:
            raise RuntimeError("Can't convert a tensor that requires grad to a NumPy array: "
                               "use tensor.detach().numpy() instead")
        array = backend.to_numpy(self.data)
        if dtype is not None and array.dtype != dtype:
            return array.astype(dtype)
        return array.copy() if copy else array

    # -- conversions --------------------------------------------------------
    def numpy(self):
        """The values as a host NumPy array (a copy from the GPU; shared on the CPU)."""
        if self.requires_grad:
            raise RuntimeError("numpy() of a tensor that requires grad: call .detach().numpy()")
        return backend.to_numpy(self.data)

    def item(self):
        """The single value as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self.data.item()

    def tolist(self):
        return backend.to_numpy(self.data).tolist()

    def detach(self):
        """A new tensor sharing the data, cut off from the graph."""
        return Tensor(self.data)

    def requires_grad_(self, flag=True):
        if flag and self.data.dtype.kind != "f":
            raise RuntimeError(f"only floating-point tensors can require grad, got dtype {self.dtype}")
        self.requires_grad = flag
        return self

    # -- backpropagation ----------------------------------------------------
    def retain_grad(self):
        """Keep this non-leaf tensor's gradient in ``.grad`` during backward (leaves always keep theirs)."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on a tensor that has requires_grad=False")
        if self.grad_fn is not None:
            self.grad_fn.retained_output = weakref.ref(self)

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
            raise TypeError(f"{type(fn).__name__}.backward_graph returned a {type(gx).__name__} as the gradient "
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
    grads = fn.backward_graph(gy) if create_graph else fn.backward(gy)
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
        tensor.grad = grad.clone() if tensor.grad is None else tensor.grad + grad
    elif tensor.grad is None:
        tensor.grad = Tensor(grad.copy())
    else:
        tensor.grad.data += grad


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
            self._arrive(x, gx)

    def output_of(self, fn, gy):
        """The total gradient of fn's output, which a target or a retain_grad() tensor may want."""
        target = self.by_function.get(id(fn))
        if target is not None:
            self._arrive(target, gy)
        elif self.targets is None and fn.retained_output is not None and fn.retained_output() is not None:
            _accumulate(fn.retained_output(), gy)

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
    arrays: nothing is recorded, as fast as a hand-written backward. With
    create_graph=True, ``backward_graph`` runs instead: the same formulas
    written with minitl operations on tensors, recorded like any forward
    pass, so the gradients have a graph of their own.
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
    with grad_mode.set_grad_enabled(create_graph):
        while heap:
            fn = heapq.heappop(heap)[2]
            if fn.inputs is None:
                raise RuntimeError("backward() through a graph that was already freed: "
                                   "pass retain_graph=True to the first backward() to call it twice")
            gy = pending.pop(id(fn))
            if destinations.by_function or fn.retained_output is not None:
                destinations.output_of(fn, gy)
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


class Function:
    """One differentiable operation. Subclasses define ``forward`` and ``backward``.

    ``forward(*arrays)`` returns one array; ``backward(gy)`` returns a tuple
    with one gradient array (or None) per input (a bare array is accepted for
    one input). A gradient may have the broadcast shape or another dtype: the
    engine sums it back and casts it to the input. ``self.needs_input_grad``
    tells backward which inputs need a gradient, so expensive ones can be
    skipped (e.g. the input of the first convolution).

    When recording, a Function keeps its input tensors, the Functions that
    made them (``producers``, fixed now even if an input is later changed in
    place) and their versions (to refuse values changed in place before
    backward).

    For higher derivatives (``create_graph=True``) a Function also defines
    ``backward_graph(gy)``: the same formulas on Tensors, with minitl
    operations on ``self.inputs``, so that the backward pass is itself
    recorded. A Function without it refuses create_graph, naming itself.
    """
    inputs = None
    producers = None
    generation = 0
    retained_output = None

    def __call__(self, *inputs):
        arrays = [x.data if isinstance(x, Tensor) else _not_a_tensor(self, inputs) for x in inputs]
        if len(arrays) > 1 and any(type(a) is not type(arrays[0]) for a in arrays):
            _raise_device_mismatch(type(self).__name__, inputs)
        output = Tensor(self.forward(*arrays))
        if (grad_mode.is_grad_enabled() and any(x.requires_grad for x in inputs)
                and output.data.dtype.kind == "f"):  # integer and bool results have no gradient
            output.requires_grad = True
            self.inputs = inputs
            self.producers = [x.grad_fn for x in inputs]
            self.input_versions = [x._version for x in inputs]
            self.needs_input_grad = tuple([x.requires_grad for x in inputs])
            self.generation = max(x._generation for x in inputs)
            output.grad_fn = self
            output._generation = self.generation + 1
        return output

    def forward(self, *xs: Array) -> Array:
        raise NotImplementedError

    def backward(self, gy: Array) -> Array | tuple[Array | None, ...]:
        raise NotImplementedError

    def backward_graph(self, gy: "Tensor") -> "Tensor | tuple[Tensor | None, ...]":
        raise RuntimeError(f"{type(self).__name__} has no double backward yet: create_graph=True cannot "
                           f"differentiate through it (its gradient would be a constant, so a higher derivative "
                           f"would be wrong)")


def _not_a_tensor(function, inputs):
    index, x = next((i, x) for i, x in enumerate(inputs) if not isinstance(x, Tensor))
    raise TypeError(f"{type(function).__name__}: input {index} is a {type(x).__name__}, not a Tensor: "
                    f"wrap it with tl.tensor(...)")


def _raise_device_mismatch(op_name, tensors):
    devices = {x.device for x in tensors}
    raise RuntimeError(f"{op_name}: tensors are on different devices ({' and '.join(sorted(devices))}); "
                       "move them with .to(device) first")
