"""Higher-order autograd: create_graph, tl.autograd.grad, tl.autograd.functional, gradgradcheck.

Parity with PyTorch on recorded values (tests/golden/higher_order.npz) and live when torch is importable.
"""
import pathlib
import sys
import types

import numpy as np
import pytest
from test_functional import minitl_lib

import minitl as tl
import minitl.nn.functional as F

from cases.higher_order_cases import CASES, INDEX, TARGETS, make_inputs
from cases.nn_cases import NN_CASES
from cases.nn_cases import make_inputs as make_nn_inputs
from cases.op_cases import OP_CASES
from cases.op_cases import make_inputs as make_op_inputs

GOLDEN = np.load(pathlib.Path(__file__).parent / "golden" / "higher_order.npz")

MINITL_LIB = types.SimpleNamespace(grad=tl.autograd.grad, functional=tl.autograd.functional, F=F,
                                   index=tl.tensor(INDEX), targets=tl.tensor(TARGETS))




def minitl_results(fn, arrays):
    inputs = [tl.tensor(a, dtype=tl.float64, requires_grad=True) for a in arrays]
    return [r.detach().numpy() for r in fn(MINITL_LIB, *inputs)]


@pytest.mark.parametrize("name", list(CASES))
def test_matches_recorded_pytorch(name):
    fn, shapes = CASES[name]
    arrays = [GOLDEN[f"{name}/input{i}"] for i in range(len(shapes))]
    results = minitl_results(fn, arrays)
    assert len(results) == len([k for k in GOLDEN.files if k.startswith(f"{name}/result")])
    for i, result in enumerate(results):
        assert tl.testing.rel_error(result, GOLDEN[f"{name}/result{i}"]) < 1e-12, f"result {i}"


@pytest.mark.torch
@pytest.mark.parametrize("name", list(CASES))
def test_matches_live_pytorch(name):
    pytest.importorskip("torch")
    sys.path.insert(0, str(pathlib.Path(__file__).parent / "golden"))
    from make_higher_order_golden import torch_results

    fn, shapes = CASES[name]
    arrays = make_inputs(shapes, seed=99)
    for result, expected in zip(minitl_results(fn, arrays), torch_results(fn, arrays), strict=True):
        assert tl.testing.rel_error(result, expected) < 1e-12


@pytest.mark.parametrize("case", OP_CASES, ids=lambda c: c[0])
def test_gradgradcheck_of_every_op(case):
    assert tl.gradgradcheck(case[1], make_op_inputs(case, tl.float64))


@pytest.mark.parametrize("name, fn, shapes", NN_CASES, ids=[c[0] for c in NN_CASES])
def test_gradgradcheck_of_every_functional_layer(name, fn, shapes):
    lib, _ = minitl_lib(tl.float64)
    inputs = [tl.tensor(a, dtype=tl.float64, requires_grad=True) for a in make_nn_inputs(shapes, seed=0)]
    assert tl.gradgradcheck(lambda *xs: fn(lib, *xs), inputs)


def test_gradgradcheck_of_fractional_max_pooling():
    rng = np.random.default_rng(0)
    x = tl.tensor(rng.normal(size=(2, 2, 9, 8)), dtype=tl.float64, requires_grad=True)  # no ties
    samples = tl.tensor(rng.uniform(size=(2, 2, 2)), dtype=tl.float64)  # fixed windows
    assert tl.gradgradcheck(lambda a: F.fractional_max_pool2d(a, 2, output_size=(4, 5), _random_samples=samples) ** 2,
                            [x])


class CubeWithoutDoubleBackward(tl.Function):
    def forward(self, x):
        self.x = x
        return x ** 3

    def backward(self, gy):
        return (gy * 3 * self.x ** 2,)


def test_a_function_without_double_backward_refuses_create_graph_by_name():
    x = tl.tensor([1.0, 2.0], dtype=tl.float64, requires_grad=True)
    y = CubeWithoutDoubleBackward()(x * 2).sum()
    with pytest.raises(RuntimeError, match="CubeWithoutDoubleBackward has no double backward yet"):
        tl.autograd.grad(y, x, create_graph=True)
    assert tl.autograd.grad(y, x)[0].numpy().tolist() == [24, 96]  # first order still works


