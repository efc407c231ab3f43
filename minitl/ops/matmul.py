"""Matrix product with NumPy's ``@`` rules (batched, broadcasting, 1-D vectors).

For C = A @ B:  dA = dC @ B^T  and  dB = A^T @ dC  (transposing the last two
axes); the engine sums them back over broadcast batch axes. A 1-D operand is
treated as a row (left) or column (right) matrix, whose extra axis ``@``
drops; the backward puts that axis back into dC first and removes it from
the gradient after.

As in PyTorch, two tensors must have the same dtype (no promotion); a NumPy
array operand is converted and promoted (PyTorch does so too).
"""
from minitl import backend
from minitl.autograd import Function, Tensor, either
from minitl.ops.promotion import promote


class MatMul(Function):
    """y = a @ b;  da = gy @ b^T, db = a^T @ gy."""

    def forward(self, a, b):
        self.save_for_backward(a, b)
        return a @ b

    def backward(self, gy):
        a, b = self.saved_tensors
        a_is_row, b_is_column = a.ndim == 1, b.ndim == 1
        if b_is_column:  # y lost its last axis
            b, gy = b[:, None], gy[..., None]
        if a_is_row:  # y lost its second-to-last axis
            a, gy = a[None, :], gy[..., None, :]
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = gy @ b.swapaxes(-1, -2)
            ga = ga[..., 0, :] if a_is_row else ga
        if self.needs_input_grad[1]:
            gb = a.swapaxes(-1, -2) @ gy
            gb = gb[..., 0] if b_is_column else gb
        return ga, gb


def matmul(a, b):
    if backend.is_array(a) or backend.is_array(b):  # PyTorch accepts an ndarray here, and promotes it
        a, b = promote("matmul", a, b)
    for name, operand in (("first", a), ("second", b)):
        if not isinstance(operand, Tensor):
            raise TypeError(f"matmul: the {name} operand is a {type(operand).__name__}, not a Tensor: "
                            f"wrap it with tl.tensor(...)")
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul needs tensors with at least 1 dimension, got shapes {a.shape} and {b.shape}")
    if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not align "
                         f"({a.shape[-1]} != {b.shape[-2 if b.ndim > 1 else 0]})")
    if a.dtype != b.dtype:
        raise RuntimeError(f"matmul: expected both operands to have the same dtype, but got {a.dtype} and {b.dtype}: "
                           f"convert one with .to({a.dtype}) or .to({b.dtype})")
    return MatMul()(a, b)


def mm(a, b):
    """The product of two matrices (2-D only, ``torch.mm``)."""
    if a.ndim != 2 or b.ndim != 2:
        raise RuntimeError(f"mm(): expected 2-D tensors, got shapes {a.shape} and {b.shape}")
    return matmul(a, b)


def bmm(a, b):
    """Batched matrix products of two 3-D tensors with the same batch size (``torch.bmm``)."""
    if a.ndim != 3 or b.ndim != 3 or a.shape[0] != b.shape[0]:
        raise RuntimeError(f"bmm(): expected 3-D tensors with the same batch size, got shapes {a.shape} and {b.shape}")
    return matmul(a, b)


def outer(a, b):
    """The outer product of two vectors: y[i, j] = a[i] * b[j]."""
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(f"outer(): expected 1-D tensors, got shapes {a.shape} and {b.shape}")
    return a.reshape(-1, 1) * b.reshape(1, -1)


class Einsum(Function):
    """y = einsum(equation, *xs);  dx_k = einsum of gy with the other inputs, written to x_k's letters.

    The letters of x_k that appear nowhere else were summed over in forward: their gradient is gy's
    broadcast along them. A letter repeated within one input (a diagonal, 'ii->i') is not supported.
    """

    def __init__(self, inputs, output):
        self.input_letters, self.output = inputs, output

    def forward(self, *xs):
        self.shapes = [x.shape for x in xs]
        self.save_for_backward(*xs)
        equation = ",".join(self.input_letters) + "->" + self.output
        return backend.get_array_module(*xs).einsum(equation, *xs)

    def backward(self, gy):
        xs = self.saved_tensors
        grads = []
        for k, letters in enumerate(self.input_letters):
            if not self.needs_input_grad[k]:
                grads.append(None)
                continue
            others = [x for i, x in enumerate(xs) if i != k]
            other_letters = [s for i, s in enumerate(self.input_letters) if i != k]
            known = set(self.output).union(*other_letters)
            kept = "".join(c for c in letters if c in known)
            g = Einsum([self.output, *other_letters], kept).on(gy, *others)
            shape = [self.shapes[k][i] if c in known else 1 for i, c in enumerate(letters)]
            grads.append(either.broadcast_to(g.reshape(shape), self.shapes[k]))
        return tuple(grads)


def einsum(equation, *operands):
    """Einstein summation as ``torch.einsum('ij,jk->ik', a, b)`` (operands also as one list)."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    equation = equation.replace(" ", "")
    if "..." in equation:
        raise NotImplementedError("einsum(): '...' is not supported in minitl; name every dimension")
    inputs, _, output = equation.partition("->")
    inputs = inputs.split(",")
    if not _:  # implicit output: the letters used once, in alphabetical order
        letters = "".join(inputs)
        output = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    if len(inputs) != len(operands):
        raise ValueError(f"einsum(): the equation names {len(inputs)} operands, got {len(operands)}")
    for letters, x in zip(inputs, operands):
        if len(set(letters)) != len(letters):
            raise NotImplementedError(f"einsum(): a letter repeated within one operand ({letters!r}) is not "
                                      f"supported in minitl")
        if len(letters) != x.ndim:
            raise RuntimeError(f"einsum(): the subscript {letters!r} has {len(letters)} letters for an operand "
                               f"with {x.ndim} dimensions")
    return Einsum(inputs, output)(*promote("einsum", *operands))
