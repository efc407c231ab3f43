"""Edges of tensor ops that mutation testing found unchecked (docs/testing.md lists the mutants).

Each test fails with one of the surviving mutants of `python mutation/run.py ops` put in: a dimension
count off by one, a comparison at its boundary, an in-place op's alpha, a constant of a fast path.
Expected values are PyTorch's (stated, since each is a shape, a dtype or a closed form).
"""
import numpy as np
import pytest

import minitl as tl
import minitl.nn.functional as F


def test_flatten_of_middle_dimensions_and_of_a_scalar():
    assert tl.tensor(3.0).flatten().shape == (1,)
    x = tl.zeros(2, 3, 4, 5)
    assert x.flatten(1, 2).shape == (2, 12, 5)
    assert x.flatten(0, 1).shape == (6, 4, 5)
    assert x.flatten(-3, -2).shape == (2, 12, 5)


def test_unsqueeze_at_negative_dimensions():
    x = tl.zeros(2, 3)
    assert x.unsqueeze(-1).shape == (2, 3, 1)
    assert x.unsqueeze(-3).shape == (1, 2, 3)
    assert x.unsqueeze(2).shape == (2, 3, 1)


def test_squeeze_of_a_one_element_vector_gives_a_scalar():
    assert tl.ones(1).squeeze(0).shape == ()
    assert tl.zeros(1, 2, 1).squeeze().shape == (2,)
    assert tl.ones(2).squeeze(0).shape == (2,)


@pytest.mark.parametrize("a_shape, b_shape", [((2, 3), (4, 2)), ((2, 3), (4,)), ((2, 3), (5, 4, 2)), ((5, 2, 3), (4, 2))])
def test_matmul_names_the_sizes_that_do_not_align(a_shape, b_shape):
    with pytest.raises(ValueError, match=r"\(3 != 4\)"):
        tl.zeros(*a_shape) @ tl.zeros(*b_shape)


@pytest.mark.parametrize("fn", [F.softmax, F.log_softmax], ids=["softmax", "log_softmax"])
def test_softmax_of_huge_logits_is_finite(fn):
    x = tl.tensor([[1e4, 1e4 - 1.0, -1e4]], dtype=tl.float64)
    expected_log = np.array([-np.log1p(np.exp(-1.0)), -1.0 - np.log1p(np.exp(-1.0)), -np.inf])
    expected = np.exp(expected_log) if fn is F.softmax else expected_log
    np.testing.assert_allclose(fn(x, dim=1).numpy()[0, :2], expected[:2], rtol=1e-12)


@pytest.mark.parametrize("alpha", [2, 0.5, -1, 0])
def test_add_and_sub_in_place_scale_by_alpha(alpha):
    x, y = tl.tensor([1.0, 2.0]), tl.tensor([10.0, 20.0])
    np.testing.assert_allclose(x.clone().add_(y, alpha=alpha).numpy(), [1 + 10 * alpha, 2 + 20 * alpha])
    np.testing.assert_allclose(x.clone().sub_(y, alpha=alpha).numpy(), [1 - 10 * alpha, 2 - 20 * alpha])


def test_min_and_max_drop_the_reduced_dimension_by_default():
    x = tl.zeros(2, 3)
    assert x.min(dim=0).values.shape == x.max(dim=0).values.shape == x.amax(dim=0).shape == (3,)
    assert x.min(dim=0, keepdim=True).values.shape == x.amin(dim=0, keepdim=True).shape == (1, 3)


def test_var_of_one_element_with_bessel_correction_is_nan():
    with np.errstate(all="ignore"):
        assert np.isnan(tl.tensor([2.0]).var().item())  # torch: nan (n - 1 = 0)
    assert tl.tensor([2.0]).var(correction=0).item() == 0.0


def test_zero_in_place():
    x = tl.tensor([1.0, -2.0])
    assert x.zero_() is x
    np.testing.assert_array_equal(x.numpy(), [0.0, 0.0])


def test_strict_comparisons_at_equality():
    a, b = tl.tensor([1.0, 2.0, 3.0]), tl.tensor([2.0, 2.0, 2.0])
    np.testing.assert_array_equal((a < b).numpy(), [True, False, False])
    np.testing.assert_array_equal((a > b).numpy(), [False, False, True])
    np.testing.assert_array_equal((a <= b).numpy(), [True, True, False])
    np.testing.assert_array_equal((a >= b).numpy(), [False, True, True])
    np.testing.assert_array_equal((a != b).numpy(), [True, False, True])
    np.testing.assert_array_equal((a == b).numpy(), [False, True, False])


def test_allclose_counts_nan_as_different_unless_asked():
    nan = tl.tensor([1.0, float("nan")])
    assert not tl.allclose(nan, nan)  # torch.allclose: False
    assert tl.allclose(nan, nan, equal_nan=True)


def test_true_division_of_bools_is_float32():
    t = tl.tensor([True, False])
    assert (t / tl.tensor([True, True])).dtype == tl.float32  # torch: float32


def test_pow_with_a_tensor_exponent_holding_zeros():
    a = tl.tensor([0.5, 1.5, 2.0, 0.7], dtype=tl.float64, requires_grad=True)
    b = tl.tensor([0.0, 2.0, 3.0, 0.0], dtype=tl.float64, requires_grad=True)
    assert tl.gradcheck(lambda x, y: x ** y, [a, b])
