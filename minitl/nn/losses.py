"""Loss functions, PyTorch's names and semantics; `reduction` is 'mean' (default), 'sum' or 'none'.

cross_entropy(z, t) with class weights w (default 1), label smoothing e over
C classes and targets equal to `ignore_index` skipped: for each kept sample,
with p = log softmax(z) (stable: z - max subtracted),

    loss = -(1 - e) w_t p_t - (e / C) sum_c w_c p_c
    dloss/dz = a - softmax(z) sum_c a_c,     a = dloss/dp = -(1 - e) w_t onehot(t) - (e / C) w

('mean' divides the sum by sum over kept samples of w_t, as PyTorch does; with
w = 1 this is the mean, and dloss/dz = softmax(z) - target distribution),
computed in one Function. nll_loss is the same with e = 0, on given p.

binary_cross_entropy_with_logits(x, t) with pos_weight P (default 1)
    = -P t log s(x) - (1 - t) log(1 - s(x)),   s the sigmoid,
written stably with softplus(-x) = -log s(x) = max(-x, 0) + log(1 + e**-|x|):

    loss = (1 - t) x + l softplus(-x),   l = 1 + (P - 1) t
    dloss/dx = (1 - t) - l s(-x)          dloss/dt = -x + (P - 1) softplus(-x)

(P = 1: loss = max(x, 0) - x t + log(1 + e**-|x|), dloss/dx = s(x) - t).

The others are compositions of differentiable ops (their gradients follow), with d = input - target:

    l1 |d|;  smooth_l1 (beta) 0.5 d**2 / beta if |d| < beta else |d| - 0.5 beta;
    huber (delta) 0.5 d**2 if |d| < delta else delta (|d| - 0.5 delta);
    binary_cross_entropy -w (t log p + (1 - t) log(1 - p)), each log clamped at -100 as PyTorch's;
    kl_div t (log t - input) (input: log-probabilities), or e**t (t - input) with log_target;
    multi_margin (cs231n's multiclass SVM) sum over j != y of w_y max(0, margin - x_y + x_j)**p / C.
"""
import warnings

from minitl import backend
from minitl.autograd import Function, either
from minitl.nn.arguments import tensor_argument
from minitl.ops import elementwise
from minitl.ops.elementwise import Sigmoid
from minitl.ops.indexing import gather
from minitl.ops.promotion import promote
from minitl.ops.shape import where
from minitl.ops.softmax import SoftmaxFunction, log_softmax, stable_log_softmax

REDUCTIONS = ("mean", "sum", "none")


