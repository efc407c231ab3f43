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
from minitl.autograd import Function, Tensor
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
