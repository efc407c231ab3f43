"""Every core op: gradient check in float64, and dtype preservation in float32 and float64."""
import numpy as np
import pytest

import minitl as tl

from cases.op_cases import OP_CASES, make_inputs

CASE_IDS = [case[0] for case in OP_CASES]


@pytest.mark.parametrize("case", OP_CASES, ids=CASE_IDS)
def test_gradcheck_float64(case):
    assert tl.gradcheck(case[1], make_inputs(case, tl.float64))


@pytest.mark.parametrize("dtype", [tl.float32, tl.float64])
@pytest.mark.parametrize("case", OP_CASES, ids=CASE_IDS)
def test_output_and_gradients_keep_dtype(case, dtype):
    inputs = make_inputs(case, dtype)
    out = case[1](*inputs)
    assert out.dtype == dtype
    out.backward(tl.ones_like(out))
    for x in inputs:
        assert x.grad is not None and x.grad.dtype == dtype and x.grad.shape == x.shape


def test_python_scalars_never_upcast_float32():
    x = tl.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = ((x * 0.1 + 1e-3) / 3.0 - 2) ** 2.0
    y = (2.0 ** y) * np.float64(1.5)
    assert y.dtype == tl.float32
    y.sum().backward()
    assert x.grad.dtype == tl.float32


def test_cast_to_float64_and_back():
    x = tl.tensor([1.0, 2.0], requires_grad=True)
    y = x.double()
    assert y.dtype == tl.float64 and y.float().dtype == tl.float32
    (y * y).sum().backward()
    assert x.grad.dtype == tl.float32
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])
    assert tl.gradcheck(lambda a: a.double() * 3, [tl.tensor([1.0, 2.0], dtype=tl.float64, requires_grad=True)])


def test_max_ties_share_the_gradient_equally():
    # Like torch.amax: the gradient is split among every element equal to the maximum.
    x = tl.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], requires_grad=True)
    x.amax(dim=1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]], rtol=1e-6)


def test_min_all_ties():
    x = tl.tensor([4.0, 1.0, 1.0, 5.0], requires_grad=True)
    x.min().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0, 0.5, 0.5, 0])


def test_relu_and_abs_gradients_at_zero_are_zero():
    x = tl.tensor([0.0, -1.0, 2.0], requires_grad=True)
    (x.relu() + x.abs()).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0, -1, 2])


def test_clip_gradient_passes_at_the_bounds():
    x = tl.tensor([-2.0, -1.0, 0.0, 1.0, 2.0], requires_grad=True)
    x.clip(-1.0, 1.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0, 1, 1, 1, 0])


def test_sigmoid_is_stable_for_large_inputs():
    values = np.array([-1000.0, -40.0, 0.0, 40.0, 1000.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = tl.tensor(values, dtype=tl.float64).sigmoid().numpy()
    np.testing.assert_allclose(y, np.exp(-np.logaddexp(0, -values)), rtol=1e-12)
    assert y[0] == 0 and y[-1] == 1


def test_comparisons_give_bool_tensors_without_graph():
    x = tl.tensor([1.0, 2.0, 3.0], requires_grad=True)
    mask = x > 1.5
    assert mask.dtype == bool and not mask.requires_grad
    np.testing.assert_array_equal(mask.numpy(), [False, True, True])
    np.testing.assert_array_equal((x == 2.0).numpy(), [False, True, False])
    np.testing.assert_array_equal((x <= x).numpy(), [True, True, True])


def test_argmax_argmin():
    x = tl.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    np.testing.assert_array_equal(x.argmax(dim=1).numpy(), [1, 0])
    np.testing.assert_array_equal(x.argmin(dim=0).numpy(), [0, 1, 0])
    assert x.argmax().item() == 3


@pytest.mark.parametrize("bad, message", [
    (lambda: tl.ones(2, 3) @ tl.ones(2, 3), "do not align"),
    (lambda: tl.ones(2, 3).sum(dim=2), "out of range"),
    (lambda: tl.ones(2, 3).permute(0, 0), "permute"),
    (lambda: tl.pad(tl.ones(2), (1, 1, 1, 1)), "pad"),
    (lambda: tl.ones(3).clip(), "at least one"),
    (lambda: tl.arange(3).mean(), "floating-point"),
])
def test_bad_arguments_give_clear_errors(bad, message):
    with pytest.raises((ValueError, IndexError, TypeError, RuntimeError), match=message):
        bad()


def test_log1p_is_accurate_for_tiny_inputs():
    x = tl.tensor([1e-10, -1e-12, 0.5], dtype=tl.float64, requires_grad=True)
    y = tl.log1p(x)
    np.testing.assert_allclose(y.detach().numpy(), np.log1p(x.detach().numpy()), rtol=1e-15)
    assert y.detach().numpy()[0] != np.log(1 + 1e-10)  # log(1 + x) loses 8 digits here
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 1 / (1 + x.detach().numpy()), rtol=1e-15)
