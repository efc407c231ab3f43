"""Second-order computations written once for minitl and PyTorch (create_graph, autograd.grad, functional).

Each case is (name, fn, shapes): `fn(lib, *tensors)` returns a tuple of
arrays computed with `lib.grad` (autograd.grad), `lib.functional`
(autograd.functional) and `lib.F` (nn.functional), so the golden script
runs it with torch and the tests with minitl. Inputs are float64 normal
arrays of the given shapes; `lib.index` and `lib.targets` are constants.
"""
import numpy as np


def mlp_loss(x, w1, b1, w2):
    return ((x @ w1 + b1).tanh() @ w2).sigmoid().log().mean()


def second_derivatives_of_scalars(lib, x):
    y = (x.sin() * x ** 3 + (x * x).exp() / (1 + x.abs())).sum()
    (g,) = lib.grad(y, x, create_graph=True)
    (h,) = lib.grad(g.sum(), x, create_graph=True)
    (third,) = lib.grad(h.sum(), x)
    return g.detach(), h.detach(), third


def mlp_hessian_vector_product(lib, x, w1, b1, w2, v1, vb, v2):
    params = (w1, b1, w2)
    grads = lib.grad(mlp_loss(x, *params), params, create_graph=True)
    dot = sum((g * v).sum() for g, v in zip(grads, (v1, vb, v2)))
    return lib.grad(dot, params)


def classifier_hessian_vector_product(lib, x, w1, b1, w2, v1, vb, v2):
    """H v of a small classifier's loss (linear, leaky ReLU, softmax cross-entropy with smoothing)."""
    params = (w1, b1, w2)
    logits = lib.F.leaky_relu(lib.F.linear(x, w1, b1), 0.1) @ w2
    probabilities = lib.F.softmax(logits, dim=1)
    loss = lib.F.cross_entropy(logits, lib.targets, label_smoothing=0.1) + (probabilities * probabilities).mean()
    loss = loss + lib.F.binary_cross_entropy_with_logits(logits, probabilities.detach())
    grads = lib.grad(loss, params, create_graph=True)
    dot = sum((g * v).sum() for g, v in zip(grads, (v1, vb, v2)))
    return lib.grad(dot, params)


def cnn_hessian_vector_product(lib, images, kernel, bias, dense, v_kernel, v_bias, v_dense):
    """H v of a small CNN's loss: conv (stride 2, padding 1), ReLU, batch norm, max pool, linear, cross-entropy."""
    params = (kernel, bias, dense)
    features = lib.F.relu(lib.F.conv2d(images, kernel, bias, stride=2, padding=1))
    features = lib.F.batch_norm(features, None, None, training=True)
    features = lib.F.max_pool2d(features, 2).reshape(images.shape[0], -1)
    loss = lib.F.cross_entropy(lib.F.linear(features, dense), lib.targets[:4])
    grads = lib.grad(loss, params, create_graph=True)
    dot = sum((g * v).sum() for g, v in zip(grads, (v_kernel, v_bias, v_dense)))
    return lib.grad(dot, params)


def gradient_penalty(lib, x, w):
    """loss + |d loss / d x|^2, differentiated with respect to w (as in WGAN-GP)."""
    loss = (x @ w).tanh().pow(2).sum()
    (gx,) = lib.grad(loss, x, create_graph=True)
    total = loss + (gx * gx).sum()
    return lib.grad(total, w)


def reductions_and_shapes(lib, x, y):
    z = (x.reshape(3, 4).T @ y).var(dim=0) + x.amax(dim=-1).sum() + x[lib.index].pow(2).mean()
    return lib.functional.hessian(lambda a: (a.unsqueeze(0).expand(2, 12) * a).sum().sqrt(), x.flatten()), \
        lib.grad(z.sum(), (x, y), create_graph=True)[0].sum().reshape(1)


def functional_api(lib, x, w):
    f = lambda a, b: (a @ b).sin()
    jac = lib.functional.jacobian(f, (x, w))
    _, vjp = lib.functional.vjp(f, (x, w), f(x, w).detach())
    _, jvp = lib.functional.jvp(f, (x, w), (x.detach(), w.detach()))
    _, hvp = lib.functional.hvp(lambda a, b: f(a, b).pow(2).sum(), (x, w), (x.detach(), w.detach()))
    _, vhp = lib.functional.vhp(lambda a, b: f(a, b).pow(2).sum(), (x, w), (x.detach(), w.detach()))
    return (*jac, *vjp, jvp, *hvp, *vhp)


CASES = {
    "second_derivatives_of_scalars": (second_derivatives_of_scalars, [(5,)]),
    "mlp_hessian_vector_product": (mlp_hessian_vector_product, [(6, 4), (4, 5), (5,), (5, 3), (4, 5), (5,), (5, 3)]),
    "classifier_hessian_vector_product": (classifier_hessian_vector_product,
                                          [(6, 4), (5, 4), (5,), (5, 3), (5, 4), (5,), (5, 3)]),
    "cnn_hessian_vector_product": (cnn_hessian_vector_product,
                                   [(4, 2, 8, 8), (3, 2, 3, 3), (3,), (3, 12), (3, 2, 3, 3), (3,), (3, 12)]),
    "gradient_penalty": (gradient_penalty, [(4, 3), (3, 2)]),
    "reductions_and_shapes": (reductions_and_shapes, [(2, 3, 2), (3, 2)]),
    "functional_api": (functional_api, [(2, 3), (3, 2)]),
}
INDEX = np.array([1, 0, 1])
TARGETS = np.array([2, 0, 1, 1, 0, 2])


def make_inputs(shapes, seed):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=shape) for shape in shapes]
