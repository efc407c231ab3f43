"""Matrix product with NumPy's ``@`` rules (batched, broadcasting, 1-D vectors).

For C = A @ B:  dA = dC @ B^T  and  dB = A^T @ dC  (transposing the last two
axes), then summed back over broadcast batch axes. A 1-D operand is treated
as a row (left) or column (right) matrix, whose extra axis ``@`` drops; the
backward puts that axis back into dC first.
"""
from minitl.autograd import Function
from minitl.ops.arithmetic import sum_to


def _swap_last(m):
    return m.swapaxes(-1, -2)


class MatMul(Function):
    """y = a @ b;  da = gy @ b^T, db = a^T @ gy."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return a @ b

    def backward(self, gy):
        a, b = self.a, self.b
        if b.ndim == 1:  # b was a column: y lost its last axis
            b, gy = b[:, None], gy[..., None]
        if a.ndim == 1:  # a was a row: y lost its second-to-last axis
            a, gy = a[None, :], gy[..., None, :]
        ga = sum_to(gy @ _swap_last(b), a.shape).reshape(self.a.shape) if self.needs_input_grad[0] else None
        gb = sum_to(_swap_last(a) @ gy, b.shape).reshape(self.b.shape) if self.needs_input_grad[1] else None
        return ga, gb


def matmul(a, b):
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul needs tensors with at least 1 dimension, got shapes {a.shape} and {b.shape}")
    if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not align "
                         f"({a.shape[-1]} != {b.shape[-2 if b.ndim > 1 else 0]})")
    return MatMul()(a, b)
