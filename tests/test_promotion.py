"""PyTorch's type promotion in every op, and gradients that always have their input's dtype.

Golden values always (tests/golden/promotion.npz, made by make_promotion_golden.py);
live torch when importable.
"""
import pathlib
import sys
import types

import numpy as np
import pytest

import minitl as tl

from cases.promotion_cases import GRADIENT_CASES, PROMOTION_CASES, operand_arrays

GOLDEN = np.load(pathlib.Path(__file__).parent / "golden" / "promotion.npz")
MINITL_LIB = types.SimpleNamespace(where=tl.where, cat=tl.cat, stack=tl.stack)


def minitl_result(fn, operands, with_grad):
    inputs = [tl.tensor(a, dtype=a.dtype, requires_grad=with_grad and a.dtype.kind == "f")
              for a in operand_arrays(operands)]
    output = fn(MINITL_LIB, *inputs)
    grads = []
    if with_grad:
        output.backward(tl.ones_like(output))
        grads = [(x.grad.numpy(), str(x.grad.dtype)) for x in inputs if x.requires_grad]
    return output.detach().numpy(), str(output.dtype), grads


def torch_result(fn, operands, with_grad):
    torch = pytest.importorskip("torch")
    sys.path.insert(0, str(pathlib.Path(__file__).parent / "golden"))
    from make_promotion_golden import torch_result as reference
    assert torch  # imported only so that the test is skipped without torch
    return reference(fn, operands, with_grad)


def assert_same(result, expected):
    (output, dtype, grads), (expected_output, expected_dtype, expected_grads) = result, expected
    assert dtype == expected_dtype
    np.testing.assert_allclose(output, expected_output, rtol=1e-6)
    assert len(grads) == len(expected_grads)
    for (grad, grad_dtype), (expected_grad, expected_grad_dtype) in zip(grads, expected_grads):
        assert grad_dtype == expected_grad_dtype
        np.testing.assert_allclose(grad, expected_grad, rtol=1e-6)


def golden(name, with_grad):
    count = len([k for k in GOLDEN.files if k.startswith(f"{name}/grad") and not k.endswith("_dtype")])
    grads = [(GOLDEN[f"{name}/grad{i}"], str(GOLDEN[f"{name}/grad{i}_dtype"])) for i in range(count)]
    return GOLDEN[f"{name}/output"], str(GOLDEN[f"{name}/dtype"]), grads


ALL_CASES = [(case, False) for case in PROMOTION_CASES] + [(case, True) for case in GRADIENT_CASES]
IDS = [case[0] for case, _ in ALL_CASES]


@pytest.mark.parametrize("case, with_grad", ALL_CASES, ids=IDS)
def test_matches_recorded_pytorch(case, with_grad):
    name, fn, operands = case
    assert_same(minitl_result(fn, operands, with_grad), golden(name, with_grad))


@pytest.mark.torch
@pytest.mark.parametrize("case, with_grad", ALL_CASES, ids=IDS)
def test_matches_live_pytorch(case, with_grad):
    _, fn, operands = case
    assert_same(minitl_result(fn, operands, with_grad), torch_result(fn, operands, with_grad))


def test_float32_leaf_times_integer_tensor_trains():
    # The report: this crashed in backward with "gradient (3,) float64 does not match tensor (3,) float32".
    w = tl.tensor([0.5, 1.0, 2.0], requires_grad=True)
    y = w * tl.tensor([1, 0, 1])
    assert y.dtype == tl.float32
    y.sum().backward()
    assert w.grad.dtype == tl.float32 and w.grad.numpy().tolist() == [1, 0, 1]


def test_python_numbers_and_numpy_scalars_never_upcast():
    x = tl.tensor([1.0, 2.0], requires_grad=True)
    assert (x * np.float64(1.5)).dtype == tl.float32 and (np.float64(1.5) * x).dtype == tl.float32
    assert (tl.tensor([1, 2]) * np.int64(3)).dtype == tl.int64


def test_matmul_needs_one_dtype_as_in_pytorch():
    with pytest.raises(RuntimeError, match="same dtype, but got float32 and float64"):
        tl.ones(2, 2) @ tl.ones(2, 2, dtype=tl.float64)
    with pytest.raises(RuntimeError, match="float32 and int64"):
        tl.ones(2) @ tl.tensor([1, 2])


