"""Issue 32's layers and losses as Modules: PyTorch's reprs, state_dict keys, initialisation, in-place rules
and errors. The functional forms' values and gradients are in tests/cases/nn_cases.py (test_functional.py)."""
import math

import numpy as np
import pytest

import minitl as tl
import minitl.nn.functional as F
from minitl import nn

# (minitl constructor, the torch expression that makes the same module, its repr as torch 2.13 prints it)
MODULES = [
    (lambda: nn.ELU(alpha=0.5, inplace=True), "nn.ELU(alpha=0.5, inplace=True)", "ELU(alpha=0.5, inplace=True)"),
    (lambda: nn.SiLU(), "nn.SiLU()", "SiLU()"),
    (lambda: nn.SiLU(inplace=True), "nn.SiLU(inplace=True)", "SiLU(inplace=True)"),
    (lambda: nn.Softplus(), "nn.Softplus()", "Softplus(beta=1.0, threshold=20.0)"),
    (lambda: nn.Hardtanh(-2.0, 3.0), "nn.Hardtanh(-2.0, 3.0)", "Hardtanh(min_val=-2.0, max_val=3.0)"),
    (lambda: nn.PReLU(3), "nn.PReLU(3)", "PReLU(num_parameters=3)"),
    (lambda: nn.ReLU(inplace=True), "nn.ReLU(inplace=True)", "ReLU(inplace=True)"),
    (lambda: nn.LeakyReLU(0.2, True), "nn.LeakyReLU(0.2, True)", "LeakyReLU(negative_slope=0.2, inplace=True)"),
    (lambda: nn.LayerNorm([3, 4]), "nn.LayerNorm([3, 4])",
     "LayerNorm((3, 4), eps=1e-05, elementwise_affine=True, bias=True)"),
    (lambda: nn.LayerNorm(4, bias=False), "nn.LayerNorm(4, bias=False)",
     "LayerNorm((4,), eps=1e-05, elementwise_affine=True, bias=False)"),
    (lambda: nn.GroupNorm(2, 4), "nn.GroupNorm(2, 4)", "GroupNorm(2, 4, eps=1e-05, affine=True, bias=True)"),
    (lambda: nn.GroupNorm(1, 3, affine=False), "nn.GroupNorm(1, 3, affine=False)",
     "GroupNorm(1, 3, eps=1e-05, affine=False, bias=False)"),
    (lambda: nn.Embedding(10, 3, padding_idx=-1), "nn.Embedding(10, 3, padding_idx=-1)",
     "Embedding(10, 3, padding_idx=9)"),
    (lambda: nn.L1Loss(), "nn.L1Loss()", "L1Loss()"),
    (lambda: nn.SmoothL1Loss(beta=0.5), "nn.SmoothL1Loss(beta=0.5)", "SmoothL1Loss()"),
    (lambda: nn.HuberLoss(delta=2.0), "nn.HuberLoss(delta=2.0)", "HuberLoss()"),
    (lambda: nn.BCELoss(), "nn.BCELoss()", "BCELoss()"),
    (lambda: nn.KLDivLoss(reduction="batchmean", log_target=True),
     "nn.KLDivLoss(reduction='batchmean', log_target=True)", "KLDivLoss()"),
    (lambda: nn.MultiMarginLoss(p=2, margin=0.5), "nn.MultiMarginLoss(p=2, margin=0.5)", "MultiMarginLoss()"),
]
IDS = [case[1] for case in MODULES]


def state_shapes(module):
    return {name: tuple(value.shape) for name, value in module.state_dict().items()}


@pytest.mark.parametrize("make, torch_expression, text", MODULES, ids=IDS)
def test_repr_is_pytorchs(make, torch_expression, text):
    assert repr(make()) == text


@pytest.mark.torch
@pytest.mark.parametrize("make, torch_expression, text", MODULES, ids=IDS)
def test_repr_and_state_dict_match_live_pytorch(make, torch_expression, text):
    torch = pytest.importorskip("torch")
    theirs = eval(torch_expression, {"nn": torch.nn})
    ours = make()
    assert repr(theirs) == text == repr(ours)
    assert state_shapes(ours) == {name: tuple(value.shape) for name, value in theirs.state_dict().items()}
    assert [name for name, _ in ours.named_parameters()] == [name for name, _ in theirs.named_parameters()]


def test_deterministic_initialisation_is_pytorchs():
    np.testing.assert_array_equal(nn.PReLU(3).weight.detach().numpy(), [0.25] * 3)
    np.testing.assert_array_equal(nn.PReLU(init=0.1).weight.detach().numpy(), np.float32([0.1]))
    norm = nn.LayerNorm([3, 4])
    np.testing.assert_array_equal(norm.weight.detach().numpy(), np.ones((3, 4)))
    np.testing.assert_array_equal(norm.bias.detach().numpy(), np.zeros((3, 4)))
    group = nn.GroupNorm(2, 4, dtype=tl.float64)
    assert group.weight.dtype == tl.float64 and group.bias.shape == (4,)
    assert nn.GroupNorm(2, 4, bias=False).bias is None
    assert nn.LayerNorm(4, elementwise_affine=False).weight is None


