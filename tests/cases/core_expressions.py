"""Composite expressions written once for both minitl and PyTorch.

Each expression takes `lib` (a namespace with cat, stack, where, pad) and
tensors, and uses only methods that both libraries spell the same way, so
the golden-file script can run it with torch and the tests with minitl.
"""
import numpy as np

INDEX = np.array([2, 0, 2, 1])


def mlp(lib, x, w1, b1, w2):
    return ((x @ w1 + b1).tanh() @ w2).sigmoid()


def softmax_cross_entropy_by_hand(lib, logits, onehot):
    shifted = logits - logits.amax(dim=1, keepdim=True)
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    return -(log_probs * onehot).sum(dim=1).mean()


def batch_norm_by_hand(lib, x, gamma, beta):
    mean = x.mean(dim=(0, 2, 3), keepdim=True)
    var = x.var(dim=(0, 2, 3), keepdim=True, correction=0)
    return (x - mean) / (var + 1e-5).sqrt() * gamma.reshape(1, -1, 1, 1) + beta.reshape(1, -1, 1, 1)


def shapes_and_indexing(lib, x, y):
    a = x.permute(2, 0, 1).reshape(4, -1)[INDEX] * y
    b = x.transpose(0, 1).flatten(1)[:, 1:5].unsqueeze(0).expand(4, 3, 4).sum(dim=0)
    return lib.cat([a[:, :3], b.T], dim=0).abs().clamp(0.05, 2.0) ** 1.5


def selection_and_padding(lib, x, y):
    chosen = lib.where(x > 0, x * 2, y.exp() - 1)
    padded = lib.pad(chosen, (1, 2, 2, 0), value=0.5)
    return lib.stack([padded, padded * padded], dim=1).var(dim=-1) / (1 + padded.amin())


def batched_matmul(lib, a, b, v):
    return ((a @ b).relu() @ v).amax(dim=1)


def trigonometry_and_powers(lib, x, y):
    waves = x.sin() * y.cos() + (x * y).cos().pow(2)
    return (waves + x ** 0 * y ** 2).sum(dim=())


EXPRESSIONS = {
    "mlp": (mlp, [(5, 4), (4, 6), (6,), (6, 3)]),
    "softmax_cross_entropy_by_hand": (softmax_cross_entropy_by_hand, [(6, 5), "onehot"]),
    "batch_norm_by_hand": (batch_norm_by_hand, [(3, 2, 4, 4), (2,), (2,)]),
    "shapes_and_indexing": (shapes_and_indexing, [(2, 3, 4), (6,)]),
    "selection_and_padding": (selection_and_padding, [(3, 4), (4,)]),
    "batched_matmul": (batched_matmul, [(2, 3, 4), (4, 5), (5,)]),
    "trigonometry_and_powers": (trigonometry_and_powers, [(3, 4), (4,)]),
}


def make_inputs(shapes, seed):
    """The float64 input arrays of an expression; 'onehot' is a constant target."""
    rng = np.random.default_rng(seed)
    arrays = []
    for shape in shapes:
        if shape == "onehot":
            arrays.append(np.eye(5)[rng.integers(0, 5, size=6)])
        else:
            arrays.append(rng.normal(size=shape))
    return arrays
