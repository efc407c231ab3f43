"""Layers: PyTorch's defaults, initialisation and printed form; the small CNN of module_cases against
PyTorch (state_dict keys, loading torch weights, training steps with BatchNorm), golden and live."""
import math
import pathlib
import sys

import numpy as np
import pytest

import minitl as tl
from minitl import nn

from cases import module_cases as cases

GOLDEN = np.load(pathlib.Path(__file__).parent / "golden" / "module.npz")
TOLERANCE = 1e-10  # float64 parity with PyTorch (observed: about 1e-15)


def float64_tensor(array):
    return tl.tensor(array, dtype=tl.float64)


def minitl_run(initial, x, batches):
    """The small CNN with torch's initial weights: eval output on x, then the state after training."""
    model = cases.small_cnn(nn).double()
    model.load_state_dict(initial)
    with tl.no_grad():
        eval_output = model.eval()(float64_tensor(x)).numpy()
    cases.train_steps(cases.freeze_modes(model), batches, float64_tensor)
    return model, eval_output, model.state_dict()


def assert_state_close(actual, expected):
    assert list(actual) == list(expected)
    for name in expected:
        assert actual[name].dtype.kind == expected[name].dtype.kind, name
        assert tl.testing.rel_error(actual[name], expected[name]) <= TOLERANCE, name


# -- defaults, initialisation, repr ----------------------------------------------------------
def test_linear_and_conv_default_init_is_uniform_in_one_over_sqrt_fan_in():
    tl.manual_seed(0)
    for layer, fan_in in [(nn.Linear(200, 300), 200), (nn.Conv2d(16, 300, 3, groups=2), 8 * 9)]:
        bound = 1 / math.sqrt(fan_in)
        for p in (layer.weight, layer.bias):
            assert p.dtype == tl.float32 and np.abs(p.data).max() <= bound
            assert np.abs(p.data).max() > 0.95 * bound
        assert abs(layer.weight.data.std() * math.sqrt(3) / bound - 1) < 0.02


def test_layers_are_seeded_and_take_dtype():
    tl.manual_seed(1)
    a = nn.Conv2d(2, 3, 3, dtype=tl.float64)
    tl.manual_seed(1)
    b = nn.Conv2d(2, 3, 3, dtype=tl.float64)
    assert a.weight.dtype == tl.float64 and np.array_equal(a.weight.data, b.weight.data)
    bn = nn.BatchNorm2d(3, dtype=tl.float64)
    assert bn.running_var.dtype == tl.float64 and bn.num_batches_tracked.dtype == tl.int64


def test_batchnorm_starts_as_identity_with_pytorch_buffers():
    bn = nn.BatchNorm1d(3)
    assert bn.weight.tolist() == [1, 1, 1] and bn.bias.tolist() == [0, 0, 0]
    assert bn.running_mean.tolist() == [0, 0, 0] and bn.running_var.tolist() == [1, 1, 1]
    assert bn.num_batches_tracked.shape == () and bn.num_batches_tracked.item() == 0
    assert list(nn.BatchNorm2d(2, affine=False).state_dict()) == ["running_mean", "running_var",
                                                                  "num_batches_tracked"]
    assert list(nn.BatchNorm2d(2, track_running_stats=False).state_dict()) == ["weight", "bias"]
    assert list(nn.BatchNorm2d(2, bias=False).state_dict())[:2] == ["weight", "running_mean"]


def test_input_checks_name_what_came():
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected 4D input \(got 3D input of shape \(2, 3, 4\)\)"):
        nn.BatchNorm2d(3)(tl.zeros(2, 3, 4))
    with pytest.raises(ValueError, match="BatchNorm1d: expected 2D or 3D input"):
        nn.BatchNorm1d(3)(tl.zeros(2, 3, 4, 4))
    with pytest.raises(ValueError, match=r"expected 3 channels in dim 1, got input of shape \(2, 4\)"):
        nn.BatchNorm1d(3)(tl.zeros(2, 4))
    with pytest.raises(ValueError, match="between 0 and 1, but got 1.5"):
        nn.Dropout(1.5)
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)