def test_layer_and_group_norm_modules_normalise_each_sample():
    x = tl.tensor(np.random.default_rng(0).normal(3.0, 2.0, size=(2, 4, 3, 3)))
    y = nn.GroupNorm(2, 4, dtype=tl.float64)(x).detach().numpy().reshape(2, 2, -1)
    np.testing.assert_allclose(y.mean(-1), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(-1), 1, rtol=1e-3)  # eps = 1e-5 below the variance
    z = nn.LayerNorm(9, dtype=tl.float64)(x.reshape(2, 4, 9)).detach().numpy()
    np.testing.assert_allclose(z.mean(-1), 0, atol=1e-12)


REFUSALS = [  # the same call in minitl (tl, F, nn) and torch (torch, F, nn), its error type and message
    ("F.prelu(lib.zeros(2, 3), lib.zeros(2))", RuntimeError, "Mismatch of parameter numbers"),
    ("F.layer_norm(lib.zeros(2, 3), (4,))", RuntimeError, r"expected input with shape \[\*, 4\]"),
    ("F.group_norm(lib.zeros(2, 3), 2)", RuntimeError, "divisible by num_groups"),
    ("nn.GroupNorm(2, 3)", ValueError, r"num_channels \(3\) must be divisible by num_groups \(2\)"),
    ("nn.Hardtanh(1.0, -1.0)", AssertionError, "must be greater than min_val"),
    ("F.hardtanh(lib.zeros(2), 1.0, -1.0)", ValueError, "min_val cannot be greater than max_val"),
    ("nn.Embedding(4, 2, padding_idx=4)", AssertionError, "Padding_idx must be within num_embeddings"),
    ("F.binary_cross_entropy(lib.tensor([1.5]), lib.tensor([1.0]))", RuntimeError, "between 0 and 1"),
    ("nn.MultiMarginLoss(p=3)", ValueError, "only p == 1 and p == 2 supported"),
    ("F.one_hot(lib.tensor([-1, 0]), 3)", RuntimeError, "Class values must be non-negative"),
    ("F.one_hot(lib.tensor([0, 2]), 2)", RuntimeError, "Class values must be smaller than num_classes"),
    ("F.smooth_l1_loss(lib.zeros(2), lib.zeros(2), beta=-1.0)", RuntimeError, "negative values for beta"),
]


@pytest.mark.parametrize("call, error, message", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refusals_are_pytorchs(call, error, message):
    with pytest.raises(error, match=message):
        eval(call, {"lib": tl, "F": F, "nn": nn})


@pytest.mark.torch
@pytest.mark.parametrize("call, error, message", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refusals_match_live_pytorch(call, error, message):
    torch = pytest.importorskip("torch")
    with pytest.raises(error, match=message):
        eval(call, {"lib": torch, "F": torch.nn.functional, "nn": torch.nn})


# -- inplace=True: PyTorch's rules (ops/inplace.py) --------------------------------------------------------
# (the in-place form, the same activation out of place)
INPLACE = [
    (lambda x: F.relu(x, inplace=True), F.relu),
    (lambda x: F.leaky_relu(x, 0.1, inplace=True), lambda x: F.leaky_relu(x, 0.1)),
    (lambda x: F.elu(x, 0.5, inplace=True), lambda x: F.elu(x, 0.5)),
    (lambda x: F.hardtanh(x, -1.0, 1.0, inplace=True), F.hardtanh),
    (lambda x: F.silu(x, inplace=True), F.silu),
    (nn.ReLU(inplace=True), nn.ReLU()),
    (nn.LeakyReLU(inplace=True), nn.LeakyReLU()),
    (nn.ELU(inplace=True), nn.ELU()),
    (nn.Hardtanh(inplace=True), nn.Hardtanh()),
    (nn.SiLU(inplace=True), nn.SiLU()),
]
VALUES = [-1.5, -0.5, 0.5, 2.0]


@pytest.mark.parametrize("in_place, out_of_place", INPLACE)
def test_inplace_refuses_a_leaf_that_requires_grad(in_place, out_of_place):
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        in_place(tl.tensor(VALUES, requires_grad=True))


@pytest.mark.parametrize("in_place, out_of_place", INPLACE)
def test_inplace_overwrites_a_tensor_outside_the_graph(in_place, out_of_place):
    x = tl.tensor(VALUES)
    array = x.numpy()
    assert in_place(x) is x
    np.testing.assert_array_equal(array, out_of_place(tl.tensor(VALUES)).numpy())  # the same array, overwritten
    assert not np.array_equal(array, VALUES)  # the values did change


@pytest.mark.parametrize("in_place, out_of_place", INPLACE)
def test_inplace_on_a_non_leaf_is_recorded(in_place, out_of_place):
    leaf, reference = tl.tensor(VALUES, requires_grad=True), tl.tensor(VALUES, requires_grad=True)
    hidden = leaf * 2
    assert in_place(hidden) is hidden
    (hidden * hidden).sum().backward()
    expected = out_of_place(reference * 2)
    (expected * expected).sum().backward()
    np.testing.assert_allclose(hidden.detach().numpy(), expected.detach().numpy())
    np.testing.assert_allclose(leaf.grad.numpy(), reference.grad.numpy())


@pytest.mark.torch
def test_inplace_matches_live_pytorch():
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        torch.nn.functional.elu(torch.tensor(VALUES, requires_grad=True), inplace=True)
    leaf = torch.tensor(VALUES, requires_grad=True)
    hidden = leaf * 2
    assert torch.nn.functional.elu(hidden, 0.5, inplace=True) is hidden
    (hidden * hidden).sum().backward()
    ours = tl.tensor(VALUES, requires_grad=True)
    mine = ours * 2
    F.elu(mine, 0.5, inplace=True)
    (mine * mine).sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), leaf.grad.numpy(), rtol=1e-6)


