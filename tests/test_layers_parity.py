"""Issue 32's layers and options (padding modes, 'same'/'valid', unbatched input, Conv1d, pooling options,
unpooling, adaptive max pooling, Unflatten, Upsample): values, gradients, reprs, state_dict keys,
signatures and error types as PyTorch's, live and against tests/golden/layers_parity.npz."""
import inspect
import pathlib

import numpy as np
import pytest

import minitl as tl
import minitl.nn.functional as F
from minitl import nn

from cases.layer_parity_cases import LAYER_CASES, make_input, weights

GOLDEN = np.load(pathlib.Path(__file__).parent / "golden" / "layers_parity.npz")
CASE_IDS = [case[0] for case in LAYER_CASES]


def minitl_run(build, state, x, upstream, forward, dtype=np.float64):
    """(repr, keys, output, input gradient) of minitl's layer with weights `state` (arrays)."""
    module = build(nn).to(dtype=dtype)
    module.load_state_dict({name: tl.tensor(value, dtype=dtype) for name, value in state.items()})
    x = tl.tensor(x, dtype=dtype, requires_grad=True)
    output = forward(module, x)
    assert output.dtype == dtype
    output.backward(tl.tensor(upstream, dtype=dtype))
    assert x.grad.dtype == dtype
    return repr(module), list(module.state_dict()), output.detach().numpy(), x.grad.numpy()


@pytest.mark.parametrize("dtype, tolerance", [(np.float64, 1e-10), (np.float32, 1e-5)])
@pytest.mark.parametrize("case", LAYER_CASES, ids=CASE_IDS)
def test_matches_recorded_pytorch(case, dtype, tolerance):
    name, build, _, forward = case
    keys = list(GOLDEN[f"{name}/keys"])
    state = {key: GOLDEN[f"{name}/state/{key}"] for key in keys}
    text, got_keys, output, grad = minitl_run(build, state, GOLDEN[f"{name}/input"], GOLDEN[f"{name}/upstream"],
                                              forward, dtype)
    assert text == str(GOLDEN[f"{name}/repr"])
    assert got_keys == keys
    assert tl.testing.rel_error(output, GOLDEN[f"{name}/output"]) < tolerance
    assert tl.testing.rel_error(grad, GOLDEN[f"{name}/grad"]) < tolerance


@pytest.mark.torch
@pytest.mark.parametrize("case", LAYER_CASES, ids=CASE_IDS)
def test_matches_live_pytorch(case):
    pytest.importorskip("torch")
    import sys
    sys.path.insert(0, str(pathlib.Path(__file__).parent / "golden"))
    from make_layers_parity_golden import torch_reference

    name, build, shape, forward = case
    text, state, x, upstream, expected, expected_grad = torch_reference(build, shape, forward, seed=77)
    got_text, keys, output, grad = minitl_run(build, state, x, upstream, forward)
    assert (got_text, keys) == (text, list(state))
    assert tl.testing.rel_error(output, expected) < 1e-10
    assert tl.testing.rel_error(grad, expected_grad) < 1e-10


@pytest.mark.parametrize("case", LAYER_CASES, ids=CASE_IDS)
def test_layer_gradcheck_and_gradgradcheck_float64(case):
    name, build, shape, forward = case
    module = build(nn).double()
    module.load_state_dict({k: tl.tensor(v) for k, v in weights(module, seed=3).items()})
    x = tl.tensor(make_input(shape, seed=3), requires_grad=True)
    params = [p for p in module.parameters()]
    assert tl.gradcheck(lambda x, *ps: forward(module, x), [x, *params])
    assert tl.gradgradcheck(lambda x, *ps: forward(module, x), [x, *params])


# -- what a student writes, checked without torch --------------------------------------------
def test_same_padding_keeps_the_size_and_even_kernels_pad_after():
    x = tl.tensor(np.arange(2 * 5 * 6, dtype=np.float32).reshape(1, 2, 5, 6))
    conv = nn.Conv2d(2, 3, (2, 4), padding="same")
    assert conv(x).shape == (1, 3, 5, 6)
    ones = tl.ones((1, 1, 2, 2))
    y = F.conv2d(tl.ones((1, 1, 3, 3)), ones, padding="same")  # the extra row and column go after (PyTorch)
    np.testing.assert_array_equal(y.numpy()[0, 0], [[4, 4, 2], [4, 4, 2], [2, 2, 1]])


def test_unbatched_conv_is_a_batch_of_one():
    conv = nn.Conv2d(3, 4, 3, padding=1)
    x = tl.randn(3, 5, 6)
    np.testing.assert_allclose(conv(x).detach().numpy(), conv(x.unsqueeze(0)).detach().numpy()[0], rtol=1e-6)


def test_pad_modes_by_hand():
    x = tl.tensor(np.array([[[1.0, 2.0, 3.0]]]))
    expected = {"constant": [0, 0, 1, 2, 3, 0], "reflect": [3, 2, 1, 2, 3, 2], "replicate": [1, 1, 1, 2, 3, 3],
                "circular": [2, 3, 1, 2, 3, 1]}
    for mode, values in expected.items():
        np.testing.assert_array_equal(F.pad(x, (2, 1), mode=mode).numpy()[0, 0], values)


def test_unpool_puts_the_maxima_back():
    x = tl.tensor(np.array([[[[1.0, 5.0], [3.0, 2.0]]]]))
    values, indices = F.max_pool2d(x, 2, return_indices=True)
    assert indices.dtype == np.int64 and indices.item() == 1
    np.testing.assert_array_equal(nn.MaxUnpool2d(2)(values, indices).numpy()[0, 0], [[0, 5], [0, 0]])


