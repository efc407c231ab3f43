"""Newton's method: the second-order step the lecture contrasts with gradient descent.

Near x the loss is approximately the quadratic

    f(x + dx) ~ f(x) + grad(x) . dx + 1/2 dx^T H(x) dx,

whose minimiser is dx = -H(x)^-1 grad(x). Newton's method jumps there:

    x_new = x - H(x)^-1 grad(x)

No learning rate, and a quadratic is minimised in one step, whatever its
conditioning. The price: the Hessian has n^2 entries and solving with it
costs O(n^3), out of reach for a network with millions of parameters (hence
L-BFGS, lbfgs.py), and at a saddle point or where H is not positive definite
the step goes uphill. Here, for 2-D functions, with NumPy on plain arrays.
"""
import numpy as np


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