# -- Embedding ---------------------------------------------------------------------------------------------
def test_embedding_looks_up_rows_and_gives_the_padding_row_no_gradient():
    tl.manual_seed(0)
    table = nn.Embedding(5, 3, padding_idx=1)
    np.testing.assert_array_equal(table.weight.detach().numpy()[1], 0)  # PyTorch zeroes the padding row
    index = tl.tensor(np.array([[1, 0, 4], [3, 1, 1]]))
    with tl.no_grad():
        table.weight[1] = 7.0  # a padding row given values still reads them, but learns nothing
    out = table(index)
    assert out.shape == (2, 3, 3)
    np.testing.assert_array_equal(out.detach().numpy()[0, 0], [7.0] * 3)
    out.sum().backward()
    np.testing.assert_array_equal(table.weight.grad.numpy()[:, 0], [1, 0, 0, 1, 1])  # counts; the padding row 0


def test_embedding_initialisation_is_standard_normal():
    tl.manual_seed(0)
    weight = nn.Embedding(200, 50).weight.detach().numpy()
    assert abs(weight.mean()) < 0.02 and abs(weight.std() - 1) < 0.02


def test_embedding_from_pretrained_is_frozen_by_default():
    vectors = tl.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    frozen = nn.Embedding.from_pretrained(vectors)
    assert not frozen.weight.requires_grad and repr(frozen) == "Embedding(3, 2)"
    np.testing.assert_array_equal(frozen(tl.tensor([2, 0])).numpy(), [[5, 6], [1, 2]])
    assert nn.Embedding.from_pretrained(vectors, freeze=False, padding_idx=0).weight.requires_grad


def test_embedding_refusals_are_clear():
    with pytest.raises(NotImplementedError, match="max_norm"):
        nn.Embedding(4, 2, max_norm=1.0)
    with pytest.raises(RuntimeError, match="integer type"):
        F.embedding(tl.tensor([0.0]), tl.zeros(3, 2))


# -- one_hot and init --------------------------------------------------------------------------------------
def test_one_hot_is_int64_with_pytorchs_checks():
    labels = tl.tensor(np.array([[0, 2], [1, 2]]))
    encoded = F.one_hot(labels)
    assert encoded.dtype == tl.int64 and encoded.shape == (2, 2, 3)
    np.testing.assert_array_equal(encoded.numpy()[1], [[0, 1, 0], [0, 0, 1]])
    assert F.one_hot(labels, num_classes=5).shape == (2, 2, 5)
    with pytest.raises(RuntimeError, match="index tensor"):
        F.one_hot(tl.tensor([1.0]))


@pytest.mark.torch
def test_one_hot_matches_live_pytorch():
    torch = pytest.importorskip("torch")
    labels = np.array([[0, 4], [1, 2]])
    np.testing.assert_array_equal(F.one_hot(tl.tensor(labels), 6).numpy(),
                                  torch.nn.functional.one_hot(torch.tensor(labels), 6).numpy())