def test_a_custom_function_may_return_gradients_of_another_dtype():
    class Float64Backward(tl.Function):
        def forward(self, x):
            return x * 2

        def backward(self, gy):
            return (gy.astype(np.float64) * 2,)

    x = tl.tensor([1.0, 2.0], requires_grad=True)
    Float64Backward()(x).sum().backward()
    assert x.grad.dtype == tl.float32 and x.grad.numpy().tolist() == [2, 2]


@pytest.mark.parametrize("reflected, forward", [
    (lambda m, x: m + x, lambda m, x: m + x),
    (lambda m, x: m - x, lambda m, x: m - x),
    (lambda m, x: m * x, lambda m, x: m * x),
    (lambda m, x: m / x, lambda m, x: m / x),
    (lambda m, x: m ** x, lambda m, x: m ** x),
    (lambda m, x: m @ x, lambda m, x: m @ x),
], ids=["radd", "rsub", "rmul", "rtruediv", "rpow", "rmatmul"])
def test_reflected_operators_with_an_ndarray_or_a_number_on_the_left(reflected, forward):
    # m is not symmetric, so `m @ x` computed as `x @ m` would show.
    m = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    x = tl.tensor([[0.5, 1.5], [2.0, 0.25]], requires_grad=True)
    y = reflected(m, x)
    assert isinstance(y, tl.Tensor) and y.dtype == tl.float32
    expected = forward(tl.tensor(m), x.detach())
    np.testing.assert_allclose(y.detach().numpy(), expected.numpy(), rtol=1e-6)
    y.sum().backward()
    assert x.grad.shape == (2, 2) and x.grad.dtype == tl.float32


@pytest.mark.parametrize("reflected, forward", [
    (lambda x: 2 + x, lambda x: x + 2), (lambda x: 2 - x, lambda x: -x + 2), (lambda x: 2 * x, lambda x: x * 2),
    (lambda x: 2 / x, lambda x: x ** -1 * 2), (lambda x: 2 ** x, lambda x: (x * np.log(2)).exp()),
], ids=["radd", "rsub", "rmul", "rtruediv", "rpow"])
def test_reflected_operators_with_a_number_on_the_left(reflected, forward):
    x = tl.tensor([0.5, 1.5, -2.0], requires_grad=True)
    y = reflected(x)
    assert y.dtype == tl.float32
    np.testing.assert_allclose(y.detach().numpy(), forward(x.detach()).numpy(), rtol=1e-6)
    y.sum().backward()
    x_again = tl.tensor([0.5, 1.5, -2.0], requires_grad=True)
    forward(x_again).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), x_again.grad.numpy(), rtol=1e-5)


def test_ndarray_operands_work_as_in_pytorch_and_lists_are_refused():
    x = tl.tensor([1.0, 2.0])
    y = x + np.array([0.5, 0.25])  # float64 ndarray: a tensor with dimensions, so it promotes, as in PyTorch
    assert y.dtype == tl.float64 and y.numpy().tolist() == [1.5, 2.25]
    assert (x * np.array([2.0, 3.0], dtype=np.float32)).numpy().tolist() == [2, 6]
    with pytest.raises(TypeError, match=r"add: cannot use a list as an operand: wrap it with tl.tensor\(...\)"):
        x + [1, 2]
    with pytest.raises(TypeError, match=r"wrap it with tl.tensor"):
        x @ [[1.0], [2.0]]
    with pytest.raises(TypeError, match=r"Exp: input 0 is a ndarray, not a Tensor: wrap it with tl.tensor"):
        tl.ops.elementwise.Exp()(np.ones(2))


@pytest.mark.torch
def test_ndarray_operands_match_live_pytorch():
    torch = pytest.importorskip("torch")
    array = np.array([0.5, 0.25])
    for fn in (lambda t: t + array, lambda t: t * array, lambda t: t @ array, lambda t: array / t):
        expected = fn(torch.tensor([1.0, 2.0]))
        got = fn(tl.tensor([1.0, 2.0]))
        assert str(got.dtype) == str(expected.dtype).removeprefix("torch.")
        np.testing.assert_allclose(got.numpy(), expected.numpy())