def check_reduction(reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def reduce(losses, reduction):
    """Apply `reduction` to a tensor of per-element losses."""
    check_reduction(reduction)
    if reduction == "mean":
        return losses.mean()
    return losses.sum() if reduction == "sum" else losses


def _class_arguments(input, target, weight, ignore_index, reduction, name):
    """Check (N, C) scores against integer class targets (N,) and optional class weights (C,).

    Returns (targets, kept, weights) arrays: the targets with ignored ones set to class 0, the mask
    of samples kept, and the class weights (ones when none are given) in the input's dtype.
    """
    tensor_argument(input, name, "input")
    tensor_argument(target, name, "target")
    tensor_argument(weight, name, "weight", optional=True)
    check_reduction(reduction)
    if input.ndim != 2:
        raise ValueError(f"{name} expects input of shape (N, C), got {input.shape}")
    n, classes = input.shape
    if target.ndim != 1 or target.shape[0] != n or target.dtype.kind not in "iu":
        raise ValueError(f"{name} expects integer class targets of shape ({n},), "
                         f"got {target.dtype} of shape {target.shape}")
    if weight is not None and weight.shape != (classes,):
        raise ValueError(f"{name}: weight must have one entry per class, shape ({classes},), got {weight.shape}")
    xp = backend.get_array_module(input.data)
    kept = target.data != ignore_index
    if kept.any():
        low, high = int(target.data[kept].min()), int(target.data[kept].max())
        if low < 0 or high >= classes:
            raise ValueError(f"{name}: target class indices must lie in [0, {classes - 1}] (or equal "
                             f"ignore_index={ignore_index}), got values from {low} to {high}")
    targets = xp.where(kept, target.data, 0)
    weights = xp.ones(classes, dtype=input.dtype) if weight is None else weight.data.astype(input.dtype)
    return targets, kept, weights


class ClassLoss(Function):
    """Per-sample -(1 - e) w_t p_t - (e / C) sum_c w_c p_c over p = log softmax(z) (`from_logits`) or
    p = the input; zero for ignored samples. See the module docstring for the gradient."""

    def __init__(self, targets, kept, weights, smoothing, from_logits):
        self.targets, self.kept, self.weights = targets, kept, weights
        self.smoothing, self.from_logits = smoothing, from_logits

    def forward(self, scores):
        xp = backend.get_array_module(scores)
        log_probs = stable_log_softmax(scores, axis=1) if self.from_logits else scores
        self.save_for_backward(scores)
        picked = xp.take_along_axis(log_probs, self.targets[:, None], axis=1)[:, 0]
        losses = -(1 - self.smoothing) * self.weights[self.targets] * picked
        if self.smoothing:
            losses = losses - (self.smoothing / scores.shape[1]) * (log_probs @ self.weights)
        return xp.where(self.kept, losses, 0).astype(scores.dtype, copy=False)

    def d_log_probs(self, scores):
        """dloss_i / dp_ic (a constant): -(1 - e) w_t at the target, -(e / C) w_c everywhere; 0 if ignored."""
        xp = backend.get_array_module(scores)
        n, classes = scores.shape
        grad = xp.zeros_like(scores)
        if self.smoothing:
            grad -= (self.smoothing / classes) * self.weights
        grad[xp.arange(n), self.targets] -= (1 - self.smoothing) * self.weights[self.targets]
        grad[~self.kept] = 0
        return grad

    def backward(self, gy):
        (scores,) = self.saved_tensors
        grad = self.d_log_probs(either.array(scores)) * gy[:, None]  # a constant times gy
        if self.from_logits:  # through log softmax: a - softmax(z) sum(a), softmax recomputed from z
            grad = grad - SoftmaxFunction(1).on(scores) * grad.sum(axis=1, keepdims=True)
        return (grad,)


def _classes_last(input, target, name):
    """(N, C, d1, ...) scores and (N, d1, ...) targets as (N d1 ..., C) rows and (N d1 ...,) targets."""
    if target.shape != (input.shape[0],) + input.shape[2:]:
        raise ValueError(f"{name}: input {input.shape} (N, C, d1, ...) needs targets of shape "
                         f"{(input.shape[0],) + input.shape[2:]}, got {target.shape}")
    order = (0,) + tuple(range(2, input.ndim)) + (1,)
    return input.permute(order).reshape(-1, input.shape[1]), target.reshape(-1)


def _class_loss(input, target, weight, ignore_index, reduction, label_smoothing, from_logits, name):
    if tensor_argument(input, name, "input").ndim > 2:  # one row of scores per position
        rows, targets = _classes_last(input, tensor_argument(target, name, "target"), name)
        losses = _class_loss(rows, targets, weight, ignore_index, reduction, label_smoothing, from_logits, name)
        return losses.reshape(target.shape) if reduction == "none" else losses
    targets, kept, weights = _class_arguments(input, target, weight, ignore_index, reduction, name)
    losses = ClassLoss(targets, kept, weights, label_smoothing, from_logits)(input)
    if reduction != "mean":
        return reduce(losses, reduction)
    xp = backend.get_array_module(weights)
    return losses.sum() / xp.where(kept, weights[targets], 0).sum()  # NaN when every sample is ignored


def _soft_cross_entropy(input, target, weight, reduction, label_smoothing):
    """-sum_c w_c q_c log softmax(z)_c over dim 1, q = (1 - e) t + e / C; 'mean' divides by N d1 ... (no weights)."""
    check_reduction(reduction)
    if target.shape != input.shape:
        raise ValueError(f"cross_entropy: probability targets must have the input's shape {input.shape} "
                         f"(or give integer class targets), got {target.dtype} of shape {target.shape}")
    classes = input.shape[1]
    if label_smoothing:
        target = target * (1 - label_smoothing) + label_smoothing / classes
    if weight is not None:  # a constant in the input's dtype, as for class targets
        target = target * weight.data.astype(input.dtype).reshape((classes,) + (1,) * (input.ndim - 2))
    return reduce(-(log_softmax(input, 1) * target).sum(1), reduction)


def cross_entropy(input, target, weight=None, *, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """Softmax cross-entropy of logits (N, C) or (N, C, d1, ...) against integer class targets (N,) or
    (N, d1, ...), or against class probabilities of the input's shape (a floating target).

    `weight`: a (C,) tensor of class weights; targets equal to `ignore_index` add nothing.
    The options after `weight` are keyword-only (PyTorch has deprecated arguments in between).
    """
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must lie in [0, 1], got {label_smoothing}")
    if isinstance(weight, str):
        raise TypeError(f"cross_entropy(): the third argument is the class weight, as in PyTorch, got {weight!r}; "
                        f"pass reduction={weight!r} by keyword")
    if tensor_argument(target, "cross_entropy", "target").dtype.kind == "f":
        return _soft_cross_entropy(tensor_argument(input, "cross_entropy", "input"), target, weight, reduction,
                                   label_smoothing)
    return _class_loss(input, target, weight, ignore_index, reduction, label_smoothing, True, "cross_entropy")


def nll_loss(input, target, weight=None, *, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood -w_t input[i, t] of log-probabilities (N, C) or (N, C, d1, ...), as cross_entropy."""
    return _class_loss(input, target, weight, ignore_index, reduction, 0.0, False, "nll_loss")


def _elementwise_arguments(input, target, name):
    """Refuse non-tensors and targets of another shape (PyTorch would broadcast them, with a warning)."""
    tensor_argument(input, name, "input")
    tensor_argument(target, name, "target")
    if input.shape != target.shape:
        raise ValueError(f"{name}: input shape {input.shape} and target shape {target.shape} differ")


def mse_loss(input, target, *, reduction="mean"):
    """Squared error (input - target)**2."""
    _elementwise_arguments(input, target, "mse_loss")
    difference = input - target
    return reduce(difference * difference, reduction)


def l1_loss(input, target, *, reduction="mean"):
    """Absolute error |input - target|."""
    _elementwise_arguments(input, target, "l1_loss")
    return reduce(elementwise.abs_(input - target), reduction)


def _quadratic_then_linear(input, target, width, reduction, name):
    """0.5 d**2 where |d| < width, width (|d| - 0.5 width) beyond: Huber's loss, continuous with its slope."""
    _elementwise_arguments(input, target, name)
    size = elementwise.abs_(input - target)
    return reduce(where(size.data < width, 0.5 * size * size, width * (size - 0.5 * width)), reduction)


def huber_loss(input, target, reduction="mean", delta=1.0):
    """0.5 d**2 for |d| < delta, delta (|d| - 0.5 delta) beyond, d = input - target."""
    return _quadratic_then_linear(input, target, delta, reduction, "huber_loss")


def smooth_l1_loss(input, target, *, reduction="mean", beta=1.0):
    """Huber's loss divided by beta: 0.5 d**2 / beta for |d| < beta, |d| - 0.5 beta beyond; beta=0 is l1_loss."""
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    if beta == 0:
        return l1_loss(input, target, reduction=reduction)
    return _quadratic_then_linear(input, target, beta, reduction, "smooth_l1_loss") / beta


def binary_cross_entropy(input, target, weight=None, *, reduction="mean"):
    """-w (t log p + (1 - t) log(1 - p)) of probabilities p in [0, 1] (after a sigmoid); logs clamped at -100.

    ``binary_cross_entropy_with_logits`` on the logits is the stable way to the same loss.
    """
    _elementwise_arguments(input, target, "binary_cross_entropy")
    tensor_argument(weight, "binary_cross_entropy", "weight", optional=True)
    check_reduction(reduction)
    if ((input.data < 0) | (input.data > 1)).any():
        raise RuntimeError("binary_cross_entropy: all elements of input should be between 0 and 1 "
                           "(pass logits to binary_cross_entropy_with_logits instead)")
    log_p = elementwise.clip(elementwise.log(input), -100)
    log_not_p = elementwise.clip(elementwise.log(1 - input), -100)
    losses = -(target * log_p + (1 - target) * log_not_p)
    return reduce(losses if weight is None else losses * weight, reduction)


def kl_div(input, target, *, reduction="mean", log_target=False):
    """KL(target || model) pointwise, `input` holding the model's log-probabilities:
    t (log t - input) (0 where t = 0), or with log_target e**t (t - input).

    reduction='batchmean' (the KL divergence per sample) divides the sum by N; 'mean' divides by every
    element, which PyTorch warns about, as here.
    """
    _elementwise_arguments(input, target, "kl_div")
    if reduction == "batchmean":
        return kl_div(input, target, reduction="sum", log_target=log_target) / input.shape[0]
    if reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the support size."
                      "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
                      "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
                      stacklevel=2)
    if log_target:
        return reduce(elementwise.exp(target) * (target - input), reduction)
    positive = target.data > 0
    log_target_or_0 = elementwise.log(where(positive, target, 1.0))  # log 1 = 0 where t = 0: 0 log 0 = 0
    return reduce(target * (log_target_or_0 - input), reduction)


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, *, reduction="mean"):
    """The multiclass hinge (SVM) loss of scores (N, C) and class targets (N,):
    sum over j != y of w_y max(0, margin - x_y + x_j)**p / C, p 1 or 2."""
    tensor_argument(input, "multi_margin_loss", "input")
    tensor_argument(target, "multi_margin_loss", "target")
    tensor_argument(weight, "multi_margin_loss", "weight", optional=True)
    check_reduction(reduction)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    if input.ndim != 2 or target.shape != input.shape[:1] or target.dtype.kind not in "iu":
        raise ValueError(f"multi_margin_loss expects scores (N, C) and integer targets (N,), got {input.shape} "
                         f"and {target.dtype} of shape {target.shape}")
    xp = backend.get_array_module(input.data)
    classes = input.shape[1]
    if ((target.data < 0) | (target.data >= classes)).any():
        raise ValueError(f"multi_margin_loss: target class indices must lie in [0, {classes - 1}]")
    true_score = gather(input, 1, target.reshape(-1, 1))
    others = (xp.arange(classes) != target.data[:, None]).astype(input.dtype)  # the j != y terms
    hinge = elementwise.relu(margin - true_score + input) ** p * others
    if weight is not None:  # w_y, a constant in the input's dtype
        hinge = hinge * weight.data.astype(input.dtype)[target.data][:, None]
    return reduce(hinge.sum(1) / classes, reduction)


class BCEWithLogits(Function):
    """(1 - t) x + l softplus(-x), l = 1 + (P - 1) t; see the module docstring for the gradients."""

    def __init__(self, pos_weight):
        self.pos_weight = pos_weight  # an array broadcasting against the input, or 1

    def forward(self, x, t):
        xp = backend.get_array_module(x)
        self.save_for_backward(x, t)
        softplus_minus_x = xp.maximum(-x, 0) + xp.log1p(xp.exp(-abs(x)))
        return (1 - t) * x + (1 + (self.pos_weight - 1) * t) * softplus_minus_x

    def backward(self, gy):
        x, t = self.saved_tensors
        scale = 1 + (self.pos_weight - 1) * t
        sigmoid_minus_x = Sigmoid().on(-x)  # stable, and smooth at 0 under create_graph
        softplus_minus_x = either.relu(-x) + either.log1p(either.exp(-abs(x)))  # as forward
        gx = gy * ((1 - t) - scale * sigmoid_minus_x) if self.needs_input_grad[0] else None
        gt = gy * ((self.pos_weight - 1) * softplus_minus_x - x) if self.needs_input_grad[1] else None
        return gx, gt


def binary_cross_entropy_with_logits(input, target, weight=None, *, reduction="mean", pos_weight=None):
    """Sigmoid + binary cross-entropy in one numerically stable step; target in [0, 1], same shape.

    `weight` multiplies each element's loss (broadcast); `pos_weight` (broadcast over the last dim,
    one per class) weighs the positive term, as PyTorch's; it is a constant here (no gradient).
    """
    name = "binary_cross_entropy_with_logits"
    tensor_argument(input, name, "input")
    tensor_argument(target, name, "target")
    tensor_argument(weight, name, "weight", optional=True)
    tensor_argument(pos_weight, name, "pos_weight", optional=True)
    check_reduction(reduction)
    if input.shape != target.shape:
        raise ValueError(f"{name}: input shape {input.shape} and target shape {target.shape} differ")
    input, target = promote(name, input, target)  # float32 logits, float64 targets: float64, as in PyTorch
    losses = BCEWithLogits(1 if pos_weight is None else pos_weight.data.astype(input.dtype))(input, target)
    return reduce(losses if weight is None else losses * weight, reduction)
