"""Tests for the 7 wrong backwards that once passed the whole suite (issue 30), and third order through batch norm.

An outside review put 88 realistic bugs into minitl's backward code one at a time; 7 survived the tests.
Each test below fails with its bug put back (checked by hand when it was written; docs/testing.md lists
them): softmax-family backwards on the wrong axis of 3-D/4-D input, a detached accumulation under
create_graph, the gradient's dtype cast under create_graph, hessian(create_graph=True) without a graph,
max/min ties not split in double backward, third derivatives through pooling, and asymmetric padding in
unfold/fold's backward. Comparisons with PyTorch read tests/golden/gradient_mutations.npz, and run live
when torch imports.
"""
import pathlib
import sys
import types

import numpy as np
import pytest

import minitl as tl
import minitl.nn.functional as F

from cases.gradient_mutation_cases import CASES, TARGETS_4D, WEIGHTS_3X3

GOLDEN = np.load(pathlib.Path(__file__).parent / "golden" / "gradient_mutations.npz")
MINITL_LIB = types.SimpleNamespace(grad=tl.autograd.grad, functional=tl.autograd.functional, F=F,
                                   targets_4d=tl.tensor(TARGETS_4D), weights_3x3=tl.tensor(WEIGHTS_3X3, dtype=tl.float64))


def minitl_results(fn, arrays):
    inputs = [tl.tensor(a, dtype=tl.float64, requires_grad=True) for a in arrays]
    return [r.detach().numpy() for r in fn(MINITL_LIB, *inputs)]


def double(values):
    return tl.tensor(values, dtype=tl.float64, requires_grad=True)


def pytorch_results(name, oracle):
    """torch's results for a case: recorded in the golden file, or computed now."""
    fn, arrays = CASES[name]
    if oracle == "recorded":
        return [GOLDEN[f"{name}/result{i}"] for i in range(sum(k.startswith(f"{name}/") for k in GOLDEN.files))]
    pytest.importorskip("torch")
    sys.path.insert(0, str(pathlib.Path(__file__).parent / "golden"))
    from make_gradient_mutations_golden import TORCH_LIB, torch_results
    return torch_results(fn, arrays, TORCH_LIB)


@pytest.mark.parametrize("oracle", ["recorded", pytest.param("live", marks=pytest.mark.torch)])
@pytest.mark.parametrize("name", list(CASES))
def test_matches_pytorch(name, oracle):
    expected = pytorch_results(name, oracle)
    results = minitl_results(*CASES[name])
    assert len(results) == len(expected)
    for i, (result, torch_result) in enumerate(zip(results, expected)):
        assert tl.testing.rel_error(result, torch_result) < 1e-12, f"result {i}"


@pytest.mark.parametrize("shape", [(2, 3, 4), (2, 3, 2, 2)], ids=["3d", "4d"])
@pytest.mark.parametrize("fn", [F.log_softmax, F.softmax], ids=["log_softmax", "softmax"])
def test_softmax_family_along_dim1_of_3d_and_4d_input(fn, shape):
    x = double(np.random.default_rng(1).normal(size=shape))
    assert tl.gradcheck(lambda a: fn(a, dim=1), [x])
    assert tl.gradgradcheck(lambda a: fn(a, dim=1), [x])


def test_nll_of_log_softmax_on_4d_input():
    x = double(np.random.default_rng(2).normal(size=(2, 3, 2, 2)))
    target = tl.tensor(TARGETS_4D)
    assert tl.gradcheck(lambda a: F.nll_loss(F.log_softmax(a, dim=1), target), [x])
    assert tl.gradgradcheck(lambda a: F.nll_loss(F.log_softmax(a, dim=1), target, reduction="none"), [x])


