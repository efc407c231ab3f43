"""The PyTorch idioms a student types first: loss and activation Modules, nn.utils, model.to(dtype)."""
import numpy as np
import pytest

import minitl as tl
import minitl.nn.functional as F
from minitl import models, nn, optim

RNG = np.random.default_rng(0)
LOGITS = RNG.normal(size=(6, 4))
LABELS = np.array([3, 0, -100, 1, 2, 0])
WEIGHT = np.array([0.5, 1.0, 2.0, 1.5])
SCORES, TARGETS = RNG.normal(size=(3, 4)), RNG.uniform(size=(3, 4))

# (name, module from lib, input arrays; an integer array is a target, the rest float64 inputs)
MODULE_CASES = [
    ("CrossEntropyLoss", lambda lib: lib.nn.CrossEntropyLoss(), [LOGITS, np.abs(LABELS) % 4]),
    ("CrossEntropyLoss_weight_ignore_smoothing",
     lambda lib: lib.nn.CrossEntropyLoss(lib.tensor(WEIGHT), label_smoothing=0.1), [LOGITS, LABELS]),
    ("CrossEntropyLoss_sum_ignore_index",
     lambda lib: lib.nn.CrossEntropyLoss(ignore_index=0, reduction="sum"), [LOGITS, np.abs(LABELS) % 4]),
    ("NLLLoss_after_LogSoftmax",
     lambda lib: lib.nn.Sequential(lib.nn.LogSoftmax(dim=1)), [LOGITS], lambda lib: lib.nn.NLLLoss(
         weight=lib.tensor(WEIGHT), reduction="none")),
    ("MSELoss", lambda lib: lib.nn.MSELoss(), [SCORES, TARGETS]),
    ("MSELoss_sum", lambda lib: lib.nn.MSELoss(reduction="sum"), [SCORES, TARGETS]),
    ("BCEWithLogitsLoss_pos_weight",
     lambda lib: lib.nn.BCEWithLogitsLoss(pos_weight=lib.tensor(np.array([1.0, 2.0, 0.5, 3.0]))), [SCORES, TARGETS]),
    ("Softmax", lambda lib: lib.nn.Softmax(dim=0), [SCORES]),
    ("GELU", lambda lib: lib.nn.GELU(), [SCORES * 2]),
    ("GELU_tanh", lambda lib: lib.nn.GELU(approximate="tanh"), [SCORES * 2]),
]


def run(lib, case):
    """Output and input gradients of the case in float64, with `lib` minitl or torch."""
    name, make, arrays, *then = case
    inputs = [lib.tensor(a) if a.dtype.kind == "i" else lib.tensor(a, requires_grad=True) for a in arrays]
    output = make(lib)(*inputs)
    if then:  # NLLLoss on the LogSoftmax output
        output = then[0](lib)(output, lib.tensor(LABELS))
    (output * lib.tensor(np.linspace(1.0, 2.0, output.numel()).reshape(output.shape))).sum().backward()
    return output.detach().numpy(), [x.grad.numpy() for x in inputs if x.requires_grad]


class Minitl:
    nn = nn

    @staticmethod
    def tensor(array, requires_grad=False):
        return tl.tensor(array, dtype=tl.float64 if array.dtype.kind == "f" else None, requires_grad=requires_grad)


@pytest.mark.parametrize("case", MODULE_CASES, ids=[c[0] for c in MODULE_CASES])
def test_modules_are_their_functions(case):
    """Each Module calls the F function of the same name with its options (F is torch-checked in test_functional)."""
    output, grads = run(Minitl, case)
    x = [tl.tensor(a, dtype=tl.float64 if a.dtype.kind == "f" else None) for a in case[2]]
    direct = {
        "CrossEntropyLoss": lambda: F.cross_entropy(*x),
        "CrossEntropyLoss_weight_ignore_smoothing":
            lambda: F.cross_entropy(*x, tl.tensor(WEIGHT, dtype=tl.float64), label_smoothing=0.1),
        "CrossEntropyLoss_sum_ignore_index": lambda: F.cross_entropy(*x, ignore_index=0, reduction="sum"),
        "NLLLoss_after_LogSoftmax": lambda: F.nll_loss(F.log_softmax(x[0], 1), tl.tensor(LABELS),
                                                       tl.tensor(WEIGHT, dtype=tl.float64), reduction="none"),
        "MSELoss": lambda: F.mse_loss(*x),
        "MSELoss_sum": lambda: F.mse_loss(*x, reduction="sum"),
        "BCEWithLogitsLoss_pos_weight": lambda: F.binary_cross_entropy_with_logits(
            *x, pos_weight=tl.tensor([1.0, 2.0, 0.5, 3.0], dtype=tl.float64)),
        "Softmax": lambda: F.softmax(x[0], 0),
        "GELU": lambda: F.gelu(x[0]),
        "GELU_tanh": lambda: F.gelu(x[0], approximate="tanh"),
    }[case[0]]()
    np.testing.assert_array_equal(output, direct.numpy())
    assert all(g.dtype == np.float64 for g in grads)