class SquareWithConstantSlope(tl.Function):
    """y = x**2 that saves its slope 2x, a value computed in forward: a constant to create_graph, so the
    first derivatives are right and the second ones wrong."""

    def forward(self, x):
        self.save_for_backward(2 * x)
        return x * x

    def backward(self, gy):
        (slope,) = self.saved_tensors
        return (gy * slope,)


class SquareWithWrongGraphValues(tl.Function):
    """y = x**2 whose backward computes something else on tensors (create_graph) than on arrays."""

    def forward(self, x):
        self.save_for_backward(x)
        return x * x

    def backward(self, gy):
        (x,) = self.saved_tensors
        return (gy * 3 * x,) if isinstance(gy, tl.Tensor) else (gy * 2 * x,)


@pytest.mark.parametrize("function, message", [
    (SquareWithConstantSlope, "gradcheck failed for input 0"),
    (SquareWithWrongGraphValues, "differs from the one without"),
])
def test_gradgradcheck_catches_a_wrong_double_backward(function, message):
    x = tl.tensor([0.5, -1.5, 2.0], dtype=tl.float64, requires_grad=True)
    assert tl.gradcheck(lambda a: function()(a), [x])  # the first derivatives are right
    with pytest.raises(tl.GradcheckError, match=message):
        tl.gradgradcheck(lambda a: function()(a), [x])


def test_backward_with_create_graph_gives_differentiable_gradients():
    x = tl.tensor([1.0, 2.0], dtype=tl.float64, requires_grad=True)
    (x ** 4).sum().backward(create_graph=True)
    first = x.grad
    assert first.grad_fn is not None and first.detach().numpy().tolist() == [4, 32]
    x.grad = None
    first.sum().backward(create_graph=True)  # 12 x**2
    second = x.grad
    x.grad = None
    second.sum().backward()  # 24 x
    assert second.detach().numpy().tolist() == [12, 48] and x.grad.numpy().tolist() == [24, 48]


def test_retain_graph_defaults_to_create_graph():
    x = tl.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(create_graph=True)
    y.backward()  # the graph was kept
    assert x.grad.detach().numpy().tolist() == [4, 8]
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_backward_inputs_limits_the_accumulation():
    a = tl.tensor([1.0], requires_grad=True)
    b = tl.tensor([2.0], requires_grad=True)
    h = a * b
    (h * h).sum().backward(inputs=[b, h])
    assert a.grad is None and b.grad.item() == 2 * 2 * 1 and h.grad.item() == 4
    with pytest.raises(RuntimeError, match="empty"):
        (a * b).sum().backward(inputs=[])


def test_autograd_grad_leaves_dot_grad_alone_and_checks_its_inputs():
    x = tl.tensor([1.0, 2.0], requires_grad=True)
    unused = tl.tensor([3.0], requires_grad=True)
    y = (x * x).sum()
    (gx,) = tl.autograd.grad(y, x, retain_graph=True)
    assert gx.numpy().tolist() == [2, 4] and x.grad is None and gx.grad_fn is None
    with pytest.raises(RuntimeError, match="input 1 was not used"):
        tl.autograd.grad(y, [x, unused], retain_graph=True)
    assert tl.autograd.grad(y, [x, unused], allow_unused=True)[1] is None
    with pytest.raises(RuntimeError, match="does not require grad"):
        tl.autograd.grad((x * 2).sum(), tl.ones(2))


def test_autograd_grad_of_an_intermediate_and_with_grad_outputs():
    x = tl.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    y = h.exp()
    (gh,) = tl.autograd.grad(y, h, grad_outputs=tl.tensor([1.0, 0.5]))
    np.testing.assert_allclose(gh.numpy(), [np.exp(3.0), 0.5 * np.exp(6.0)], rtol=1e-6)


def test_hessian_of_float32_stays_float32():
    x = tl.tensor([0.5, 1.0], requires_grad=True)
    h = tl.autograd.functional.hessian(lambda a: (a ** 3).sum(), x)
    assert h.dtype == tl.float32 and h.shape == (2, 2)
    np.testing.assert_allclose(h.numpy(), np.diag([3.0, 6.0]), rtol=1e-6)


