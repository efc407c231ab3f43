"""Function: one differentiable operation, and how calling it records the graph.

A Function has two methods, each written once:

    forward(*xs)  -> y          compute the output from arrays; save what backward needs
    backward(gy)  -> (gx, ...)  given dL/dy, return dL/dx for every input

Calling a Function on tensors runs ``forward`` on their arrays and, when
recording (grad mode on and some input requires grad), links the graph: the
output remembers its ``grad_fn`` (this Function), the Function remembers its
inputs and the Functions that made them, and nothing points back from a
Function to its output. With no reference cycles, a graph is freed as soon as
the last tensor of it goes away.

One formula for every order. ``forward`` keeps the values its backward needs
with ``self.save_for_backward(...)``; ``backward`` reads them from
``self.saved_tensors``. In an ordinary (first-order) backward these are the
arrays themselves and ``gy`` is an array: the formula runs on NumPy/CuPy,
nothing is recorded, and it costs what a hand-written backward costs. Under
``create_graph=True`` the engine turns recording on, ``gy`` is a Tensor, and
``saved_tensors`` gives Tensors instead (an input as the input tensor, the
output recomputed from the inputs, anything else as a constant): the very
same formula is then recorded like a forward pass, so the gradients can be
differentiated again. Where a formula needs a function rather than an
operator (cos, exp, where), ``autograd.either`` has the few that take an
array or a Tensor; where it is another Function (indexing's gradient is a
scatter), ``Function.on`` runs it on either.
"""
import copy
import inspect

from minitl import backend, grad_mode
from minitl.autograd.tensor import Array, Tensor

__all__ = ["Function"]

_INPUT, _OUTPUT, _CONSTANT = "input", "output", "constant"  # what a saved value is to the graph


