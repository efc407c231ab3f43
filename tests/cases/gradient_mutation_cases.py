"""Computations where a wrong backward once hid from the suite, written once for minitl and PyTorch.

An outside review put 88 small bugs into minitl's backward code, one at a time; these are the shapes of
computation that let 7 of them pass (tests/test_gradient_mutations.py). Each case is
``name: (fn, arrays)``: `fn(lib, *tensors)` returns a tuple of tensors computed with `lib.grad`,
`lib.functional` and `lib.F`, so tests/golden/make_gradient_mutations_golden.py runs it with torch and
the tests with minitl, on the float64 `arrays` (fixed here, ties included on purpose).
"""
import numpy as np

RNG = np.random.default_rng(30)
TARGETS_4D = np.array([[[0, 2], [1, 1]], [[2, 0], [0, 1]]])  # class indices for (2, 3, 2, 2) logits


def normal(*shape):
    return RNG.normal(size=shape)


def log_softmax_along_dim1(lib, x, gy):
    """dim=1 of NCHW input: a backward summing over the last axis instead is 1.6 relative away."""
    y = lib.F.log_softmax(x, dim=1)
    return y, *lib.grad(y, x, gy)


def softmax_along_dim1(lib, x, gy):
    y = lib.F.softmax(x, dim=1)
    return y, *lib.grad(y, x, gy)


def nll_of_log_softmax_4d(lib, x):
    loss = lib.F.nll_loss(lib.F.log_softmax(x, dim=1), lib.targets_4d)
    (g,) = lib.grad(loss, x, create_graph=True)
    return loss, g, *lib.grad((g * g).sum(), x)


def tied_max_hvp(lib, x, v):
    """H v of sum(amax(x, 1)**2) where rows have tied maxima: the tie shares the gradient, in both orders."""
    return lib.functional.hvp(lambda a: (a.amax(1) ** 2).sum(), x, v)[1],


def tied_min_hvp(lib, x, v):
    return lib.functional.hvp(lambda a: (a.amin(1) ** 2).sum(), x, v)[1],


def tied_max_of_all_hvp(lib, x, v):
    return lib.functional.hvp(lambda a: a.amax() ** 3, x, v)[1],


def hessian_differentiated_again(lib, x):
    """d/dx sum(H(x) * w): a third derivative, only there if hessian(create_graph=True) keeps x's graph."""
    f = lambda a: (a ** 4).sum() + (a[0] * a[1] * a[2]) ** 2 + a.sin().sum() * a[0]
    h = lib.functional.hessian(f, x, create_graph=True)
    w = h.detach() * 0 + lib.weights_3x3
    return h, *lib.grad((h * w).sum(), x)


def unfold_asymmetric(lib, x, gy):
    """Padding (1, 2), dilation (1, 2), stride (2, 1): each of H and W has its own."""
    y = lib.F.unfold(x, (2, 3), dilation=(1, 2), padding=(1, 2), stride=(2, 1))
    return y, *lib.grad(y, x, gy)


def fold_asymmetric(lib, columns, gy):
    y = lib.F.fold(columns, (4, 5), (2, 3), dilation=(1, 2), padding=(1, 2), stride=(2, 1))
    return y, *lib.grad(y, columns, gy)


WEIGHTS_3X3 = normal(3, 3)
CASES = {
    "log_softmax_3d": (log_softmax_along_dim1, [normal(2, 3, 4), normal(2, 3, 4)]),
    "log_softmax_4d": (log_softmax_along_dim1, [normal(2, 3, 2, 2), normal(2, 3, 2, 2)]),
    "softmax_3d": (softmax_along_dim1, [normal(2, 3, 4), normal(2, 3, 4)]),
    "softmax_4d": (softmax_along_dim1, [normal(2, 3, 2, 2), normal(2, 3, 2, 2)]),
    "nll_4d": (nll_of_log_softmax_4d, [normal(2, 3, 2, 2)]),
    "tied_max_hvp": (tied_max_hvp, [np.array([[1.0, 2.0, 2.0], [3.0, 3.0, 1.0]]), np.ones((2, 3))]),
    "tied_min_hvp": (tied_min_hvp, [np.array([[1.0, 1.0, 2.0], [3.0, 0.5, 0.5]]), np.ones((2, 3))]),
    "tied_max_of_all_hvp": (tied_max_of_all_hvp, [np.array([[1.0, 2.0, 2.0], [0.0, 2.0, 1.0]]), normal(2, 3)]),
    "hessian_differentiated_again": (hessian_differentiated_again, [np.array([0.5, -1.0, 1.5])]),
    "unfold_asymmetric": (unfold_asymmetric, [normal(1, 2, 4, 5), normal(1, 12, 15)]),
    "fold_asymmetric": (fold_asymmetric, [normal(1, 12, 15), normal(1, 2, 4, 5)]),
}
