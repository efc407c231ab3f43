"""Loss functions, PyTorch's names and semantics; `reduction` is 'mean' (default), 'sum' or 'none'.

cross_entropy(z, t) with label smoothing e over C classes: the target
distribution is q = (1 - e) onehot(t) + e / C, and for each sample

    loss = -sum_c q_c log softmax(z)_c,      dloss/dz = softmax(z) - q

computed in one Function from the stable log-softmax (z - max subtracted).

binary_cross_entropy_with_logits(x, t) = -t log s(x) - (1 - t) log(1 - s(x))
with s the sigmoid, written stably as max(x, 0) - x t + log(1 + e**-|x|);
its derivative is s(x) - t.
"""
from minitl import backend
from minitl.autograd import Function
from minitl.nn.activations import Softmax, stable_log_softmax
from minitl.ops.promotion import promote

REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def reduce(losses, reduction):
    """Apply `reduction` to a tensor of per-element losses."""
    _check_reduction(reduction)
    if reduction == "mean":
        return losses.mean()
    return losses.sum() if reduction == "sum" else losses


def _check_class_targets(logits, target, name):
    if logits.ndim != 2:
        raise ValueError(f"{name} expects input of shape (N, C), got {logits.shape}")
    if target.ndim != 1 or target.shape[0] != logits.shape[0] or target.dtype.kind not in "iu":
        raise ValueError(f"{name} expects integer class targets of shape ({logits.shape[0]},), "
                         f"got {target.dtype} of shape {target.shape}")
    if target.data.size and (int(target.data.min()) < 0 or int(target.data.max()) >= logits.shape[1]):
        raise ValueError(f"{name}: target class indices must lie in [0, {logits.shape[1] - 1}], got values "
                         f"from {int(target.data.min())} to {int(target.data.max())}")


class CrossEntropy(Function):
    """Per-sample -sum_c q_c log softmax(z)_c;  dz = gy (softmax(z) - q)."""

    def __init__(self, target, label_smoothing):
        self.target, self.smoothing = target, label_smoothing

    def forward(self, logits):
        xp = backend.get_array_module(logits)
        n, classes = logits.shape
        self.log_probs = stable_log_softmax(logits, axis=1)
        picked = xp.take_along_axis(self.log_probs, self.target[:, None], axis=1)[:, 0]
        losses = -(1 - self.smoothing) * picked
        if self.smoothing:
            losses = losses - (self.smoothing / classes) * self.log_probs.sum(axis=1)
        return losses

    def backward(self, gy):
        xp = backend.get_array_module(gy)
        n, classes = self.log_probs.shape
        grad = xp.exp(self.log_probs)
        if self.smoothing:
            grad -= self.smoothing / classes
        grad[xp.arange(n), self.target] -= 1 - self.smoothing
        return (grad * gy[:, None],)

    def backward_graph(self, gy):
        xp = backend.get_array_module(self.log_probs)
        n, classes = self.log_probs.shape
        target_distribution = xp.full((n, classes), self.smoothing / classes, dtype=self.log_probs.dtype)
        target_distribution[xp.arange(n), self.target] += 1 - self.smoothing
        return ((Softmax(1)(self.inputs[0]) - target_distribution) * gy.unsqueeze(1),)


def cross_entropy(logits, target, reduction="mean", label_smoothing=0.0):
    """Softmax cross-entropy of logits (N, C) against integer class targets (N,)."""
    _check_class_targets(logits, target, "cross_entropy")
    _check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must lie in [0, 1], got {label_smoothing}")
    return reduce(CrossEntropy(target.data, label_smoothing)(logits), reduction)


def nll_loss(log_probs, target, reduction="mean"):
    """Negative log-likelihood: -log_probs[i, target[i]], for log-probabilities (N, C)."""
    _check_class_targets(log_probs, target, "nll_loss")
    xp = backend.get_array_module(log_probs.data)
    return reduce(-log_probs[xp.arange(log_probs.shape[0]), target.data], reduction)


def mse_loss(input, target, reduction="mean"):
    """Squared error (input - target)**2."""
    if input.shape != target.shape:
        raise ValueError(f"mse_loss: input shape {input.shape} and target shape {target.shape} differ")
    difference = input - target
    return reduce(difference * difference, reduction)


class BCEWithLogits(Function):
    """max(x, 0) - x t + log(1 + e**-|x|);  dx = gy (sigmoid(x) - t)."""

    def forward(self, x, t):
        xp = backend.get_array_module(x)
        self.x, self.t = x, t
        return xp.maximum(x, 0) - x * t + xp.log1p(xp.exp(-abs(x)))

    def backward(self, gy):
        xp = backend.get_array_module(gy)
        e = xp.exp(-abs(self.x))
        sigmoid = xp.where(self.x >= 0, 1 / (1 + e), e / (1 + e))
        gx = gy * (sigmoid - self.t) if self.needs_input_grad[0] else None
        gt = -gy * self.x if self.needs_input_grad[1] else None
        return gx, gt

    def backward_graph(self, gy):
        x, t = self.inputs
        return gy * (x.sigmoid() - t), -gy * x


def binary_cross_entropy_with_logits(input, target, reduction="mean"):
    """Sigmoid + binary cross-entropy in one numerically stable step; target in [0, 1], same shape."""
    target = promote("binary_cross_entropy_with_logits", target, input)[0]  # a number or array as a tensor
    if input.shape != target.shape:
        raise ValueError(f"binary_cross_entropy_with_logits: input shape {input.shape} and target shape "
                         f"{target.shape} differ")
    return reduce(BCEWithLogits()(input, target), reduction)


