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
Gradients accumulate into the ``.grad`` of leaf tensors; intermediate
gradients are dropped once used.
"""
import contextlib
import heapq
import itertools

import numpy as np

from minitl import backend

_grad_enabled = True


def is_grad_enabled():
    """True when operations on tensors are being recorded for backward."""
    return _grad_enabled


@contextlib.contextmanager
def _grad_mode(enabled):
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, enabled
    try:
        yield
    finally:
        _grad_enabled = previous


def no_grad():
    """Context manager: run operations without recording a graph (evaluation, updates)."""
    return _grad_mode(False)


def enable_grad():
    """Context manager: record the graph again inside a ``no_grad`` block."""
    return _grad_mode(True)


class Tensor:
    """An array with an optional gradient and a link to the Function that made it.

    Create tensors with ``minitl.tensor``, the factories or operations; this
    constructor wraps a backend array as it is (no copy, no dtype change).
    Arithmetic, reductions, shape ops and indexing are installed as methods by
    ``minitl.ops``.
    """
    __slots__ = ("data", "grad", "requires_grad", "grad_fn", "_generation", "__weakref__")
    __array_priority__ = 1000  # numpy_array * tensor calls Tensor.__rmul__

    def __init__(self, data, requires_grad=False):
        if not backend.is_array(data):
            data = backend.get_array_module(data).asarray(data)  # NumPy scalars from reductions
        self.data = data
        self.grad = None
        self.requires_grad = requires_grad
        self.grad_fn = None
        self._generation = 0

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

    def __len__(self):
        return len(self.data)

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

    def zero_(self):
        """Fill with zeros in place (for buffers and gradients, not graph values)."""
        self.data[...] = 0
        return self

    # -- backpropagation ----------------------------------------------------
    def backward(self, grad=None, retain_graph=False):
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

        ``grad`` is dL/d(self); it may be omitted only for a one-element tensor
        (then it is 1). ``retain_graph=True`` keeps the graph for another call.
        """
        if not self.requires_grad:
            raise RuntimeError("backward() on a tensor that does not require grad "
                               "(no input had requires_grad=True, or it was made under no_grad)")
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(f"backward() without a grad argument needs a one-element tensor, "
                                   f"got shape {self.shape}: pass grad=, or reduce first (e.g. .sum())")
            grad = backend.get_array_module(self.data).ones_like(self.data)
        else:
            grad = grad.data if isinstance(grad, Tensor) else grad
            if grad.shape != self.shape:
                raise ValueError(f"backward(): grad has shape {grad.shape}, expected {self.shape}")
        if self.grad_fn is None:
            _accumulate(self, grad)
            return
        _run_backward(self, grad, retain_graph)


def _accumulate(leaf, grad):
    """leaf.grad += grad (out of place, since `grad` may be shared with other tensors)."""
    if grad.shape != leaf.shape or grad.dtype != leaf.dtype:
        raise RuntimeError(f"internal error: gradient {grad.shape} {grad.dtype} does not match "
                           f"tensor {leaf.shape} {leaf.dtype}")
    if leaf.grad is None:
        leaf.grad = Tensor(grad)
    else:
        leaf.grad.data = leaf.grad.data + grad


def _run_backward(root, grad, retain_graph):
    # Gradients waiting to flow back, keyed by the Function whose output they belong to
    # (each Function has one output, so its id names that output too).
    pending = {id(root.grad_fn): grad}
    order = itertools.count()  # tie-breaker: heapq never compares Functions
    heap = [(-root.grad_fn.generation, next(order), root.grad_fn)]
    while heap:
        fn = heapq.heappop(heap)[2]
        if fn.inputs is None:
            raise RuntimeError("backward() through a graph that was already freed: "
                               "pass retain_graph=True to the first backward() to call it twice")
        grads = fn.backward(pending.pop(id(fn)))
        for x, gx in zip(fn.inputs, grads):
            if gx is None or not x.requires_grad:
                continue
            producer = x.grad_fn
            if producer is None:
                _accumulate(x, gx)
            elif id(producer) in pending:
                pending[id(producer)] = pending[id(producer)] + gx
            else:
                pending[id(producer)] = gx
                heapq.heappush(heap, (-producer.generation, next(order), producer))
        if not retain_graph:
            fn.inputs = None  # drop the upstream graph (and its arrays) as soon as it is used


class Function:
    """One differentiable operation. Subclasses define ``forward`` and ``backward``.

    ``forward(*arrays)`` returns one array; ``backward(gy)`` returns a tuple
    with one gradient array (or None) per input. ``self.needs_input_grad``
    tells backward which inputs need a gradient, so expensive ones can be
    skipped (e.g. the input of the first convolution).
    """
    inputs = None
    generation = 0

    def __call__(self, *inputs):
        arrays = [x.data for x in inputs]
        if len(arrays) > 1 and any(type(a) is not type(arrays[0]) for a in arrays):
            _raise_device_mismatch(type(self).__name__, inputs)
        y = self.forward(*arrays)
        needs_grad = _grad_enabled and any(x.requires_grad for x in inputs)
        output = Tensor(y, requires_grad=needs_grad)
        if needs_grad:
            self.inputs = inputs
            self.needs_input_grad = tuple(x.requires_grad for x in inputs)
            self.generation = max(x._generation for x in inputs)
            output.grad_fn = self
            output._generation = self.generation + 1
        return output

    def forward(self, *xs):
        raise NotImplementedError

    def backward(self, gy):
        raise NotImplementedError


def _raise_device_mismatch(op_name, tensors):
    devices = {x.device for x in tensors}
    raise RuntimeError(f"{op_name}: tensors are on different devices ({' and '.join(sorted(devices))}); "
                       "move them with .to(device) first")
