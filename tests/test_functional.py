"""minitl.nn.functional: gradient checks in float64, and parity with PyTorch (golden and live)."""
import pathlib
import types

import numpy as np
import pytest

import minitl as tl
import minitl.nn.functional as F

from cases.nn_cases import NN_CASES, make_inputs

GOLDEN = np.load(pathlib.Path(__file__).parent / "golden" / "nn_functional.npz")
CASE_IDS = [case[0] for case in NN_CASES]


def minitl_lib(dtype):
    created = []

    def stats(array):
        created.append(tl.tensor(array, dtype=dtype))
        return created[-1]

    return types.SimpleNamespace(F=F, tensor=lambda a: tl.tensor(a, dtype=dtype if a.dtype.kind == "f" else None),
                                 stats=stats), created


def minitl_values(fn, arrays, upstream, dtype):
    lib, stats = minitl_lib(dtype)
    inputs = [tl.tensor(a, dtype=dtype, requires_grad=True) for a in arrays]
    output = fn(lib, *inputs)
    assert output.dtype == dtype
    output.backward(tl.tensor(upstream, dtype=dtype))
    for x in inputs:
        assert x.grad.dtype == dtype
    return output.detach().numpy(), [x.grad.numpy() for x in inputs], [s.numpy() for s in stats]


@pytest.mark.parametrize("case", NN_CASES, ids=CASE_IDS)
def test_gradcheck_float64(case):
    name, fn, shapes = case
    lib, _ = minitl_lib(np.float64)
    inputs = [tl.tensor(a, dtype=tl.float64, requires_grad=True) for a in make_inputs(shapes, seed=11)]
    assert tl.gradcheck(lambda *xs: fn(lib, *xs), inputs)


@pytest.mark.parametrize("dtype, tolerance", [(np.float64, 1e-10), (np.float32, 1e-5)])
@pytest.mark.parametrize("case", NN_CASES, ids=CASE_IDS)
def test_matches_recorded_pytorch(case, dtype, tolerance):
    name, fn, shapes = case
    arrays = [GOLDEN[f"{name}/input{i}"] for i in range(len(shapes))]
    output, grads, stats = minitl_values(fn, arrays, GOLDEN[f"{name}/upstream"], dtype)
    assert tl.testing.rel_error(output, GOLDEN[f"{name}/output"]) < tolerance
    for i, grad in enumerate(grads):
        assert tl.testing.rel_error(grad, GOLDEN[f"{name}/grad{i}"]) < tolerance, f"gradient of input {i}"
    for i, array in enumerate(stats):  # running statistics updated in place
        assert tl.testing.rel_error(array, GOLDEN[f"{name}/stats{i}"]) < tolerance, f"running statistic {i}"


@pytest.mark.torch
@pytest.mark.parametrize("case", NN_CASES, ids=CASE_IDS)
def test_matches_live_pytorch(case):
    pytest.importorskip("torch")
    import sys
    sys.path.insert(0, str(pathlib.Path(__file__).parent / "golden"))
    from make_nn_golden import torch_reference

    name, fn, shapes = case
    arrays = make_inputs(shapes, seed=99)
    expected, upstream, expected_grads, expected_stats = torch_reference(fn, arrays, seed=99)
    output, grads, stats = minitl_values(fn, arrays, upstream, np.float64)
    assert tl.testing.rel_error(output, expected) < 1e-10
    for grad, want in zip(grads + stats, expected_grads + expected_stats):
        assert tl.testing.rel_error(grad, want) < 1e-10


def test_max_pool_gives_ties_to_the_first_maximum():
    x = tl.tensor(np.ones((1, 1, 2, 4)), requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], [[1, 0, 1, 0], [0, 0, 0, 0]])
    y = tl.tensor(np.ones((1, 1, 3, 3)), requires_grad=True)
    F.max_pool2d(y, 2, 1).sum().backward()  # overlapping windows: the top-left pixel wins each
    np.testing.assert_array_equal(y.grad.numpy()[0, 0], [[1, 1, 0], [1, 1, 0], [0, 0, 0]])


def test_max_pool_gradient_reaches_every_position_of_a_big_window():
    """17 x 17 = 289 window positions: more than uint8 offsets can count."""
    x = tl.tensor(np.random.default_rng(5).permutation(289).reshape(1, 1, 17, 17).astype(np.float64),
                  requires_grad=True)
    F.max_pool2d(x, 17).sum().backward()
    expected = (x.detach().numpy() == 288).astype(np.float64)
    np.testing.assert_array_equal(x.grad.numpy(), expected)


def test_softmax_is_stable_for_huge_logits():
    logits = tl.tensor([[1e4, 0.0, -1e4], [-1e4, -1e4, -1e4]], requires_grad=True)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        probs = F.softmax(logits, dim=1)
        log_probs = F.log_softmax(logits, dim=1)
        loss = F.cross_entropy(logits, tl.tensor([2, 0]))
    np.testing.assert_allclose(probs.detach().numpy(), [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]], atol=1e-7)
    np.testing.assert_allclose(log_probs.detach().numpy()[0], [0, -1e4, -2e4])
    np.testing.assert_allclose(loss.item(), (2e4 + np.log(3)) / 2, rtol=1e-6)
    loss.backward()
    assert np.isfinite(logits.grad.numpy()).all()


def test_dropout_statistics():
    x = tl.ones(200, 200)
    tl.manual_seed(0)
    y = F.dropout(x, p=0.3).numpy()
    assert abs((y == 0).mean() - 0.3) < 0.01 and abs(y.mean() - 1) < 0.02
    assert set(np.unique(y)) == {0, np.float32(1 / 0.7)} and y.dtype == np.float32
    assert F.dropout(x, p=0.3, training=False) is x and F.dropout(x, p=0.0) is x
    assert (F.dropout(x, p=1.0).numpy() == 0).all()
    with pytest.raises(ValueError, match="1.5"):
        F.dropout(x, p=1.5)


