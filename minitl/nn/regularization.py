"""Random regularisers beyond dropout: stochastic depth and DropConnect.

Both follow dropout's recipe: during training multiply something by a random
0/1 mask that keeps each entry with probability 1 - p, and scale the kept
entries by 1 / (1 - p) so the expected output equals the deterministic one
used at evaluation ("inverted" scaling: nothing to change at test time).
What gets masked differs:

    dropout          activations, one mask entry per element
    stochastic depth a residual branch, one mask entry per sample (mode='row')
                     or per batch (mode='batch'): the whole branch is on or off
    DropConnect      the weights of a Linear layer, one mask per mini-batch
"""
from minitl.nn import functional as F
from minitl.nn.arguments import check_probability
from minitl.nn.layers import Linear
from minitl.nn.module import Module


def _check_stochastic_depth(p, mode):
    check_probability(p, "drop")
    if mode not in ("batch", "row"):
        raise ValueError(f"mode has to be either 'batch' or 'row', but got {mode!r}")


def stochastic_depth(input, p, mode, training=True):
    """torchvision's stochastic depth (Huang et al., 2016) of a residual branch's output.

    Training: each sample's whole `input` (mode='row') or the whole batch's
    (mode='batch') is zeroed with probability p, and kept with probability
    1 - p (the survival rate) scaled by 1 / (1 - p). Then
    ``x + stochastic_depth(branch(x), ...)`` skips the branch for the dropped
    samples, so the network is shallower for them. Evaluation, or p = 0: input unchanged.
    """
    _check_stochastic_depth(p, mode)
    if not training or p == 0.0:
        return input
    mask_shape = (input.shape[0],) + (1,) * (input.ndim - 1) if mode == "row" else (1,) * input.ndim
    return input * F._dropout_mask(input, p, mask_shape)


def linear_decay(last_prob, num_blocks):
    """Huang et al.'s drop probabilities for blocks 1..L: p_l = (l / L) p_L, the last block dropped most."""
    return [last_prob * block / num_blocks for block in range(1, num_blocks + 1)]


class StochasticDepth(Module):
    """Module form of ``stochastic_depth(input, p, mode, self.training)``, as torchvision's."""

    def __init__(self, p, mode):
        super().__init__()
        _check_stochastic_depth(p, mode)
        self.p, self.mode = p, mode

    def forward(self, input):
        return stochastic_depth(input, self.p, self.mode, self.training)

    def extra_repr(self):
        return f"p={self.p}, mode={self.mode}"


def drop_connect_linear(x, weight, bias=None, p=0.5, training=True):
    """y = x (M * W / (1 - p))^T + b with one Bernoulli(1 - p) mask M for the whole batch; eval: plain linear."""
    check_probability(p, "DropConnect")
    if not training or p == 0:
        return F.linear(x, weight, bias)
    return F.linear(x, weight * F._dropout_mask(weight, p, weight.shape), bias)


class DropConnectLinear(Linear):
    """A Linear layer with DropConnect (Wan et al., 2013): a random mask on the weights, not the activations.

    Training: for every forward pass (one mini-batch) draw M with entries 1
    with probability 1 - p, 0 otherwise, shaped like W, and compute

        y = x (M * W / (1 - p))^T + b

    so E[y] = x W^T + b. Every sample of the batch sees the same dropped
    connections (the paper draws a mask per sample, which costs a weight
    matrix per sample; one per batch is the usual cheap form). The bias is
    not masked. Evaluation: y = x W^T + b, the plain weights.

    How this differs from the paper's inference, and why. Wan et al. do not
    use the mean weights at test time: they model each unit's pre-activation
    u = (M * W) x as a Gaussian with the mask's moments, mean (1 - p) W x and
    variance p (1 - p) (W * W)(x * x), draw samples of u, put each through
    the activation and average the results, because E[relu(u)] is not
    relu(E[u]). That is more faithful, but it makes evaluation random (or
    expensive), ties the layer to the activation that follows it, and the
    paper reports only small gains over the mean. The mean-weight rule used
    here is exact for the layer's own output and is dropout's test-time rule:
    deterministic, and with inverted scaling nothing changes at evaluation.
    """

    def __init__(self, in_features, out_features, bias=True, p=0.5, device=None, dtype=None):
        check_probability(p, "DropConnect")
        super().__init__(in_features, out_features, bias, device, dtype)
        self.p = p

    def forward(self, x):
        return drop_connect_linear(x, self.weight, self.bias, self.p, self.training)

    def extra_repr(self):
        return super().extra_repr() + f", p={self.p}"