def test_extra_repr_matches_pytorch():
    # the strings PyTorch 2.13 prints for the same constructors
    expected = {
        nn.Linear(3, 4, bias=False): "Linear(in_features=3, out_features=4, bias=False)",
        nn.Conv2d(2, 4, 3, padding=1, dilation=2, groups=2):
            "Conv2d(2, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), dilation=(2, 2), groups=2)",
        nn.Conv2d(3, 4, (1, 3), stride=2, bias=False): "Conv2d(3, 4, kernel_size=(1, 3), stride=(2, 2), bias=False)",
        nn.MaxPool2d(2): "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)",
        nn.AvgPool2d(3, 1, 1): "AvgPool2d(kernel_size=3, stride=1, padding=1)",
        nn.AdaptiveAvgPool2d((1, 1)): "AdaptiveAvgPool2d(output_size=(1, 1))",
        nn.BatchNorm2d(4): "BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)",
        nn.BatchNorm1d(3, momentum=None, affine=False):
            "BatchNorm1d(3, eps=1e-05, momentum=None, affine=False, bias=False, track_running_stats=True)",
        nn.Dropout(): "Dropout(p=0.5, inplace=False)",
        nn.Dropout2d(0.2): "Dropout2d(p=0.2, inplace=False)",
        nn.ReLU(): "ReLU()",
        nn.LeakyReLU(): "LeakyReLU(negative_slope=0.01)",
        nn.Sigmoid(): "Sigmoid()",
        nn.Tanh(): "Tanh()",
        nn.Flatten(): "Flatten(start_dim=1, end_dim=-1)",
        nn.Identity(): "Identity()",
        nn.GELU(): "GELU(approximate='none')",
        nn.GELU("tanh"): "GELU(approximate='tanh')",
        nn.Softmax(dim=1): "Softmax(dim=1)",
        nn.LogSoftmax(-1): "LogSoftmax(dim=-1)",
        nn.CrossEntropyLoss(label_smoothing=0.1): "CrossEntropyLoss()",
        nn.BCEWithLogitsLoss(): "BCEWithLogitsLoss()",
    }
    for layer, text in expected.items():
        assert repr(layer) == text


# -- forward behaviour ---------------------------------------------------------------------------
def test_flatten_dropout_and_modes():
    x = tl.ones(2, 3, 4, 5)
    assert nn.Flatten()(x).shape == (2, 60) and nn.Flatten(0, 1)(x).shape == (6, 4, 5)
    drop = nn.Dropout(0.25)
    tl.manual_seed(0)
    y = drop(tl.ones(100, 100)).numpy()
    assert set(np.unique(y)) == {0, np.float32(1 / 0.75)} and abs((y == 0).mean() - 0.25) < 0.02
    assert np.array_equal(drop.eval()(x).numpy(), x.numpy())
    channels = nn.Dropout2d(0.5)(tl.ones(4, 8, 3, 3)).numpy()  # whole channels kept or dropped
    assert (channels.min(axis=(2, 3)) == channels.max(axis=(2, 3))).all() and 0 < (channels == 0).mean() < 1


def test_batchnorm_counts_batches_only_while_training():
    bn = nn.BatchNorm2d(2)
    x = tl.randn(4, 2, 3, 3) * 3 + 1
    bn(x)
    bn(x)
    assert bn.num_batches_tracked.item() == 2 and not np.allclose(bn.running_mean.data, 0)
    stats = bn.running_mean.data.copy()
    bn.eval()(x)
    assert bn.num_batches_tracked.item() == 2 and np.array_equal(bn.running_mean.data, stats)


# -- the small CNN against PyTorch -------------------------------------------------------------
def test_state_dict_keys_order_and_shapes_match_pytorch():
    state = cases.small_cnn(nn).state_dict()
    assert list(state) == GOLDEN["keys"].tolist()
    for name, value in state.items():
        assert value.shape == GOLDEN[f"initial/{name}"].shape, name


def golden_inputs():
    initial = {name: GOLDEN[f"initial/{name}"] for name in GOLDEN["keys"]}
    batches = [(GOLDEN[f"batch{i}/x"], GOLDEN[f"batch{i}/upstream"]) for i in range(cases.STEPS)]
    return initial, GOLDEN["x"], batches


def test_torch_weights_give_torch_outputs_and_training_matches():
    initial, x, batches = golden_inputs()
    model, eval_output, trained = minitl_run(initial, x, batches)
    assert tl.testing.rel_error(eval_output, GOLDEN["eval_output"]) <= TOLERANCE
    assert_state_close(trained, {name: GOLDEN[f"trained/{name}"] for name in GOLDEN["keys"]})
    # the frozen BatchNorm kept its statistics; the training ones counted the steps
    assert trained["features.4.1.num_batches_tracked"] == 0 and trained["features.1.num_batches_tracked"] == 3
    assert np.array_equal(trained["features.4.1.running_var"], initial["features.4.1.running_var"])