def test_trunc_normal_stays_in_its_bounds_with_the_truncated_moments():
    tl.manual_seed(0)
    values = nn.init.trunc_normal_(tl.zeros(20000), mean=1.0, std=2.0, a=0.0, b=3.0).numpy()
    assert values.min() >= 0.0 and values.max() <= 3.0
    # the truncated normal's mean: mu + sigma (phi(alpha) - phi(beta)) / (Phi(beta) - Phi(alpha)),
    # alpha = (a - mu) / sigma = -0.5, beta = (b - mu) / sigma = 1
    pdf = [math.exp(-z * z / 2) / math.sqrt(2 * math.pi) for z in (-0.5, 1.0)]
    cdf = [(1 + math.erf(z / math.sqrt(2))) / 2 for z in (-0.5, 1.0)]
    assert values.mean() == pytest.approx(1.0 + 2.0 * (pdf[0] - pdf[1]) / (cdf[1] - cdf[0]), abs=0.02)  # 1.4133
    with pytest.raises(ValueError, match="a < b"):
        nn.init.trunc_normal_(tl.zeros(3), a=1.0, b=0.0)


@pytest.mark.parametrize("shape", [(5, 8), (8, 5), (4, 2, 3, 3)])
def test_orthogonal_gives_orthonormal_rows_or_columns(shape):
    tl.manual_seed(0)
    weight = nn.init.orthogonal_(tl.zeros(*shape), gain=2.0).numpy().reshape(shape[0], -1)
    small = min(weight.shape)
    gram = weight @ weight.T if weight.shape[0] == small else weight.T @ weight
    np.testing.assert_allclose(gram, 4.0 * np.eye(small), atol=1e-5)
    with pytest.raises(ValueError, match="2 or more dimensions"):
        nn.init.orthogonal_(tl.zeros(3))


# -- losses: what the modules carry and what they refuse ---------------------------------------------------
def test_loss_modules_carry_pytorchs_options():
    assert nn.SmoothL1Loss().beta == 1.0 and nn.HuberLoss().delta == 1.0
    assert nn.KLDivLoss().reduction == "mean" and nn.KLDivLoss().log_target is False
    margin = nn.MultiMarginLoss(weight=tl.ones(3))
    assert (margin.p, margin.margin) == (1, 1.0) and list(margin.state_dict()) == ["weight"]
    assert list(nn.BCELoss(weight=tl.ones(2)).state_dict()) == ["weight"]


def test_loss_refusals_name_the_problem():
    with pytest.raises(ValueError, match="needs targets of shape"):
        F.cross_entropy(tl.zeros(2, 3, 4), tl.tensor(np.zeros((2, 3), dtype=np.int64)))
    with pytest.raises(ValueError, match="probability targets"):
        F.cross_entropy(tl.zeros(2, 3), tl.zeros(2, 4))
    with pytest.raises(ValueError, match="reduction"):
        nn.L1Loss(reduction="average")
    with pytest.warns(UserWarning, match="batchmean"):
        F.kl_div(tl.zeros(2, 3), tl.ones(2, 3))


def test_smooth_l1_with_beta_0_is_l1_and_huber_is_beta_times_smooth_l1():
    rng = np.random.default_rng(0)
    x, t = tl.tensor(rng.normal(size=(4, 5)) * 2), tl.tensor(rng.normal(size=(4, 5)))
    assert F.smooth_l1_loss(x, t, beta=0.0).item() == pytest.approx(F.l1_loss(x, t).item())
    assert F.huber_loss(x, t, delta=0.5).item() == pytest.approx(0.5 * F.smooth_l1_loss(x, t, beta=0.5).item())


@pytest.mark.torch
def test_loss_modules_match_live_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    scores, targets = rng.normal(size=(6, 4)), rng.integers(0, 4, size=6)
    probabilities, labels = 1 / (1 + np.exp(-scores)), rng.uniform(size=(6, 4))
    pairs = [
        (nn.L1Loss(), torch.nn.L1Loss(), scores, labels),
        (nn.SmoothL1Loss(beta=0.5), torch.nn.SmoothL1Loss(beta=0.5), scores, labels),
        (nn.HuberLoss(reduction="sum", delta=0.3), torch.nn.HuberLoss(reduction="sum", delta=0.3), scores, labels),
        (nn.BCELoss(), torch.nn.BCELoss(), probabilities, labels),
        (nn.KLDivLoss(reduction="batchmean", log_target=True),
         torch.nn.KLDivLoss(reduction="batchmean", log_target=True), scores, labels),
        (nn.MultiMarginLoss(p=2, margin=0.7), torch.nn.MultiMarginLoss(p=2, margin=0.7), scores, targets),
        (nn.BCEWithLogitsLoss(pos_weight=tl.tensor([1.0, 2.0, 3.0, 0.5], dtype=tl.float64)),
         torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor([1.0, 2.0, 3.0, 0.5], dtype=torch.float64)),
         scores, labels),
    ]
    for ours, theirs, x, t in pairs:
        expected = theirs(torch.tensor(x), torch.tensor(t)).item()
        assert ours(tl.tensor(x), tl.tensor(t)).item() == pytest.approx(expected, rel=1e-12), type(ours).__name__
