"""Edges of the autograd core that mutation testing found unchecked (docs/testing.md lists the mutants)."""
import numpy as np
import pytest

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


class TwoInputsOneGradient(Function):
    """y = a + b, whose backward (wrongly) returns one gradient for its two inputs."""

    def forward(self, a, b):
        return a + b

    def backward(self, gy):
        return gy


class GradientOfAnotherShape(Function):
    """y = 2x for x of shape (2,), whose backward returns a gradient of shape (3,): no broadcast gives (2,)."""

    def forward(self, x):
        return 2 * x

    def backward(self, gy):
        return (np.ones(3),)


def test_a_backward_returning_one_gradient_for_two_inputs_is_refused_by_name():
    a, b = tl.tensor([1.0], requires_grad=True), tl.tensor([2.0], requires_grad=True)
    with pytest.raises(TypeError, match="TwoInputsOneGradient.backward returned one ndarray for 2 inputs"):
        TwoInputsOneGradient()(a, b).sum().backward()


def test_a_gradient_of_a_shape_that_does_not_broadcast_is_refused_by_name():
    x = tl.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"GradientOfAnotherShape.backward returned a gradient of shape \(3,\) "
                                           r"for input 0, which has shape \(2,\)"):
        GradientOfAnotherShape()(x).sum().backward()


def test_grad_of_outputs_where_one_is_computed_from_the_other():
    # Roots are processed latest-created first, so y1 receives y2's contribution before it passes its gradient on.
    x = tl.tensor([1.0, -2.0], requires_grad=True)
    y1 = x * 2
    y2 = y1 * 3
    (g,) = tl.autograd.grad([y1, y2], x, [tl.ones(2), tl.ones(2)])
    np.testing.assert_array_equal(g.numpy(), [8.0, 8.0])


def test_truth_and_format_of_tensors():
    with pytest.raises(RuntimeError, match="more than one value is ambiguous"):
        bool(tl.ones(2))
    assert bool(tl.tensor([2.0])) and not bool(tl.tensor(0.0))
    assert f"{tl.tensor(1.5):.2f}" == "1.50"


def test_only_floating_point_tensors_can_require_grad():
    for values in ([True, False], [1, 2]):
        with pytest.raises(RuntimeError, match="only floating-point tensors can require grad"):
            tl.tensor(values).requires_grad_()


def test_len_and_iteration_refuse_0d_tensors():
    for refused, message in ((len, r"len\(\) of a 0-d tensor"), (iter, "iteration over a 0-d tensor")):
        with pytest.raises(TypeError, match=message):
            refused(tl.tensor(1.0))
    assert len(tl.ones(1)) == 1 and len(tl.ones(3, 2)) == 3
    assert [t.item() for t in tl.tensor([1.0, 2.0])] == [1.0, 2.0]


def test_a_gradient_broadcast_over_an_empty_dimension_sums_back_to_its_shape():
    # (1, 0) + (3, 1) broadcasts to (3, 0): a's gradient sums the stretched first axis and keeps the empty one
    a = tl.zeros(1, 0, requires_grad=True)
    b = tl.ones(3, 1, requires_grad=True)
    (a + b).sum().backward()
    assert a.grad.shape == (1, 0) and b.grad.shape == (3, 1) and b.grad.tolist() == [[0.0], [0.0], [0.0]]
