"""Fractional max pooling (against PyTorch, golden and live), stochastic depth and DropConnect:
gradient checks in float64 with fixed randomness, and the statistics of their masks."""
import pathlib

import numpy as np
import pytest

import minitl as tl
import minitl.nn.functional as F
from minitl import models, nn
from minitl.nn.fractional_pool import window_starts

from cases.fractional_pool_cases import CASE_IDS, CASES
from local_files import needs_weights

GOLDEN = np.load(pathlib.Path(__file__).parent / "golden" / "regularization.npz")


# -- fractional max pooling ----------------------------------------------------------------------
def minitl_fractional(x, samples, upstream, kernel, size):
    """Output, indices and input gradient of minitl's fractional_max_pool2d."""
    xt = tl.tensor(x, dtype=x.dtype, requires_grad=True)
    y, indices = F.fractional_max_pool2d(xt, kernel, return_indices=True, _random_samples=samples, **size)
    y.backward(tl.tensor(upstream, dtype=x.dtype))
    assert y.dtype == x.dtype and xt.grad.dtype == x.dtype
    return y.detach().numpy(), indices.numpy(), xt.grad.numpy()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_fractional_max_pool_matches_recorded_pytorch(case, dtype):
    name, _, kernel, size = case
    ref = {key: GOLDEN[f"{name}/{dtype}/{key}"] for key in ("input", "samples", "upstream", "output", "indices",
                                                             "grad")}
    output, indices, grad = minitl_fractional(ref["input"], ref["samples"], ref["upstream"], kernel, size)
    # The same windows and the same maxima (ties included): equal to the last bit.
    np.testing.assert_array_equal(indices, ref["indices"])
    np.testing.assert_array_equal(output, ref["output"])
    np.testing.assert_allclose(grad, ref["grad"], rtol=0, atol=1e-6 if dtype == "float32" else 1e-14)


@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_fractional_max_pool_matches_live_pytorch(case, dtype):
    pytest.importorskip("torch")
    import sys
    sys.path.insert(0, str(pathlib.Path(__file__).parent / "golden"))
    from make_regularization_golden import torch_reference

    _, shape, kernel, size = case
    ref = torch_reference(shape, kernel, size, seed=5, dtype=dtype)
    output, indices, grad = minitl_fractional(ref["input"], ref["samples"], ref["upstream"], kernel, size)
    np.testing.assert_array_equal(indices, ref["indices"])
    np.testing.assert_array_equal(output, ref["output"])
    np.testing.assert_allclose(grad, ref["grad"], rtol=0, atol=1e-5 if dtype == np.float32 else 1e-14)


def test_window_starts_follow_the_formula():
    # n = 10, m = 4, k = 3, u = 0.3: alpha = 7/3; starts int((i + 0.3) 7/3) - int(0.7) = 0, 3, 5; last 10 - 3.
    assert window_starts(np.array([0.3]), 10, 4, 3).tolist() == [[0, 3, 5, 7]]
    u = np.random.default_rng(0).uniform(size=500)
    starts = window_starts(u, 28, 20, 2)
    steps = np.diff(starts, axis=1)
    assert (starts[:, 0] == 0).all() and (starts[:, -1] == 26).all()
    assert set(np.unique(steps)) == {1, 2}  # floor and ceil of alpha = 26 / 19: a pseudo-random sequence
    assert window_starts(np.array([0.5]), 6, 1, 2).tolist() == [[4]]  # one window: at the end


def test_fractional_max_pool_gradcheck_float64():
    values = np.random.default_rng(1).permutation(2 * 3 * 9 * 8).reshape(2, 3, 9, 8) / 7.0  # no ties
    samples = np.random.default_rng(2).uniform(size=(2, 3, 2))
    x = tl.tensor(values, dtype=tl.float64, requires_grad=True)
    assert tl.gradcheck(lambda a: F.fractional_max_pool2d(a, 3, output_size=(5, 4), _random_samples=samples), [x])


def test_fractional_max_pool_draws_new_windows_each_call_and_repeats_when_seeded():
    x = tl.randn(1, 4, 16, 16)
    pool = nn.FractionalMaxPool2d(2, output_ratio=0.7)
    tl.manual_seed(3)
    first = pool(x).numpy()
    second = pool(x).numpy()
    tl.manual_seed(3)
    assert first.shape == (1, 4, 11, 11) and not np.array_equal(first, second)
    np.testing.assert_array_equal(pool(x).numpy(), first)
    assert repr(pool) == "FractionalMaxPool2d()"  # PyTorch prints it so


