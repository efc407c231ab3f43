"""A gradient-check unit test for a custom op: copy this file next to your own op and change the op.

The op is hypot(x, w) = sqrt(x**2 + w**2), elementwise with broadcasting, written as a minitl Function
with its derivative by hand:

    dx = gy * x / y,    dw = gy * w / y,    y = sqrt(x**2 + w**2)

The tests check it the four ways docs/gradient_checks.md explains: tl.gradcheck (every Jacobian entry
against central differences, and backward linear in grad_output), tl.gradgradcheck (the same formula
differentiated again), the float32 path (huge values, where a naive forward overflows), and hypothesis
drawing shapes that broadcast, so the gradient's summing back to each input's shape is checked too.
Run:  pytest tests/examples/test_custom_op_gradients.py
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays, mutually_broadcastable_shapes

import minitl as tl
from minitl import backend
from minitl.autograd import Function


class Hypot(Function):
    """y = sqrt(x**2 + w**2);  dx = gy * x / y,  dw = gy * w / y."""

    def forward(self, x, w):
        y = backend.get_array_module(x).hypot(x, w)  # never forms x**2, so 1e30 does not overflow float32
        self.save_for_backward(x, w, y)
        return y

    def backward(self, gy):
        x, w, y = self.saved_tensors
        return gy * x / y, gy * w / y  # where x or w was broadcast, the engine sums the gradient back


def hypot(x, w):
    return Hypot()(x, w)


def test_gradcheck_and_gradgradcheck():
    rng = np.random.default_rng(0)
    x = tl.tensor(rng.normal(size=(2, 3)), dtype=tl.float64, requires_grad=True)
    w = tl.tensor(rng.normal(size=(3,)), dtype=tl.float64, requires_grad=True)  # broadcast over x's rows
    assert tl.gradcheck(hypot, [x, w])
    assert tl.gradgradcheck(hypot, [x, w])


def test_float32_path_at_huge_values():
    # float32 inputs: gradcheck also runs backward in float32 and fails on any NaN or infinity there.
    # At 1e30 a fixed step of 1e-6 is below float64's resolution, so the step is taken relative to |x|.
    x = tl.tensor([1e30, -3e30], requires_grad=True)
    w = tl.tensor([4e30, 1e-30], requires_grad=True)
    assert tl.gradcheck(hypot, [x, w], relative_eps=True)


def test_a_naive_forward_fails_the_float32_check():
    class NaiveHypot(Hypot):
        def forward(self, x, w):
            y = backend.get_array_module(x).sqrt(x * x + w * w)  # (1e30)**2 is inf in float32: y = inf
            self.save_for_backward(x, w, y)
            return y

    x = tl.tensor([1e30, -3e30], requires_grad=True)
    w = tl.tensor([4e30, 1e-30], requires_grad=True)
    with np.errstate(all="ignore"), pytest.raises(tl.GradcheckError, match="on the float32 path"):
        tl.gradcheck(lambda a, b: NaiveHypot()(a, b), [x, w], relative_eps=True)
    # The float64 copies alone would pass: only the float32 path overflows.
    assert tl.gradcheck(lambda a, b: NaiveHypot()(a, b), [x.double().detach().requires_grad_(),
                                                          w.double().detach().requires_grad_()], relative_eps=True)


def test_a_wrong_backward_is_caught():
    class WrongHypot(Hypot):
        def backward(self, gy):
            x, w, y = self.saved_tensors
            return gy * x / y, gy * x / y  # slip: dw uses x

    x = tl.tensor([1.0, 2.0], dtype=tl.float64, requires_grad=True)
    w = tl.tensor([3.0, -1.0], dtype=tl.float64, requires_grad=True)
    with pytest.raises(tl.GradcheckError, match="input 1"):
        tl.gradcheck(lambda a, b: WrongHypot()(a, b), [x, w])


away_from_zero = st.floats(0.2, 3.0) | st.floats(-3.0, -0.2)  # hypot is not differentiable at x = w = 0


@settings(max_examples=25, deadline=None)
@given(mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3), st.data())
def test_gradcheck_on_shapes_that_broadcast(shapes, data):
    x_shape, w_shape = shapes.input_shapes
    x = data.draw(arrays(np.float64, x_shape, elements=away_from_zero))
    w = data.draw(arrays(np.float64, w_shape, elements=away_from_zero))
    inputs = [tl.tensor(x, dtype=tl.float64, requires_grad=True), tl.tensor(w, dtype=tl.float64, requires_grad=True)]
    assert hypot(*inputs).shape == shapes.result_shape
    assert tl.gradcheck(hypot, inputs)


@settings(max_examples=10, deadline=None)
@given(arrays(np.float32, st.integers(1, 4), elements=st.floats(-2.0 ** 100, 2.0 ** 100, width=32).filter(lambda v: abs(v) > 1)))
def test_float32_path_on_any_magnitude(x):
    inputs = [tl.tensor(x, requires_grad=True), tl.tensor(x[::-1].copy(), requires_grad=True)]
    assert tl.gradcheck(hypot, inputs, relative_eps=True)
