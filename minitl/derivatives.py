"""Derivatives of whole functions, ``torch.autograd.functional``'s API: vjp, jvp, jacobian, hessian, hvp, vhp.

Reached as ``tl.autograd.functional`` (PyTorch's path); it lives above ops, since it stacks rows with them.

All are built from ``autograd.grad``. For a function f of tensors:

    vjp: v^T J          one backward pass
    jvp: J u            the "double vjp" trick: g(w) = w^T J is linear in w, so J u = d(g(w) . u)/dw
    jacobian: J         one vjp per output element (rows)
    hvp: H v, vhp: v^T H   (H symmetric, so equal) the vjp of the gradient
    hessian: H          the Jacobian of the gradient

`inputs` is a tensor or a tuple of tensors; results follow it (a tensor for
a tensor, tuples for tuples), as in PyTorch. The function sees copies that
require grad, so the caller's tensors are untouched. With
``create_graph=False`` the results carry no graph; with ``create_graph=True``
a copy of an input that requires grad stays on the caller's graph (a reshape
of it, PyTorch's ``view_as``), so the results can be differentiated with
respect to the caller's tensors: a third derivative from ``hessian``. An input the output does
not depend on gets zeros, or an error with ``strict=True``. ``vectorize`` is
accepted and ignored (the rows are computed one by one).
"""

from minitl.autograd import Tensor, enable_grad, grad
from minitl.ops.shape import stack


def _prepared(inputs, create_graph):
    """(is a tuple, copies of the inputs that require grad: on the caller's graph under create_graph)."""
    is_tuple = isinstance(inputs, (tuple, list))
    tensors = tuple(inputs) if is_tuple else (inputs,)
    for i, x in enumerate(tensors):
        if not isinstance(x, Tensor):
            raise TypeError(f"input {i} is a {type(x).__name__}, not a Tensor")
    return is_tuple, tuple(x.reshape(x.shape) if create_graph and x.requires_grad else Tensor(x.data).requires_grad_(True)
                           for x in tensors)


def _as_tuple(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def _grads(outputs, inputs, grad_outputs, create_graph, strict=False):
    """autograd.grad giving zeros (not None) for inputs the outputs do not depend on (an error if strict)."""
    used = [(y, v) for y, v in zip(outputs, grad_outputs) if y.requires_grad]
    grads = (None,) * len(inputs)
    if used:
        grads = grad([y for y, _ in used], inputs, [v for _, v in used], retain_graph=True,
                     create_graph=create_graph, allow_unused=True)
    if strict and any(g is None for g in grads):
        raise RuntimeError("the output is independent of an input (strict=True): its derivative is all zeros")
    return tuple(g if g is not None else x.detach() * 0 for g, x in zip(grads, inputs))


def _finished(values, is_tuple, create_graph):
    values = tuple(v if create_graph else v.detach() for v in values)
    return values if is_tuple else values[0]


def _checked_vectors(v, like, name):
    vectors = _as_tuple(v)
    if len(vectors) != len(like) or any(a.shape != b.shape for a, b in zip(vectors, like)):
        raise ValueError(f"{name}: v must have the shapes {[t.shape for t in like]}, got "
                         f"{[getattr(t, 'shape', None) for t in vectors]}")
    return vectors


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T J): v has the output's shape (may be omitted for a one-element output)."""
    is_tuple, inputs = _prepared(inputs, create_graph)
    with enable_grad():
        outputs = _as_tuple(func(*inputs))
        vectors = (None,) * len(outputs) if v is None else _checked_vectors(v, outputs, "vjp")
        result = _grads(outputs, inputs, vectors, create_graph, strict)
    return _finished(outputs, len(outputs) > 1, create_graph), _finished(result, is_tuple, create_graph)


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), J v): v has the inputs' shapes (may be omitted for one-element inputs)."""
    is_tuple, inputs = _prepared(inputs, create_graph)
    tangents = tuple(Tensor(x.data * 0 + 1) for x in inputs) if v is None else _checked_vectors(v, inputs, "jvp")
    with enable_grad():
        outputs = _as_tuple(func(*inputs))
        dummies = tuple(Tensor(y.data * 0).requires_grad_(True) for y in outputs)  # w: J^T w is linear in w
        transposed = _grads(outputs, inputs, dummies, create_graph=True, strict=strict)
        result = _grads(transposed, dummies, tangents, create_graph)
    return _finished(outputs, len(outputs) > 1, create_graph), _finished(result, len(outputs) > 1, create_graph)


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"):
    """d output / d input, of shape output.shape + input.shape (tuples of them for tuples, as PyTorch)."""
    if strategy != "reverse-mode":
        raise ValueError(f"jacobian: only strategy='reverse-mode' is implemented, got {strategy!r}")
    is_tuple, inputs = _prepared(inputs, create_graph)
    with enable_grad():
        outputs = _as_tuple(func(*inputs))
        per_output = []
        for y in outputs:
            rows = [[] for _ in inputs]
            for k in range(y.numel()):
                one_hot = Tensor(y.data.reshape(-1) * 0)
                one_hot.data[k] = 1
                for row, g in zip(rows, _grads((y,), inputs, (one_hot.reshape(y.shape),), create_graph, strict)):
                    row.append(g)
            per_output.append(tuple(_stacked(row, y, x) for row, x in zip(rows, inputs)))
    per_output = [_finished(blocks, True, create_graph) for blocks in per_output]
    if not is_tuple:
        per_output = [blocks[0] for blocks in per_output]
    return tuple(per_output) if len(outputs) > 1 else per_output[0]


def _stacked(rows, y, x):
    return stack(rows).reshape(y.shape + x.shape)


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False, outer_jacobian_strategy="reverse-mode"):
    """d^2 func / d input^2 for a function with one-element output: shape input.shape + input.shape."""
    is_tuple, inputs = _prepared(inputs, create_graph)

    def gradient(*xs):
        y = func(*xs)
        if y.numel() != 1:
            raise RuntimeError(f"hessian: the function must return one element, got shape {y.shape}")
        return _grads((y,), xs, (None,), create_graph=True, strict=strict)

    blocks = jacobian(gradient, inputs, create_graph=create_graph, strategy=outer_jacobian_strategy)
    if len(inputs) == 1:
        blocks = (blocks,)  # one gradient, so jacobian returned its row of blocks alone
    return blocks if is_tuple else blocks[0][0]


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T H) for a function with one-element output."""
    is_tuple, inputs = _prepared(inputs, create_graph)
    vectors = _checked_vectors(v, inputs, "vhp") if v is not None else tuple(Tensor(x.data * 0 + 1) for x in inputs)
    with enable_grad():
        y = func(*inputs)
        if y.numel() != 1:
            raise RuntimeError(f"vhp/hvp: the function must return one element, got shape {y.shape}")
        gradients = _grads((y,), inputs, (None,), create_graph=True, strict=strict)
        result = _grads(gradients, inputs, vectors, create_graph)
    return _finished((y,), False, create_graph), _finished(result, is_tuple, create_graph)


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), H v): equal to vhp, since a Hessian is symmetric."""
    return vhp(func, inputs, v, create_graph, strict)


__all__ = ["hessian", "hvp", "jacobian", "jvp", "vhp", "vjp"]