class Function:
    """One differentiable operation. Subclasses define ``forward`` and ``backward``.

    ``forward(*arrays)`` returns one array; ``backward(gy)`` returns a tuple
    with one gradient (or None) per input (a bare gradient is accepted for one
    input). A gradient may have the broadcast shape or another dtype: the
    engine sums it back and casts it to the input. ``self.needs_input_grad``
    tells backward which inputs need a gradient, so expensive ones can be
    skipped (e.g. the input of the first convolution).

    When recording, a Function keeps its input tensors, the Functions that
    made them (``producers``, fixed now even if an input is later changed in
    place) and their versions (to refuse values changed in place before
    backward).
    """
    inputs = None
    producers = None
    generation = 0
    retained_output = None  # a weak reference to the output, when it called retain_grad()
    tensor_hooks = None  # the output's gradient hooks (Tensor.register_hook), in registration order
    saved = ()  # what forward saved for backward (arrays), and below what each one is to the graph
    saved_kinds = ()

    def __call__(self, *inputs):
        arrays = [x.data if isinstance(x, Tensor) else _not_a_tensor(self, inputs) for x in inputs]
        if len(arrays) > 1 and any(type(a) is not type(arrays[0]) for a in arrays):
            _raise_device_mismatch(type(self).__name__, inputs)
        result = self.forward(*arrays)  # an array (a NumPy scalar from a full reduction: Tensor wraps it)
        output = Tensor(result)
        if (grad_mode.is_grad_enabled() and any(x.requires_grad for x in inputs)
                and output.data.dtype.kind == "f"):  # integer and bool results have no gradient
            output.requires_grad = True
            self.inputs = inputs
            self.producers = [x.grad_fn for x in inputs]
            self.input_versions = [x._version for x in inputs]
            self.needs_input_grad = tuple([x.requires_grad for x in inputs])
            self.generation = max(x._generation for x in inputs)
            self.saved_kinds = tuple(_kind_of(value, arrays, result) for value in self.saved)
            self.output_id = id(output.data)  # an id, not a reference: the output's array may go
            output.grad_fn = self
            output._generation = self.generation + 1
        return output

    @classmethod
    def apply(cls, *args):
        """``F.apply(x, ...)``: PyTorch's way to call a Function. For a class in PyTorch's style (static
        ``forward(ctx, ...)``/``backward(ctx, grad)``, see ctx.py) the node is a CtxFunction; for minitl's own
        style it is ``F()(x, ...)``."""
        if isinstance(inspect.getattr_static(cls, "forward"), staticmethod):
            from minitl.autograd.ctx import node_class  # ctx.py builds on this module
            return node_class(cls)(cls, args)(*[a for a in args if isinstance(a, Tensor)])
        return cls()(*args)

    def name(self):
        """The node's name as PyTorch prints it, ``MulBackward0`` (a Function named like its Module drops the
        suffix: ``GELUFunction`` is ``GELUBackward0``)."""
        stem = type(self).__name__
        return stem.removesuffix("Function") + "Backward0" if stem != "Function" else "FunctionBackward0"

    @property
    def next_functions(self):
        """One (node, 0) pair per input, as PyTorch's: the Function that made it, an AccumulateGrad for a leaf
        that requires grad, or None for a constant. What the tutorials walk to print the chain of Functions."""
        if self.inputs is None:
            raise RuntimeError(f"{self.name()}'s graph was freed by backward(): walk it before, or call "
                               f"backward(retain_graph=True)")
        return tuple((producer if producer is not None else AccumulateGrad(x) if x.requires_grad else None, 0)
                     for x, producer in zip(self.inputs, self.producers))

    def __repr__(self):
        return f"<{self.name()} object at {id(self):#x}>"

    def forward(self, *xs: Array) -> Array:
        raise NotImplementedError

    def backward(self, gy: "Array | Tensor") -> "Array | Tensor | tuple":
        raise NotImplementedError

    def on(self, *values):
        """This Function inside another one's backward formula: its forward on arrays (first order), the
        recorded op on Tensors (create_graph). E.g. indexing's gradient is a scatter, whose gradient is indexing."""
        return self(*values) if isinstance(values[0], Tensor) else self.forward(*values)

    def save_for_backward(self, *values):
        """Keep arrays for backward (inputs, the output or anything computed from them), read back by
        ``saved_tensors``."""
        self.saved = values

    @property
    def saved_tensors(self):
        """The values forward saved: arrays in a first-order backward; under create_graph, tensors that
        carry the graph (an input as its tensor, the output recomputed from the inputs, others constant)."""
        if not grad_mode.is_grad_enabled():
            return self.saved
        recomputed = None
        values = []
        for kind, value in zip(self.saved_kinds, self.saved):
            if kind == _OUTPUT:
                if recomputed is None:  # the same Function again on the input tensors: y with a graph to x
                    recomputed = copy.copy(self)(*self.inputs)
                value = recomputed
            elif kind != _CONSTANT:
                value = self.inputs[kind[1]]
            values.append(value)
        return tuple(values)

    def check_graph_safe(self):
        """Refuse create_graph when an input's or the output's array was kept as an attribute (``self.x = x``)
        rather than saved: backward would treat it as a constant, and a higher derivative would be wrong."""
        differentiable = {id(x.data) for x in self.inputs} | {self.output_id}
        for name, value in vars(self).items():
            if backend.is_array(value) and id(value) in differentiable:
                raise RuntimeError(f"{type(self).__name__} has no double backward yet: it keeps self.{name} as "
                                   f"an array, a constant to create_graph (so a higher derivative would be wrong); "
                                   f"keep it with self.save_for_backward(...) and read self.saved_tensors instead")


class AccumulateGrad:
    """Where a leaf's gradient is added into its ``.grad``: the node PyTorch shows at a leaf in
    ``next_functions`` (``.variable`` is the leaf). minitl's engine does this itself; this object only names it."""
    next_functions = ()

    def __init__(self, variable):
        self.variable = variable

    def name(self):
        return "torch::autograd::AccumulateGrad"

    def __repr__(self):
        return f"<AccumulateGrad object at {id(self):#x}>"


def _kind_of(value, arrays, output):
    """What a saved value is to the graph: an input (with its position), the output, or a constant."""
    if value is output:
        return _OUTPUT
    for index, array in enumerate(arrays):
        if value is array:
            return _INPUT, index
    return _CONSTANT


def _not_a_tensor(function, inputs):
    index, x = next((i, x) for i, x in enumerate(inputs) if not isinstance(x, Tensor))
    raise TypeError(f"{type(function).__name__}: input {index} is a {type(x).__name__}, not a Tensor: "
                    f"wrap it with tl.tensor(...)")


def _raise_device_mismatch(op_name, tensors):
    devices = {x.device for x in tensors}
    raise RuntimeError(f"{op_name}: tensors are on different devices ({' and '.join(sorted(devices))}); "
                       "move them with .to(device) first")
