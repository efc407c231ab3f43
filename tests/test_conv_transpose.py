"""F.conv_transpose2d and nn.ConvTranspose2d: PyTorch's values and gradients, conv2d's adjoint, double backward."""
import pathlib
import sys

import numpy as np
import pytest

import minitl as tl
import minitl.nn.functional as F

from cases.conv_transpose_cases import CASES, make_arrays

GOLDEN = np.load(pathlib.Path(__file__).parent / "golden" / "conv_transpose.npz")
IDS = [case[0] for case in CASES]


def minitl_results(options, arrays, dtype=tl.float64):
    x, weight, bias, upstream = arrays
    inputs = [tl.tensor(a, dtype=dtype, requires_grad=True) if a is not None else None for a in (x, weight, bias)]
    y = F.conv_transpose2d(inputs[0], inputs[1], inputs[2], **options)
    y.backward(tl.tensor(upstream, dtype=dtype))
    return [y.detach().numpy()] + [t.grad.numpy() for t in inputs if t is not None]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_matches_recorded_pytorch(case):
    name, options, _ = case
    arrays = [GOLDEN[f"{name}/{key}"] if f"{name}/{key}" in GOLDEN.files else None
              for key in ("input", "weight", "bias", "upstream")]
    for i, result in enumerate(minitl_results(options, arrays)):
        assert tl.testing.rel_error(result, GOLDEN[f"{name}/result{i}"]) < 1e-10, f"result {i}"


@pytest.mark.torch
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_matches_live_pytorch(case):
    pytest.importorskip("torch")
    sys.path.insert(0, str(pathlib.Path(__file__).parent / "golden"))
    from make_conv_transpose_golden import torch_reference

    _, options, shapes = case
    arrays = make_arrays(options, shapes, seed=42)
    for result, expected in zip(minitl_results(options, arrays), torch_reference(options, arrays), strict=True):
        assert tl.testing.rel_error(result, expected) < 1e-10
    for result, expected in zip(minitl_results(options, arrays, tl.float32), torch_reference(options, arrays)):
        assert tl.testing.rel_error(result, expected) < 1e-5


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_is_the_adjoint_of_conv2d(case):
    _, options, shapes = case
    x, weight, _, upstream = make_arrays(options, shapes, seed=3)
    conv_options = {k: v for k, v in options.items() if k != "output_padding"}
    y = F.conv_transpose2d(tl.tensor(x, dtype=tl.float64), tl.tensor(weight, dtype=tl.float64), **options)
    g = tl.tensor(upstream, dtype=tl.float64)
    conv = F.conv2d(g, tl.tensor(weight, dtype=tl.float64), **conv_options)
    assert float((y * g).sum()) == pytest.approx(float((tl.tensor(x, dtype=tl.float64) * conv).sum()), rel=1e-12)


@pytest.mark.parametrize("case", CASES[:2], ids=IDS[:2])
def test_gradcheck_and_gradgradcheck(case):
    _, options, shapes = case
    x, weight, bias, _ = make_arrays(options, shapes, seed=5)
    inputs = [tl.tensor(a, dtype=tl.float64, requires_grad=True) for a in (x, weight, bias) if a is not None]
    assert tl.gradcheck(lambda *t: F.conv_transpose2d(*t, **options), inputs)
    assert tl.gradgradcheck(lambda *t: F.conv_transpose2d(*t, **options), inputs)


def test_module_has_pytorch_shapes_names_and_output_size():
    layer = tl.nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2)
    assert layer.weight.shape == (4, 3, 3, 3) and layer.bias.shape == (6,)
    assert list(layer.state_dict()) == ["weight", "bias"]
    bound = 1 / np.sqrt(3 * 3 * 3)  # fan_in = weight.shape[1] * kh * kw, as in PyTorch
    assert np.abs(layer.bias.detach().numpy()).max() <= bound
    assert layer(tl.randn(2, 4, 5, 5)).shape == (2, 6, 10, 10)
    assert "output_padding=(1, 1)" in repr(layer)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="output_padding"):
        F.conv_transpose2d(tl.ones(1, 2, 3, 3), tl.ones(2, 1, 3, 3), output_padding=1)
    with pytest.raises(ValueError, match=r"weight must be \(2, C_out / groups, kh, kw\)"):
        F.conv_transpose2d(tl.ones(1, 2, 3, 3), tl.ones(3, 1, 3, 3))