def test_class_losses_on_4d_input_are_the_losses_of_each_position():
    x = double(np.random.default_rng(7).normal(size=(2, 3, 2, 2)))
    target = tl.tensor(TARGETS_4D)
    flat_x, flat_target = x.permute(0, 2, 3, 1).reshape(-1, 3), target.reshape(-1)
    for loss in (F.cross_entropy, F.nll_loss):
        each = loss(x, target, reduction="none")
        assert each.shape == (2, 2, 2)
        np.testing.assert_allclose(each.detach().numpy().ravel(), loss(flat_x, flat_target, reduction="none").detach().numpy())
        assert loss(x, target).item() == pytest.approx(loss(flat_x, flat_target).item(), rel=1e-12)
    with pytest.raises(ValueError, match=r"nll_loss: input \(2, 3, 2, 2\) .*needs targets of shape \(2, 2, 2\), got \(2, 4\)"):
        F.nll_loss(x, target.reshape(2, 4))


@pytest.mark.parametrize("how", ["backward", "grad"])
def test_create_graph_with_a_leaf_used_twice(how):
    # y = sum(x * x * x): x reaches Mul twice; under create_graph the two contributions must both keep their
    # graph when they are added, or d(dy/dx)/dx = 6x comes out as 2x.
    x = double([1.0, 2.0, -3.0])
    y = (x * x * x).sum()
    if how == "backward":
        y.backward(create_graph=True)
        first = x.grad
    else:
        (first,) = tl.autograd.grad(y, x, create_graph=True)
    np.testing.assert_allclose(first.detach().numpy(), [3.0, 12.0, 27.0])
    (second,) = tl.autograd.grad(first.sum(), x)
    np.testing.assert_allclose(second.detach().numpy(), [6.0, 12.0, -18.0])


def test_create_graph_accumulates_into_grad_with_its_graph():
    # Two backward passes into the same .grad: the sum must stay differentiable (2x + 3x**2, then 2 + 6x).
    x = double([1.0, 2.0, -3.0])
    (x * x).sum().backward(create_graph=True)
    (x ** 3).sum().backward(create_graph=True)
    np.testing.assert_allclose(x.grad.detach().numpy(), [5.0, 16.0, 21.0])
    (second,) = tl.autograd.grad(x.grad.sum(), x)
    np.testing.assert_allclose(second.detach().numpy(), [8.0, 14.0, -16.0])


def test_mixed_dtypes_keep_each_gradient_in_its_input_dtype_under_create_graph():
    x = tl.tensor(np.random.default_rng(3).normal(size=(4, 3)), dtype=tl.float64, requires_grad=True)
    gamma = tl.tensor([1.5, 0.5, -1.0], requires_grad=True)  # float32
    beta = tl.tensor([0.1, 0.2, 0.3], requires_grad=True)
    loss = lambda: (F.batch_norm(x, None, None, gamma, beta, training=True) ** 3).sum()
    gx, ggamma, gbeta = tl.autograd.grad(loss(), [x, gamma, beta], create_graph=True)
    assert (gx.dtype, ggamma.dtype, gbeta.dtype) == (tl.float64, tl.float32, tl.float32)
    plain = tl.autograd.grad(loss(), [x, gamma, beta])
    for recorded, expected in zip((gx, ggamma, gbeta), plain):
        assert recorded.dtype == expected.dtype
        np.testing.assert_allclose(recorded.detach().numpy(), expected.numpy(), rtol=1e-6)
    second = tl.autograd.grad((ggamma * ggamma).sum() + (gx * gx).sum(), [x, gamma])
    assert [g.dtype for g in second] == [tl.float64, tl.float32]
    loss().backward(create_graph=True)
    assert (x.grad.dtype, gamma.grad.dtype, beta.grad.dtype) == (tl.float64, tl.float32, tl.float32)


def test_hessian_with_create_graph_can_be_differentiated_again():
    x = double([1.0, 2.0, 3.0])
    h = tl.autograd.functional.hessian(lambda a: (a ** 4).sum(), x, create_graph=True)
    assert h.requires_grad
    (third,) = tl.autograd.grad(h.sum(), x)
    np.testing.assert_allclose(third.detach().numpy(), 24 * x.data)  # d/dx of 12 x**2
    assert not tl.autograd.functional.hessian(lambda a: (a ** 4).sum(), x).requires_grad


