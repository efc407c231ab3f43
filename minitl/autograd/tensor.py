"""The Tensor: an array, an optional gradient, and a link to the Function that made it.

A ``Tensor`` wraps a backend array (``.data``: NumPy or CuPy). Three fields
tie it into autograd:

    requires_grad   whether gradients should flow to it
    grad_fn         the Function whose output it is (None for a leaf: a tensor you made)
    grad            its gradient after backward() (leaves, and tensors that called retain_grad())

How a Function records the graph is in ``function.py``; how ``backward()``
walks it back is in ``engine.py``. The arithmetic, reductions, shape ops and
in-place methods are installed on Tensor by ``minitl.ops``; the Python
protocols (bool, float, int, index, format, NumPy conversion) are here and
behave as PyTorch's.
"""
import warnings
import weakref

import numpy as np

from minitl import backend

__all__ = ["Array", "Tensor"]

Array = np.ndarray  # or a cupy.ndarray: what a Function's forward and backward compute on (type hints only)


class Tensor:
    """An array with an optional gradient and a link to the Function that made it.

    Create tensors with ``minitl.tensor``, the factories or operations; this
    constructor wraps a backend array as it is (no copy, no dtype change).
    Arithmetic, reductions, shape ops, indexing and in-place methods are
    installed as methods by ``minitl.ops``; the Python protocols (bool, float,
    int, index, format, NumPy conversion) are here and behave as PyTorch's.
    """
    __slots__ = ("__weakref__", "_generation", "_grad", "_hooks", "_version", "data", "grad_fn", "requires_grad")
    __array_priority__ = 1000  # numpy_array * tensor calls Tensor.__rmul__

    def __init__(self, data, requires_grad=False):
        if not backend.is_array(data):
            data = backend.get_array_module(data).asarray(data)  # NumPy scalars from reductions
        self.data = data
        self._grad = None
        self._hooks = None  # a leaf's gradient hooks (register_hook); a non-leaf's are on its grad_fn
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

    @property
    def grad(self):
        """The gradient backward() accumulated (leaves, and tensors that called retain_grad()), else None.

        Reading it empty on any other tensor warns, as PyTorch does: backward() fills it there only when
        asked (``backward(inputs=...)``).
        """
        if self._grad is None and self.grad_fn is not None and not self.retains_grad:
            warnings.warn(_NON_LEAF_GRAD, UserWarning, stacklevel=2)
        return self._grad

    @grad.setter
    def grad(self, value):
        self._grad = value

    @property
    def retains_grad(self):
        """True for a non-leaf tensor whose gradient backward() keeps (it called retain_grad())."""
        retained = self.grad_fn.retained_output if self.grad_fn is not None else None
        return retained is not None and retained() is self

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
            extras.append(f"grad_fn=<{self.grad_fn.name()}>")
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

    def register_hook(self, hook):
        """Call ``hook(grad)`` with this tensor's gradient during backward; a Tensor it returns replaces the
        gradient (for what flows on and for ``.grad``). Returns a handle: ``handle.remove()`` removes the hook."""
        from minitl.autograd.hooks import RemovableHandle  # hooks.py builds on this module
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is None:
            self._hooks = {} if self._hooks is None else self._hooks
            return RemovableHandle(self._hooks, hook)
        if self.grad_fn.tensor_hooks is None:
            self.grad_fn.tensor_hooks = {}
        return RemovableHandle(self.grad_fn.tensor_hooks, hook)

    # backward() is the engine's: engine.py installs it here (the walk over the graph has a file of its own).


_NON_LEAF_GRAD = ("The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad attribute "
                  "won't be populated during autograd.backward(). If you indeed want the .grad field to be populated "
                  "for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor. If you access the non-leaf "
                  "Tensor by mistake, make sure you access the leaf Tensor instead.")