def test_dropout_is_repeatable_with_a_seed_and_its_gradient_uses_the_mask():
    x = tl.randn(50, requires_grad=True)
    tl.manual_seed(3)
    y = F.dropout(x, 0.5)
    y.sum().backward()
    tl.manual_seed(3)
    np.testing.assert_array_equal(F.dropout(x, 0.5).detach().numpy(), y.detach().numpy())
    np.testing.assert_array_equal(x.grad.numpy(), (y.detach().numpy() != 0) * 2.0)


def test_dropout2d_zeroes_whole_channels():
    tl.manual_seed(1)
    y = F.dropout2d(tl.ones(8, 16, 3, 3), p=0.5).numpy()
    per_channel = y.reshape(8, 16, -1)
    assert ((per_channel == 0).all(axis=2) | (per_channel == 2).all(axis=2)).all()
    assert 0.3 < (per_channel[:, :, 0] == 0).mean() < 0.7


def test_batch_norm_one_value_per_channel_is_refused_in_training():
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.batch_norm(tl.ones(1, 3), tl.zeros(3), tl.ones(3), training=True)


def test_batch_norm_running_stats_follow_pytorch_over_several_steps():
    """The running statistics are tensors updated in place (the same objects), as torch's."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    mean, var = tl.zeros(3, dtype=tl.float64), tl.ones(3, dtype=tl.float64)
    mean_data = mean.data
    torch_mean, torch_var = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    for _ in range(5):
        batch = rng.normal(2.0, 3.0, size=(4, 3, 2, 2))
        F.batch_norm(tl.tensor(batch, dtype=tl.float64), mean, var, training=True)
        torch.nn.functional.batch_norm(torch.tensor(batch), torch_mean, torch_var, training=True)
    assert mean.data is mean_data
    assert tl.testing.rel_error(mean.numpy(), torch_mean.numpy()) < 1e-12
    assert tl.testing.rel_error(var.numpy(), torch_var.numpy()) < 1e-12
    batch = rng.normal(size=(2, 3, 2, 2))
    evaluated = F.batch_norm(tl.tensor(batch, dtype=tl.float64), mean, var, training=False).numpy()
    expected = torch.nn.functional.batch_norm(torch.tensor(batch), torch_mean, torch_var, training=False)
    assert tl.testing.rel_error(evaluated, expected.numpy()) < 1e-12


def test_batch_norm_refuses_arrays_and_stats_of_the_wrong_size():
    with pytest.raises(TypeError, match=r"batch_norm\(\): argument 'running_mean' must be a Tensor, not "
                                        r"ndarray; wrap it with tl.tensor\(...\)"):
        F.batch_norm(tl.ones(4, 3), np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match=r"running_var must have shape \(3,\) .* got \(2,\)"):
        F.batch_norm(tl.ones(4, 3), tl.zeros(3), tl.ones(2), training=True)


@pytest.mark.parametrize("bad, message", [
    (lambda: F.conv2d(tl.ones(1, 3, 5, 5), tl.ones(2, 2, 3, 3)), r"weight must be \(2, 3, kh, kw\)"),
    (lambda: F.conv2d(tl.ones(5, 5), tl.ones(2, 3, 3, 3)), "4-D"),
    (lambda: F.conv2d(tl.ones(1, 1, 2, 2), tl.ones(1, 1, 3, 3)), "too small"),
    (lambda: F.max_pool2d(tl.ones(1, 1, 4, 4), 2, padding=2), "at most half"),
    (lambda: F.linear(tl.ones(2, 3), tl.ones(4, 5)), "3 features"),
    (lambda: F.cross_entropy(tl.ones(2, 3), tl.tensor([0, 3])), r"\[0, 2\]"),
    (lambda: F.cross_entropy(tl.ones(2, 3), tl.tensor([0.0, 1.0])), "integer class targets"),
    (lambda: F.cross_entropy(tl.ones(2, 3), tl.tensor([0, 1]), reduction="avg"), "reduction"),
    (lambda: F.mse_loss(tl.ones(2), tl.ones(3)), "differ"),
])
def test_bad_input_gives_clear_errors(bad, message):
    with pytest.raises(ValueError, match=message):
        bad()


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (2, 3, 4, 5)])
def test_closed_form_batch_norm_equals_the_composition_differentiated_by_autograd(shape):
    """The one-Function batch norm (closed-form gradients) against the definition written as recorded ops."""
    def composed_batch_norm(x, weight, bias, eps=1e-5):
        dims = (0,) + tuple(range(2, x.ndim))
        channel_shape = (1, -1) + (1,) * (x.ndim - 2)
        mean = x.mean(dim=dims, keepdim=True)
        var = ((x - mean) ** 2).mean(dim=dims, keepdim=True)
        xhat = (x - mean) / (var + eps).sqrt()
        return weight.reshape(channel_shape) * xhat + bias.reshape(channel_shape)

    rng = np.random.default_rng(2)
    arrays = [rng.normal(size=shape), rng.normal(size=3), rng.normal(size=3)]
    upstream = tl.tensor(rng.normal(size=shape), dtype=tl.float64)
    results = []
    for fn in (lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), composed_batch_norm):
        x, w, b = (tl.tensor(a, dtype=tl.float64, requires_grad=True) for a in arrays)
        y = fn(x, w, b)
        (y * upstream).sum().backward()
        results.append([y.detach().numpy(), x.grad.numpy(), w.grad.numpy(), b.grad.numpy()])
    for fast, reference in zip(*results):
        np.testing.assert_allclose(fast, reference, rtol=1e-10, atol=1e-12)
