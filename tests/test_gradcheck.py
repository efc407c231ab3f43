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
    assert re.search(r"input 0 \(shape \(2, 2\)\) and output 0 \(shape \(2, 2\)\): worst element "
                     r"d output\[1, 1\] / d input\[1, 1\] has analytic -4 but numerical -8 "
                     r"\(relative error 0.333\); 4 of 16 Jacobian entries fail", message), message


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


class ScaledSquare(Function):
    """y = x**2 with backward scaled by `factor` (1.01: wrong by 1 %) or replaced by NaN."""

    def __init__(self, factor):
        self.factor = factor

    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, gy):
        return (gy * 2 * self.x * self.factor,)


def test_a_backward_wrong_by_one_percent_fails():
    x = tl.tensor([0.5, 1.5, -2.0], dtype=tl.float64, requires_grad=True)
    with pytest.raises(tl.GradcheckError, match=r"relative error 0.00498"):
        tl.gradcheck(lambda a: ScaledSquare(1.01)(a), [x])


def test_a_backward_returning_nan_fails():
    x = tl.tensor([0.5, 1.5], dtype=tl.float64, requires_grad=True)
    with pytest.raises(tl.GradcheckError, match=r"is not finite: analytic nan"):
        tl.gradcheck(lambda a: ScaledSquare(float("nan"))(a), [x])


@pytest.mark.parametrize("fn, values", [
    (lambda a: a.sqrt(), [0.0, 1.0]),     # analytic inf at 0, numerical nan (sqrt of -eps)
    (lambda a: a.exp(), [1.0, 710.0]),    # e**710 overflows: inf - inf
], ids=["sqrt_at_0", "exp_at_710"])
def test_non_finite_jacobians_fail_as_in_torch(fn, values):
    x = tl.tensor(values, dtype=tl.float64, requires_grad=True)
    with np.errstate(all="ignore"):
        assert tl.gradcheck(fn, [x], raise_exception=False) is False
        with pytest.raises(tl.GradcheckError, match="not finite"):
            tl.gradcheck(fn, [x])


def test_outputs_of_mixed_scales_pass():
    # t**3 at [1e4, 2]: outputs 1e12 and 8. A weighted sum of the outputs would round the small one away.
    x = tl.tensor([1e4, 2.0], dtype=tl.float64, requires_grad=True)
    assert tl.gradcheck(lambda a: a ** 3, [x])


def test_each_output_of_a_tuple_is_checked_and_named():
    x = tl.tensor([1.0, 2.0], dtype=tl.float64, requires_grad=True)
    assert tl.gradcheck(lambda a: (a * 2, a.exp()), [x])
    with pytest.raises(tl.GradcheckError, match=r"input 0 \(shape \(2,\)\) and output 1 \(shape \(2,\)\)"):
        tl.gradcheck(lambda a: (a * 2, WrongSquare()(a)), [x])


@pytest.mark.torch
def test_verdicts_agree_with_torch_gradcheck():
    torch = pytest.importorskip("torch")
    cases = [(lambda a: a.sqrt(), [0.0, 1.0]), (lambda a: a.exp(), [1.0, 710.0]), (lambda a: a ** 3, [1e4, 2.0]),
             (lambda a: a.sin() * a.cos(), [0.3, -1.2])]
    for fn, values in cases:
        expected = torch.autograd.gradcheck(fn, (torch.tensor(values, dtype=torch.float64, requires_grad=True),),
                                            eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=False)
        with np.errstate(all="ignore"):
            verdict = tl.gradcheck(fn, [tl.tensor(values, dtype=tl.float64, requires_grad=True)],
                                   raise_exception=False)
        assert verdict == expected, values
