"""Second-order methods: L-BFGS against torch.optim.LBFGS on Rosenbrock, and Newton's method."""
import pathlib
import sys

import numpy as np
import pytest

import minitl as tl
import minitl.optim as optim

from cases import optim_cases as cases

GOLDEN = np.load(pathlib.Path(__file__).parent / "golden" / "optim.npz")
TOLERANCE = 1e-9


def assert_same_lbfgs_run(actual, expected):
    (losses, points, counts), (expected_losses, expected_points, expected_counts) = actual, expected
    assert tuple(counts) == tuple(expected_counts), "func_evals and n_iter: the control flow differs"
    np.testing.assert_allclose(points, expected_points, rtol=TOLERANCE, atol=TOLERANCE)
    np.testing.assert_allclose(losses, expected_losses, rtol=1e-6, atol=1e-15)  # a loss near 0 is ill-conditioned


@pytest.mark.parametrize("case", list(cases.LBFGS_CASES))
def test_lbfgs_matches_recorded_pytorch_run(case):
    expected = tuple(GOLDEN[f"lbfgs/{case}/{key}"] for key in ("losses", "points", "counts"))
    assert_same_lbfgs_run(cases.run_lbfgs(tl, optim, case), expected)


@pytest.mark.torch
@pytest.mark.parametrize("case", list(cases.LBFGS_CASES))
def test_lbfgs_matches_live_pytorch(case):
    pytest.importorskip("torch")
    sys.path.insert(0, str(pathlib.Path(__file__).parent / "golden"))
    from make_optim_golden import torch_lbfgs

    assert_same_lbfgs_run(cases.run_lbfgs(tl, optim, case), torch_lbfgs(case))


def test_lbfgs_reaches_the_minimum_of_rosenbrock():
    for case in cases.LBFGS_CASES:
        losses, points, (func_evals, n_iter) = cases.run_lbfgs(tl, optim, case)
        np.testing.assert_allclose(points[-1], [1.0, 1.0], atol=2e-4, err_msg=case)
        assert n_iter > 20, case  # several step() calls' worth of iterations, so the state carried over


def test_lbfgs_stops_at_once_when_the_gradient_is_zero():
    x = tl.tensor([1.0, 1.0], dtype=tl.float64, requires_grad=True)
    opt = optim.LBFGS([x])

    def closure():
        opt.zero_grad()
        loss = cases.rosenbrock(x)
        loss.backward()
        return loss

    assert opt.step(closure).item() == 0.0
    assert opt.state[x]["func_evals"] == 1 and opt.state[x]["n_iter"] == 0
    np.testing.assert_array_equal(x.data, [1.0, 1.0])


def test_lbfgs_state_dict_resumes_exactly():
    def make(start):
        x = tl.tensor(start, dtype=tl.float64, requires_grad=True)
        opt = optim.LBFGS([x], max_iter=4, history_size=3, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = cases.rosenbrock(x)
            loss.backward()
            return loss
        return x, opt, closure

    x, opt, closure = make([-1.2, 1.0])
    for _ in range(3):
        opt.step(closure)
    saved_x, saved_state = x.data.copy(), opt.state_dict()
    for _ in range(3):
        opt.step(closure)

    x2, opt2, closure2 = make(saved_x)
    opt2.load_state_dict(saved_state)
    for _ in range(3):
        opt2.step(closure2)
    np.testing.assert_array_equal(x2.data, x.data)


# -- Newton's method --------------------------------------------------------------------------------
def quadratic(a=1.0, b=100.0):
    """An elongated bowl f = (a x^2 + b y^2) / 2 with its exact gradient and Hessian."""
    return (lambda v: 0.5 * (a * v[0] ** 2 + b * v[1] ** 2),
            lambda v: np.array([a * v[0], b * v[1]]),
            lambda v: np.diag([a, b]))


def rosenbrock_derivatives():
    f = cases.rosenbrock
    grad = lambda v: np.array([-2 * (1 - v[0]) - 400 * v[0] * (v[1] - v[0] ** 2), 200 * (v[1] - v[0] ** 2)])
    hess = lambda v: np.array([[2 - 400 * v[1] + 1200 * v[0] ** 2, -400 * v[0]], [-400 * v[0], 200.0]])
    return f, grad, hess


def test_newton_minimizes_a_quadratic_in_one_step_whatever_its_conditioning():
    path = optim.newton_minimize(*quadratic(1.0, 1e6), x0=[3.0, -2.0], steps=5)
    np.testing.assert_array_equal(path[0], [3.0, -2.0])
    np.testing.assert_allclose(path[1], [0.0, 0.0], atol=1e-15)
    assert len(path) == 2  # the gradient is exactly zero there: it stops


def test_newton_solves_rosenbrock_in_a_few_steps():
    path = optim.newton_minimize(*rosenbrock_derivatives(), x0=[-1.2, 1.0], steps=10)
    # the classic start: Newton takes 6 steps (gradient descent needs thousands)
    np.testing.assert_allclose(path[6], [1.0, 1.0], atol=1e-12)
    # first step by hand: g = (-215.6, -88), H = [[1330, 480], [480, 200]], det H = 35600
    np.testing.assert_allclose(path[1], [-1.2 + 880 / 35600, 1.0 + 13552 / 35600], rtol=1e-14)


def test_newton_is_attracted_by_a_saddle_point():
    """f = x^2 - y^2: the Newton step jumps straight onto the saddle, where gradient descent would escape."""
    f = lambda v: v[0] ** 2 - v[1] ** 2
    grad = lambda v: np.array([2 * v[0], -2 * v[1]])
    hess = lambda v: np.diag([2.0, -2.0])
    path = optim.newton_minimize(f, grad, hess, x0=[1.0, 0.5], steps=3)
    np.testing.assert_array_equal(path[-1], [0.0, 0.0])