# -- Newton's method and sharpness on autograd Hessians -----------------------------------------
def quadratic_problem(seed=0):
    rng = np.random.default_rng(seed)
    m = rng.normal(size=(4, 4))
    a, b = m @ m.T + np.eye(4), rng.normal(size=4)
    x = tl.tensor(np.zeros(4), dtype=tl.float64, requires_grad=True)
    a_t, b_t = tl.tensor(a, dtype=tl.float64), tl.tensor(b, dtype=tl.float64)
    return a, b, x, lambda: 0.5 * (x @ (a_t @ x)) - b_t @ x


def test_newton_minimizes_a_quadratic_in_one_step():
    a, b, x, loss = quadratic_problem()
    tl.optim.newton_step(loss, [x])
    np.testing.assert_allclose(x.detach().numpy(), np.linalg.solve(a, b), rtol=1e-12)


def test_top_hessian_eigenvalue_of_a_quadratic():
    a, _, x, loss = quadratic_problem()
    assert tl.optim.top_hessian_eigenvalue(loss, [x], iters=200) == pytest.approx(np.linalg.eigvalsh(a).max(),
                                                                                   rel=1e-9)


def test_newton_converges_quadratically_on_logistic_regression():
    rng = np.random.default_rng(1)
    features = rng.normal(size=(60, 3))
    labels = (features @ np.array([1.0, -2.0, 0.5]) + 0.5 * rng.normal(size=60) > 0).astype(float)
    w = tl.tensor(np.zeros(3), dtype=tl.float64, requires_grad=True)
    b = tl.tensor(np.zeros(1), dtype=tl.float64, requires_grad=True)
    x, y = tl.tensor(features, dtype=tl.float64), tl.tensor(labels, dtype=tl.float64)

    def loss():
        return F.binary_cross_entropy_with_logits(x @ w + b, y) + 0.01 * (w * w).sum()

    norms = []
    for _ in range(6):
        tl.optim.newton_step(loss, [w, b], damping=1e-8)
        norms.append(float(sum((g * g).sum() for g in tl.autograd.grad(loss(), [w, b]))) ** 0.5)
    assert norms[-1] < 1e-12
    # quadratic convergence: once close, each gradient norm is about the square of the one before
    close = [n for n in norms if n < 1e-2]
    assert any(later < 10 * earlier ** 2 for earlier, later in zip(close, close[1:]))


def test_newton_line_search_keeps_a_far_start_from_diverging():
    x = tl.tensor([3.0], dtype=tl.float64, requires_grad=True)

    def loss():  # log(cosh(x)): plain Newton from x = 3 jumps ever farther away
        return ((x.exp() + (-x).exp()) / 2).log().sum()

    for _ in range(8):
        tl.optim.newton_step(loss, [x])
    assert abs(x.item()) < 1e-8


@pytest.mark.torch
def test_top_hessian_eigenvalue_matches_torch_hessian():
    torch = pytest.importorskip("torch")
    arrays = make_inputs([(6, 4), (5, 4), (5,), (5, 3)], seed=5)
    params = [tl.tensor(a, dtype=tl.float64, requires_grad=True) for a in arrays[1:]]
    x = tl.tensor(arrays[0], dtype=tl.float64)
    sharpness = tl.optim.top_hessian_eigenvalue(lambda: higher_order_mlp_loss(x, *params), params, iters=300)

    def flat_loss(flat):
        sizes = [a.size for a in arrays[1:]]
        pieces = torch.split(flat, sizes)
        w1, b1, w2 = (p.reshape(a.shape) for p, a in zip(pieces, arrays[1:]))
        return higher_order_mlp_loss(torch.tensor(arrays[0]), w1, b1, w2)

    flat = torch.tensor(np.concatenate([a.ravel() for a in arrays[1:]]))
    eigenvalues = np.linalg.eigvalsh(torch.autograd.functional.hessian(flat_loss, flat).numpy())
    assert sharpness == pytest.approx(eigenvalues[np.argmax(np.abs(eigenvalues))], rel=1e-3)  # power iteration


def higher_order_mlp_loss(x, w1, b1, w2):
    return ((x @ w1.T + b1).tanh() @ w2).sigmoid().log().mean()
