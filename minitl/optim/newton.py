"""Newton's method: the second-order step the lecture contrasts with gradient descent.

Near x the loss is approximately the quadratic

    f(x + dx) ~ f(x) + grad(x) . dx + 1/2 dx^T H(x) dx,

whose minimiser is dx = -H(x)^-1 grad(x). Newton's method jumps there:

    x_new = x - H(x)^-1 grad(x)

No learning rate, and a quadratic is minimised in one step, whatever its
conditioning. The price: the Hessian has n^2 entries and solving with it
costs O(n^3), out of reach for a network with millions of parameters (hence
L-BFGS, lbfgs.py), and at a saddle point or where H is not positive definite
the step goes uphill. ``newton_minimize`` is the 2-D study, with NumPy on
plain arrays and hand-written derivatives.

``newton_step`` does the same on any small model's loss, with the gradient
and the Hessian from autograd (``tl.autograd.grad(..., create_graph=True)``,
one Hessian row per parameter entry, so only for a few thousand parameters).
Two safeguards make it usable away from the minimum: damping, which solves
(H + lambda I) dx = -g (a step between Newton's and a small gradient step,
and a cure for an indefinite H), and a backtracking line search, which halves
the step until the loss decreases enough (Armijo's condition
f(x + t dx) <= f(x) + 1e-4 t g.dx); near the minimum t = 1 is accepted and the
convergence is quadratic.

``top_hessian_eigenvalue`` finds the Hessian's largest eigenvalue (in
absolute value: the "sharpness") by power iteration, v <- Hv / |Hv|, with
Hessian-vector products from double backward: H is never formed.
"""
import numpy as np

from minitl import backend
from minitl.autograd import Tensor, grad, no_grad


def newton_minimize(f, grad, hess, x0, steps):
    """Take `steps` Newton steps from `x0`; returns the path, shape (steps + 1, n), x0 first.

    `f`, `grad` and `hess` map a NumPy vector to the value, the gradient
    vector and the Hessian matrix. The path stops early (shorter than
    steps + 1) once the gradient is exactly zero or the value is no longer
    finite.
    """
    x = np.array(x0, dtype=np.float64)
    path = [x.copy()]
    for _ in range(steps):
        g = np.asarray(grad(x), dtype=np.float64)
        if not np.any(g):
            break  # at a stationary point: nothing left to do
        # solve H dx = -g rather than forming H^-1: cheaper and more accurate
        x = x - np.linalg.solve(np.asarray(hess(x), dtype=np.float64), g)
        path.append(x)
        if not np.isfinite(f(x)):
            break
    return np.stack(path)


def _flat(tensors):
    xp = backend.get_array_module(tensors[0].data)
    return xp.concatenate([t.data.reshape(-1) for t in tensors])


def _gradient_and_hessian(loss_fn, params):
    """The loss's value, its gradient (flat) and Hessian (n x n) at the parameters, by double backward."""
    loss = loss_fn()
    grads = grad(loss, params, create_graph=True)
    flat_grad = _flat([g.detach() for g in grads])
    rows = []
    for g in grads:
        for k in range(g.numel()):
            row = grad(g.reshape(-1)[k], params, retain_graph=True, allow_unused=True)
            rows.append(_flat([r.detach() if r is not None else Tensor(p.data * 0) for r, p in zip(row, params)]))
    xp = backend.get_array_module(flat_grad)
    return float(loss.item()), flat_grad, xp.stack(rows)


def _add_to_params(params, flat_step):
    with no_grad():
        start = 0
        for p in params:
            p.data += flat_step[start:start + p.numel()].reshape(p.shape).astype(p.dtype)
            start += p.numel()


def newton_step(loss_fn, params, damping=0.0, line_search=True, max_halvings=30):
    """One (damped) Newton step on `params` (tensors that require grad, changed in place); returns the new loss.

    `loss_fn()` recomputes the loss from the current parameters. The step
    solves (H + damping I) dx = -g; with ``line_search`` it is halved until
    Armijo's condition holds (see the module docstring).
    """
    params = list(params)
    value, g, hessian = _gradient_and_hessian(loss_fn, params)
    xp = backend.get_array_module(g)
    step = -xp.linalg.solve(hessian + damping * xp.eye(len(g), dtype=hessian.dtype), g)
    slope = float(g @ step)
    t = 1.0
    _add_to_params(params, step)
    if not line_search or -slope <= 1e-14 * (abs(value) + 1):  # no decrease left to check, beyond rounding
        with no_grad():
            return float(loss_fn().item())
    for _ in range(max_halvings):
        with no_grad():
            new_value = float(loss_fn().item())
        if new_value <= value + 1e-4 * t * slope:
            return new_value
        _add_to_params(params, -0.5 * t * step)  # from x + t dx back to x + t/2 dx
        t *= 0.5
    raise RuntimeError(f"newton_step: no decrease along the Newton direction after {max_halvings} halvings "
                       f"(slope g.dx = {slope:.3g}); increase damping")


def top_hessian_eigenvalue(loss_fn, params, iters=20, seed=0):
    """The Hessian's eigenvalue of largest magnitude at `params`, by power iteration on Hessian-vector products."""
    params = list(params)
    rng = np.random.default_rng(seed)
    xp = backend.get_array_module(params[0].data)
    vectors = [Tensor(xp.asarray(rng.normal(size=p.shape), dtype=p.dtype)) for p in params]
    grads = grad(loss_fn(), params, create_graph=True)
    eigenvalue = 0.0
    for _ in range(iters):
        norm = float(sum(float((v * v).sum()) for v in vectors)) ** 0.5
        vectors = [v / norm for v in vectors]
        dot = sum((g * v).sum() for g, v in zip(grads, vectors))
        products = grad(dot, params, retain_graph=True, allow_unused=True)
        products = [h if h is not None else v * 0 for h, v in zip(products, vectors)]
        eigenvalue = sum(float((v * h).sum()) for v, h in zip(vectors, products))  # Rayleigh quotient v.Hv
        vectors = products
    return eigenvalue