def third_order(f):
    """x -> d f / dx with its graph, so gradgradcheck of it checks f's second and third derivatives."""
    return lambda x: tl.autograd.grad(f(x), x, create_graph=True)[0]


@pytest.mark.parametrize("pool", [
    lambda a: F.max_pool2d(a, 2, stride=1),
    lambda a: F.max_pool2d(a, 3, stride=2, padding=1),
    lambda a: F.avg_pool2d(a, 2, stride=1),
    lambda a: F.avg_pool2d(a, 3, stride=2, padding=1),
], ids=["max_k2_s1", "max_k3_s2_p1", "avg_k2_s1", "avg_k3_s2_p1"])
def test_third_order_through_pooling(pool):
    # Distinct values a few eps apart never tie, so the max is smooth where it is checked.
    x = double(np.random.default_rng(4).permutation(25).reshape(1, 1, 5, 5) / 10 - 1.2)
    assert tl.gradgradcheck(third_order(lambda a: (pool(a.tanh()) ** 3).sum()), [x])


@pytest.mark.parametrize("fn, shape", [
    (lambda a: F.unfold(a, (2, 3), dilation=(1, 2), padding=(1, 2), stride=(2, 1)), (1, 2, 4, 5)),
    (lambda a: F.unfold(a, (3, 2), padding=(2, 0), stride=(1, 2)), (2, 1, 3, 4)),
    (lambda a: F.fold(a, (4, 5), (2, 3), dilation=(1, 2), padding=(1, 2), stride=(2, 1)), (1, 12, 15)),
    (lambda a: F.fold(a, (3, 4), (3, 2), padding=(2, 0), stride=(1, 2)), (2, 6, 10)),
], ids=["unfold_p12", "unfold_p20", "fold_p12", "fold_p20"])
def test_unfold_and_fold_with_asymmetric_padding(fn, shape):
    x = double(np.random.default_rng(5).normal(size=shape))
    assert tl.gradcheck(fn, [x])
    assert tl.gradgradcheck(fn, [x])


def batch_norm_from_ops(x, gamma, beta, eps=1e-5):
    """Train-mode batch norm written with plain ops (biased variance over N, H, W), the reference below."""
    mean = x.mean(dim=(0, 2, 3), keepdim=True)
    var = ((x - mean) ** 2).mean(dim=(0, 2, 3), keepdim=True)
    return (x - mean) / (var + eps).sqrt() * gamma.reshape(1, -1, 1, 1) + beta.reshape(1, -1, 1, 1)


def test_third_order_through_batch_norm_against_finite_differences():
    # torch 2.13's own third derivative through F.batch_norm in train mode disagrees with finite differences
    # (issue 30 measured -3222391.58 against -2488268.39), so central differences are the oracle here.
    rng = np.random.default_rng(6)
    x, gamma, beta = double(rng.normal(size=(3, 2, 2, 2))), double([1.5, -0.5]), double([0.2, 0.1])
    loss = lambda a, g, b: (F.batch_norm(a, None, None, g, b, training=True) ** 3 * 0.1).sum()
    first = lambda a, g, b: tl.autograd.grad(loss(a, g, b), [a, g, b], create_graph=True)
    assert tl.gradgradcheck(first, [x, gamma, beta], atol=1e-5, rtol=1e-4)
    # And the same third derivatives as batch norm written from basic ops.
    v = tl.tensor(rng.normal(size=x.shape))
    third = []
    for norm in (lambda a, g, b: F.batch_norm(a, None, None, g, b, training=True), batch_norm_from_ops):
        (gx,) = tl.autograd.grad((norm(x, gamma, beta) ** 3).sum(), x, create_graph=True)
        (hv,) = tl.autograd.grad((gx * v).sum(), x, create_graph=True)
        third.append(tl.autograd.grad((hv * hv).sum(), [x, gamma]))
    for kernel, reference in zip(*third):
        assert tl.testing.rel_error(kernel, reference) < 1e-12
