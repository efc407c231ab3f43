"""gradcheck itself: it must pass right gradients, catch wrong ones, and never touch its inputs."""
import re

import numpy as np
import pytest

import minitl as tl
from minitl.autograd import Function


class WrongSquare(Function):
    """y = x**2 with a deliberately wrong backward (dx = x instead of 2x)."""

    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, gy):
        return (gy * self.x,)


def test_catches_a_wrong_backward_and_says_where():
    x = tl.tensor([[1.0, 2.0], [3.0, -4.0]], requires_grad=True)
    with pytest.raises(tl.GradcheckError) as failure:
        tl.gradcheck(lambda a: WrongSquare()(a), [x])
    message = str(failure.value)
    assert re.search(r"input 0 \(shape \(2, 2\)\): worst element \(\d, \d\) has analytic -?[\d.]+ but numerical "
                     r"-?[\d.]+ \(relative error 0.333", message), message


def test_returns_false_without_raising_when_asked():
    x = tl.tensor([1.0, 2.0], requires_grad=True)
    assert tl.gradcheck(lambda a: WrongSquare()(a), [x], raise_exception=False) is False


def test_names_the_failing_input_among_several():
    a = tl.tensor([1.0, 2.0], requires_grad=True)
    b = tl.tensor([3.0, 5.0], requires_grad=True)
    with pytest.raises(tl.GradcheckError, match="input 1"):
        tl.gradcheck(lambda x, y: x * 3 + WrongSquare()(y), [a, b])


def test_a_plain_sum_would_miss_this_error_but_gradcheck_does_not():
    # Each row of softmax sums to 1, so d(sum)/dx is 0 whatever backward says.
    class SoftmaxZeroGrad(Function):
        def forward(self, x):
            e = np.exp(x - x.max(axis=1, keepdims=True))
            return e / e.sum(axis=1, keepdims=True)

        def backward(self, gy):
            return (np.zeros_like(gy),)

    x = tl.tensor(np.random.default_rng(0).normal(size=(2, 3)), requires_grad=True)
    with pytest.raises(tl.GradcheckError):
        tl.gradcheck(lambda a: SoftmaxZeroGrad()(a), [x])


def test_inputs_are_not_mutated_and_float32_is_checked_in_float64():
    x = tl.tensor([0.5, 1.5, -2.0], requires_grad=True)
    before = x.data.copy()
    assert tl.gradcheck(lambda a: (a * a).exp(), [x])
    assert x.dtype == tl.float32 and x.grad is None
    np.testing.assert_array_equal(x.data, before)


def test_non_tensor_and_constant_inputs_pass_through():
    x = tl.tensor([1.0, 2.0], requires_grad=True)
    c = tl.tensor([3.0, 4.0])
    assert tl.gradcheck(lambda a, b, k: a * b * k, [x, c, 2.0])


def test_needs_an_input_that_requires_grad():
    with pytest.raises(ValueError, match="requires_grad"):
        tl.gradcheck(lambda a: a * 2, [tl.tensor([1.0])])


def test_numerical_grad_and_rel_error():
    x = tl.tensor([1.0, 2.0, 3.0], dtype=tl.float64, requires_grad=True)
    (grad,) = tl.testing.numerical_grad(lambda a: (a ** 3).sum(), [x])
    np.testing.assert_allclose(grad, 3 * x.data ** 2, rtol=1e-8)
    assert tl.testing.rel_error(grad, 3 * x.data ** 2) < 1e-9
    assert tl.testing.rel_error(np.ones(3), np.ones(3)) == 0.0
    assert tl.testing.rel_error(np.array([1.0]), np.array([-1.0])) == 1.0
    with pytest.raises(ValueError, match="shapes differ"):
        tl.testing.rel_error(np.ones(2), np.ones(3))