@pytest.mark.torch
def test_live_pytorch():
    pytest.importorskip("torch")
    sys.path.insert(0, str(pathlib.Path(__file__).parent / "golden"))
    from make_module_golden import torch_reference

    ref = torch_reference(seed=1)
    model, eval_output, trained = minitl_run(ref["initial"], ref["x"], ref["batches"])
    assert list(cases.small_cnn(nn).state_dict()) == ref["keys"]
    assert repr(model) == repr(_torch_small_cnn())
    assert tl.testing.rel_error(eval_output, ref["eval_output"]) <= TOLERANCE
    assert_state_close(trained, ref["trained"])


def _torch_small_cnn():
    import torch
    return cases.small_cnn(torch.nn)


BATCHNORM_VARIANTS = {
    "1d on (N, C)": (lambda nn: nn.BatchNorm1d(3), (8, 3)),
    "1d on (N, C, L)": (lambda nn: nn.BatchNorm1d(3, momentum=0.3), (4, 3, 5)),
    "2d cumulative average": (lambda nn: nn.BatchNorm2d(3, momentum=None), (4, 3, 2, 2)),
    "2d without running stats": (lambda nn: nn.BatchNorm2d(3, track_running_stats=False), (4, 3, 2, 2)),
    "2d not affine": (lambda nn: nn.BatchNorm2d(3, affine=False, eps=1e-3), (4, 3, 2, 2)),
}


@pytest.mark.torch
@pytest.mark.parametrize("variant", list(BATCHNORM_VARIANTS))
def test_batchnorm_variants_match_live_pytorch(variant):
    torch = pytest.importorskip("torch")
    make, shape = BATCHNORM_VARIANTS[variant]
    reference, layer = make(torch.nn).double(), make(nn).double()
    rng = np.random.default_rng(0)
    for step in range(4):
        x = rng.normal(size=shape) * 2 + step
        if step == 3:  # the last forward in eval mode
            reference.eval(), layer.eval()
        expected = reference(torch.tensor(x)).detach().numpy()
        assert tl.testing.rel_error(layer(float64_tensor(x)), expected) <= TOLERANCE, f"step {step}"
    assert_state_close(layer.state_dict(), {k: v.numpy() for k, v in reference.state_dict().items()})


LAYERS = {
    "linear": (lambda nn: nn.Linear(5, 3), (4, 5)),
    "conv": (lambda nn: nn.Conv2d(4, 6, 3, stride=2, padding=1, dilation=1, groups=2), (2, 4, 7, 7)),
    "conv dilated": (lambda nn: nn.Conv2d(2, 3, (3, 2), dilation=2, bias=False), (2, 2, 8, 8)),
    "max pool": (lambda nn: nn.MaxPool2d(3, stride=2, padding=1), (2, 3, 7, 7)),
    "avg pool": (lambda nn: nn.AvgPool2d(2), (2, 3, 6, 6)),
    "adaptive avg pool": (lambda nn: nn.AdaptiveAvgPool2d(1), (2, 3, 5, 5)),
    "leaky relu": (lambda nn: nn.LeakyReLU(0.2), (3, 4)),
    "sigmoid": (lambda nn: nn.Sigmoid(), (3, 4)),
    "tanh": (lambda nn: nn.Tanh(), (3, 4)),
    "flatten": (lambda nn: nn.Flatten(), (2, 3, 2, 2)),
}


@pytest.mark.torch
@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_forward_and_gradients_match_live_pytorch(name):
    torch = pytest.importorskip("torch")
    make, shape = LAYERS[name]
    reference, layer = make(torch.nn).double(), make(nn).double()
    layer.load_state_dict(reference.state_dict())
    x = np.random.default_rng(0).normal(size=shape)
    tx, mx = torch.tensor(x, requires_grad=True), tl.tensor(x, dtype=tl.float64, requires_grad=True)
    expected, output = reference(tx), layer(mx)
    upstream = np.random.default_rng(1).normal(size=tuple(expected.shape))
    expected.backward(torch.tensor(upstream))
    output.backward(float64_tensor(upstream))
    assert tl.testing.rel_error(output.detach(), expected.detach().numpy()) <= TOLERANCE
    assert tl.testing.rel_error(mx.grad, tx.grad.numpy()) <= TOLERANCE
    for (pname, p), (_, q) in zip(layer.named_parameters(), reference.named_parameters()):
        assert tl.testing.rel_error(p.grad, q.grad.numpy()) <= TOLERANCE, pname