def test_fractional_max_pool_module_fixed_samples_equal_functional():
    x = tl.randn(2, 3, 12, 12)
    samples = tl.rand(2, 3, 2)
    pool = nn.FractionalMaxPool2d((2, 3), output_size=(7, 6), return_indices=True, _random_samples=samples)
    y, indices = pool(x)
    expected, expected_indices = F.fractional_max_pool2d(x, (2, 3), (7, 6), None, True, samples)
    np.testing.assert_array_equal(y.numpy(), expected.numpy())
    np.testing.assert_array_equal(indices.numpy(), expected_indices.numpy())


@pytest.mark.parametrize("kwargs, message", [
    ({}, "exactly one of output_size and output_ratio"),
    ({"output_size": 4, "output_ratio": 0.5}, "exactly one of output_size and output_ratio"),
    ({"output_ratio": 1.2}, "output_ratio must be one or two numbers in \\(0, 1\\)"),
    ({"output_size": 9}, "output height 9 with pool height 3 needs an input height of at least 11"),
    ({"output_size": 4, "_random_samples": np.zeros((2, 3, 3))}, "must have shape \\(N, C, 2\\) = \\(2, 3, 2\\)"),
    ({"output_size": 4, "_random_samples": np.zeros((2, 3, 2), np.float64)}, "must have the input's dtype"),
])
def test_fractional_max_pool_bad_arguments_are_named(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        F.fractional_max_pool2d(tl.randn(2, 3, 10, 10), 3, **kwargs)


def test_fractional_max_pool_module_checks_sizes_when_built():
    with pytest.raises(ValueError, match="output_ratio"):
        nn.FractionalMaxPool2d(2, output_ratio=(0.5, 1.0))


# -- stochastic depth --------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["row", "batch"])
def test_stochastic_depth_drops_whole_rows_or_batches_and_scales_the_rest(mode):
    tl.manual_seed(0)
    x = tl.rand(64, 3, 2, 2) + 0.5
    y = nn.stochastic_depth(x, 0.25, mode).numpy()
    per_row = y.reshape(64, -1) / x.numpy().reshape(64, -1)
    kept = np.isclose(per_row, 1 / 0.75)
    dropped = per_row == 0
    assert (kept.all(axis=1) | dropped.all(axis=1)).all()  # a row is kept or dropped as a whole
    if mode == "batch":
        assert kept.all() or dropped.all()
    else:
        assert kept.all(axis=1).any() and dropped.all(axis=1).any()


def test_stochastic_depth_preserves_the_expected_value_in_training():
    tl.manual_seed(1)
    p, rows = 0.3, 20000
    y = nn.stochastic_depth(tl.ones(rows, 2), p, "row").numpy()
    # E[y] = 1; each row is 0 or 1/(1-p): standard deviation of the mean sqrt(p/(1-p)/rows) = 0.0046.
    assert abs(y.mean() - 1) < 4 * np.sqrt(p / (1 - p) / rows)
    assert abs((y[:, 0] == 0).mean() - p) < 0.015


def test_stochastic_depth_is_the_identity_in_eval_and_for_p0():
    x = tl.randn(5, 4)
    assert nn.stochastic_depth(x, 0.5, "row", training=False) is x
    assert nn.stochastic_depth(x, 0.0, "batch") is x
    layer = nn.StochasticDepth(0.5, "row").eval()
    assert layer(x) is x and layer(x) is x
    assert repr(layer) == "StochasticDepth(p=0.5, mode=row)"  # torchvision's printed form
    np.testing.assert_array_equal(nn.stochastic_depth(x, 1.0, "row").numpy(), 0)


def test_stochastic_depth_gradcheck_float64_with_a_fixed_mask():
    def fn(x):
        tl.manual_seed(4)  # the same mask at every evaluation
        return nn.stochastic_depth(x, 0.5, "row")
    x = tl.randn(6, 3, dtype=tl.float64, requires_grad=True)
    assert tl.gradcheck(fn, [x])


@pytest.mark.parametrize("p, mode", [(-0.1, "row"), (1.5, "batch"), (0.5, "column")])
def test_stochastic_depth_rejects_bad_arguments(p, mode):
    with pytest.raises(ValueError, match="drop probability|mode has to be"):
        nn.stochastic_depth(tl.ones(2, 2), p, mode)
    with pytest.raises(ValueError, match="drop probability|mode has to be"):
        nn.StochasticDepth(p, mode)


# -- stochastic depth in the CIFAR ResNets ------------------------------------------------------------
def blocks(model):
    return [block for stage in (model.layer1, model.layer2, model.layer3) for block in stage]


def test_cifar_resnet_drop_probabilities_decay_linearly():
    model = models.resnet20(stochastic_depth_prob=0.5)
    assert [block.drop_prob for block in blocks(model)] == pytest.approx([0.5 * block / 9 for block in range(1, 10)])
    assert all(block.drop_prob == 0 for block in blocks(models.resnet20()))
    with pytest.raises(ValueError, match="stochastic_depth_prob must lie in \\[0, 1\\]"):
        models.resnet32(stochastic_depth_prob=2)


def test_cifar_resnet_with_stochastic_depth_has_the_same_keys_and_eval_output():
    tl.manual_seed(0)
    plain = models.resnet20()
    dropping = models.resnet20(stochastic_depth_prob=0.5)
    assert list(dropping.state_dict()) == list(plain.state_dict())
    dropping.load_state_dict(plain.state_dict())
    x = tl.randn(2, 3, 32, 32)
    with tl.no_grad():
        np.testing.assert_array_equal(dropping.eval()(x).numpy(), plain.eval()(x).numpy())


def test_a_dropped_block_is_its_shortcut_after_relu():
    tl.manual_seed(0)
    block = blocks(models.resnet20(stochastic_depth_prob=1.0))[-1]  # the last block: drop probability 1
    x = tl.randn(3, 64, 8, 8)
    with tl.no_grad():
        np.testing.assert_array_equal(block.train()(x).numpy(), F.relu(x).numpy())
        assert not np.array_equal(block.eval()(x).numpy(), F.relu(x).numpy())


@needs_weights
def test_pretrained_weights_load_with_stochastic_depth():
    model = models.resnet20(weights="cifar10", stochastic_depth_prob=0.2)
    reference = models.resnet20(weights="cifar10")
    x = tl.randn(2, 3, 32, 32)
    with tl.no_grad():
        np.testing.assert_array_equal(model.eval()(x).numpy(), reference.eval()(x).numpy())


# -- DropConnect ------------------------------------------------------------------------------------
def effective_weights(layer):
    """The weights one training forward pass of a layer without bias used: its outputs for the identity matrix."""
    with tl.no_grad():
        return layer(tl.tensor(np.eye(layer.in_features, dtype=np.float32))).numpy().T


def test_drop_connect_masks_weights_with_inverted_scaling():
    tl.manual_seed(0)
    layer = nn.DropConnectLinear(30, 20, bias=False, p=0.4)
    used = effective_weights(layer)
    w = layer.weight.detach().numpy()
    kept = np.isclose(used, w / 0.6, rtol=1e-6, atol=0)
    assert (kept | (used == 0)).all()
    assert abs((~kept).mean() - 0.4) < 0.08
    assert repr(layer) == "DropConnectLinear(in_features=30, out_features=20, bias=False, p=0.4)"


def test_drop_connect_uses_one_mask_for_the_whole_batch():
    tl.manual_seed(1)
    layer = nn.DropConnectLinear(8, 5, p=0.5)
    row = np.random.default_rng(0).normal(size=(1, 8)).astype(np.float32)
    y = layer(tl.tensor(np.repeat(row, 4, axis=0))).detach().numpy()
    assert (y == y[0]).all()  # identical samples, identical outputs: the same weights for all of them


def test_drop_connect_preserves_the_expected_weights():
    tl.manual_seed(2)
    layer = nn.DropConnectLinear(10, 6, bias=False, p=0.5)
    draws = 4000
    mean = sum(effective_weights(layer) for _ in range(draws)) / draws
    w = layer.weight.detach().numpy()
    # Each entry's draws are 0 or 2w: the mean's standard deviation is |w| / sqrt(draws).
    assert (np.abs(mean - w) <= 4.5 * np.abs(w) / np.sqrt(draws) + 1e-7).all()


def test_drop_connect_eval_is_plain_linear_and_deterministic():
    tl.manual_seed(3)
    layer = nn.DropConnectLinear(7, 3, p=0.5).eval()
    x = tl.randn(4, 7)
    first = layer(x).detach().numpy()
    np.testing.assert_array_equal(first, layer(x).detach().numpy())
    np.testing.assert_array_equal(first, F.linear(x, layer.weight, layer.bias).detach().numpy())
    assert list(layer.state_dict()) == ["weight", "bias"]  # a Linear's keys: Linear weights load into it


def test_drop_connect_gradcheck_float64_with_a_fixed_mask():
    def fn(x, w, b):
        tl.manual_seed(5)  # the same mask at every evaluation
        return nn.drop_connect_linear(x, w, b, p=0.5)
    rng = np.random.default_rng(0)
    inputs = [tl.tensor(rng.normal(size=shape), dtype=tl.float64, requires_grad=True) for shape in ((4, 6), (3, 6),
                                                                                                    (3,))]
    assert tl.gradcheck(fn, inputs)


def test_drop_connect_rejects_a_bad_probability():
    with pytest.raises(ValueError, match="DropConnect probability has to be between 0 and 1"):
        nn.DropConnectLinear(3, 2, p=1.5)
