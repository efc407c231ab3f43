"""Edges of the autograd core that mutation testing found unchecked (docs/testing.md lists the mutants)."""
import numpy as np

import minitl as tl
from minitl.autograd import Function


class RoundToInt(Function):
    """An integer result: no gradient flows through it, whatever its inputs require."""

    def forward(self, x):
        return x.round().astype(np.int64)


def test_integer_results_of_a_tensor_that_requires_grad_do_not_require_grad():
    x = tl.tensor([1.5, -2.0, 3.0], requires_grad=True)
    rounded = RoundToInt()(x)
    assert rounded.dtype == tl.int64 and not rounded.requires_grad and rounded.grad_fn is None
    assert not x.argmax().requires_grad  # int64, as in PyTorch
    assert not x.detach().to(dtype=tl.int64).requires_grad
    assert (x * 2).requires_grad


def test_asarray_keeps_the_dtype_unless_asked():
    t = tl.tensor([1.0, 2.0])
    assert np.asarray(t).dtype == np.float32
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