def test_ceil_mode_keeps_the_last_partial_window():
    x = tl.tensor(np.arange(25.0).reshape(1, 1, 5, 5))
    assert F.max_pool2d(x, 2).shape == (1, 1, 2, 2)
    y = F.max_pool2d(x, 2, ceil_mode=True)
    np.testing.assert_array_equal(y.numpy()[0, 0], [[6, 8, 9], [16, 18, 19], [21, 23, 24]])
    averaged = F.avg_pool2d(x, 2, ceil_mode=True)  # the partial windows divide by their pixels in the input
    assert averaged.numpy()[0, 0, 2, 2] == 24 and averaged.numpy()[0, 0, 0, 2] == (4 + 9) / 2


def test_upsample_nearest_repeats_pixels():
    x = tl.tensor(np.array([[[[1.0, 2.0]]]]))
    np.testing.assert_array_equal(nn.Upsample(scale_factor=2)(x).numpy()[0, 0], [[1, 1, 2, 2], [1, 1, 2, 2]])


def test_bilinear_align_corners_keeps_the_corners_and_interpolates_between():
    x = tl.tensor(np.array([[[[0.0, 3.0]]]]))
    y = F.interpolate(x, size=(1, 4), mode="bilinear", align_corners=True)
    np.testing.assert_allclose(y.numpy()[0, 0, 0], [0, 1, 2, 3])


ERRORS = [  # (call, minitl's error type, which is PyTorch's too)
    (lambda F, T: F.pad(T(np.ones((2, 3, 4))), (1, 1), mode="reflect", value=1.0), RuntimeError),
    (lambda F, T: F.pad(T(np.ones((2, 3, 4))), (4, 1), mode="reflect"), RuntimeError),
    (lambda F, T: F.pad(T(np.ones((2, 3, 4))), (5, 1), mode="circular"), RuntimeError),
    (lambda F, T: F.pad(T(np.ones((2, 3, 4))), (1,)), RuntimeError),
    (lambda F, T: F.pad(T(np.ones((2, 3, 4))), (1, 1), mode="wrap"), NotImplementedError),
    (lambda F, T: F.conv2d(T(np.ones((1, 2, 5, 5))), T(np.ones((2, 2, 3, 3))), padding="same", stride=2),
     RuntimeError),
    (lambda F, T: F.conv2d(T(np.ones((1, 2, 5, 5))), T(np.ones((2, 2, 3, 3))), padding="full"), RuntimeError),
    (lambda F, T: F.interpolate(T(np.ones((1, 2, 3, 3))), scale_factor=2, align_corners=True), ValueError),
    (lambda F, T: F.interpolate(T(np.ones((1, 2, 3, 3))), size=4, scale_factor=2), ValueError),
]
MODULE_ERRORS = [
    (lambda nn: nn.Conv2d(2, 2, 3, padding="full"), ValueError),
    (lambda nn: nn.Conv2d(2, 2, 3, padding="same", stride=2), ValueError),
    (lambda nn: nn.Conv2d(2, 2, 3, padding_mode="mirror"), ValueError),
    (lambda nn: nn.ConvTranspose2d(2, 2, 3, padding_mode="reflect"), ValueError),
]


@pytest.mark.parametrize("call, error", ERRORS)
def test_functional_errors(call, error):
    with pytest.raises(error):
        call(F, lambda a: tl.tensor(a))


@pytest.mark.parametrize("call, error", MODULE_ERRORS)
def test_module_errors(call, error):
    with pytest.raises(error):
        call(nn)


@pytest.mark.torch
@pytest.mark.parametrize("call, error", ERRORS)
def test_functional_errors_are_pytorchs(call, error):
    torch = pytest.importorskip("torch")
    with pytest.raises(error):
        call(torch.nn.functional, torch.tensor)


@pytest.mark.torch
@pytest.mark.parametrize("call, error", MODULE_ERRORS)
def test_module_errors_are_pytorchs(call, error):
    torch = pytest.importorskip("torch")
    with pytest.raises(error):
        call(torch.nn)


NEW_NAMES = ["Conv1d", "Conv2d", "MaxPool2d", "AvgPool2d", "AdaptiveMaxPool2d", "MaxUnpool2d", "Unflatten", "Upsample",
             "ConvTranspose2d"]
NEW_FUNCTIONS = ["pad", "interpolate", "max_pool2d", "adaptive_max_pool2d", "max_unpool2d"]


def _parameters(function):
    return [(p.name, p.default) for p in inspect.signature(function).parameters.values()]


@pytest.mark.torch
@pytest.mark.parametrize("name", NEW_NAMES)
def test_module_signatures_are_pytorchs(name):
    torch = pytest.importorskip("torch")
    assert _parameters(getattr(nn, name).__init__) == _parameters(getattr(torch.nn, name).__init__)


@pytest.mark.torch
@pytest.mark.parametrize("name", NEW_FUNCTIONS)
def test_function_defaults_are_pytorchs(name):
    """The keyword defaults (PyTorch's first argument is `input`, minitl's sometimes `x`).

    conv1d and avg_pool2d are built into torch, without a signature to compare."""
    torch = pytest.importorskip("torch")
    dispatched = name + "_with_indices" if name.endswith("max_pool2d") else name  # torch's max pools dispatch
    ours, theirs = _parameters(getattr(F, name)), _parameters(getattr(torch.nn.functional, dispatched))
    assert ours[1:] == theirs[1:len(ours)]