@pytest.mark.torch
@pytest.mark.parametrize("case", MODULE_CASES, ids=[c[0] for c in MODULE_CASES])
def test_modules_match_live_pytorch(case):
    torch = pytest.importorskip("torch")

    class Torch:
        nn = torch.nn

        @staticmethod
        def tensor(array, requires_grad=False):
            return torch.tensor(array, requires_grad=requires_grad)

    output, grads = run(Minitl, case)
    expected, expected_grads = run(Torch, case)
    assert tl.testing.rel_error(output, expected) < 1e-12
    for grad, want in zip(grads, expected_grads, strict=True):
        assert tl.testing.rel_error(grad, want) < 1e-12


def test_loss_weights_are_buffers_that_move_with_the_module():
    criterion = nn.CrossEntropyLoss(weight=tl.tensor(WEIGHT))
    assert [name for name, _ in criterion.named_buffers()] == ["weight"]
    criterion.to(tl.float64)
    assert criterion.weight.dtype == tl.float64


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="reduction must be one of"):
        nn.MSELoss(reduction="average")
    with pytest.raises(TypeError, match=r"Softmax needs dim, e.g. Softmax\(dim=1\)"):
        nn.Softmax()
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh', got 'erf'"):
        nn.GELU("erf")(tl.zeros(2))
    with pytest.raises(ValueError, match=r"weight must have one entry per class, shape \(4,\), got \(3,\)"):
        F.cross_entropy(tl.zeros(2, 4), tl.tensor([0, 1]), tl.ones(3))
    with pytest.raises(TypeError, match="the third argument is the class weight, as in PyTorch, got 'sum'; pass "
                                        "reduction='sum' by keyword"):
        F.cross_entropy(tl.zeros(2, 4), tl.tensor([0, 1]), "sum")
    with pytest.raises(ValueError, match=r"must lie in \[0, 3\] \(or equal ignore_index=-100\), got values from 0 to 7"):
        F.cross_entropy(tl.zeros(2, 4), tl.tensor([0, 7]))


def test_every_sample_ignored_gives_nan_as_pytorch():
    with np.errstate(invalid="ignore"):  # 0 / 0
        loss = F.cross_entropy(tl.zeros(2, 3), tl.tensor([-100, -100]))
    assert np.isnan(loss.item())


# -- nn.utils ------------------------------------------------------------------------------------
def test_nn_utils_clipping_is_optims():
    assert nn.utils.clip_grad_norm_ is optim.clip_grad_norm_
    assert nn.utils.clip_grad_value_ is optim.clip_grad_value_


def test_clip_grad_value_clamps_every_element():
    a, b = tl.tensor([1.0, -2.0], requires_grad=True), tl.tensor([[0.5, 3.0]], requires_grad=True)
    a.grad, b.grad = tl.tensor([0.3, -4.0]), tl.tensor([[-0.7, 9.0]])
    frozen = tl.tensor([1.0], requires_grad=True)
    assert nn.utils.clip_grad_value_([a, b, frozen], clip_value=0.5) is None
    np.testing.assert_array_equal(a.grad.numpy(), np.array([0.3, -0.5], np.float32))
    np.testing.assert_array_equal(b.grad.numpy(), [[-0.5, 0.5]])
    assert frozen.grad is None


@pytest.mark.torch
def test_clip_grad_value_matches_live_pytorch():
    torch = pytest.importorskip("torch")
    grads = [RNG.normal(size=(3, 2)), RNG.normal(size=5)]
    ours = [tl.tensor(np.zeros_like(g), dtype=tl.float64, requires_grad=True) for g in grads]
    theirs = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, q, g in zip(ours, theirs, grads):
        p.grad, q.grad = tl.tensor(g, dtype=tl.float64), torch.tensor(g)
    nn.utils.clip_grad_value_(ours, 0.4)
    torch.nn.utils.clip_grad_value_(theirs, 0.4)
    for p, q in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())


# -- Module.to and weights= -------------------------------------------------------------------------
@pytest.mark.parametrize("convert", [lambda m: m.to(tl.float64), lambda m: m.to("cpu", tl.float64),
                                     lambda m: m.to(tl.zeros(1, dtype=tl.float64)),
                                     lambda m: m.to(dtype="float64"), lambda m: m.double()])
def test_module_to_takes_dtype_and_device_positionally_as_torch(convert):
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    weight = model[0].weight
    assert convert(model) is model
    assert model[0].weight is weight and weight.dtype == tl.float64
    assert model[1].running_mean.dtype == tl.float64 and model[1].num_batches_tracked.dtype == tl.int64


def test_module_to_refuses_integer_dtypes_and_three_arguments():
    with pytest.raises(TypeError, match="casts only to floating-point dtypes, got int64"):
        nn.Linear(2, 2).to(tl.int64)
    with pytest.raises(TypeError, match="at most a device and a dtype, got 3 arguments"):
        nn.Linear(2, 2).to("cpu", tl.float64, True)


def test_weights_true_says_what_weights_accepts():
    with pytest.raises(TypeError, match=r"resnet20: weights= accepts None \(random initialisation\), a registered "
                                        r"name \('cifar10'\) or the path of a checkpoint; got True"):
        models.resnet20(weights=True)
