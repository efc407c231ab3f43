"""A small CNN and a short training run, written once for both torch.nn and minitl.nn.

``small_cnn(nn)`` builds the same architecture from either library (pass
``torch.nn`` or ``minitl.nn``), so state_dict keys, load/forward parity and
training parity are all checked on one definition. Used by
tests/test_layers.py and tests/golden/make_module_golden.py.
"""
import collections

import numpy as np

INPUT_SHAPE = (4, 3, 12, 12)
STEPS = 3
LR = 0.1


def small_cnn(nn):
    """conv-bn-relu-pool, a nested Sequential block, adaptive pool, then a head with flatten, dropout, bn1d."""

    class SmallCNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                nn.Sequential(nn.Conv2d(4, 6, 3, bias=False), nn.BatchNorm2d(6), nn.LeakyReLU(0.1)),
            )
            self.pool = nn.AdaptiveAvgPool2d((2, 2))
            self.head = nn.Sequential(collections.OrderedDict(
                flatten=nn.Flatten(), drop=nn.Dropout(0.3), fc1=nn.Linear(24, 8), bn=nn.BatchNorm1d(8),
                act=nn.Tanh(), fc2=nn.Linear(8, 5),
            ))

        def forward(self, x):
            return self.head(self.pool(self.features(x)))

    return SmallCNN()


def freeze_modes(model):
    """Training setup of the parity run: the model trains, but the inner block's BatchNorm is kept
    in eval (a frozen part) and the dropout too (its random mask cannot match torch's)."""
    model.train()
    model.features[4][1].eval()
    model.head.drop.eval()
    return model


def make_data(seed):
    """The float64 eval input, and STEPS (input, upstream gradient) pairs for training."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=INPUT_SHAPE)
    batches = [(rng.normal(size=INPUT_SHAPE) * 2 + 0.5, rng.normal(size=(INPUT_SHAPE[0], 5)))
               for _ in range(STEPS)]
    return x, batches


def train_steps(model, batches, as_tensor):
    """STEPS of plain SGD on L = sum(model(x) * upstream); `as_tensor` makes a float64 input tensor."""
    for x, upstream in batches:
        out = model(as_tensor(x))
        (out * as_tensor(upstream)).sum().backward()
        for p in model.parameters():
            p.data -= LR * p.grad.data
            p.grad = None


FAN_SHAPES = [(3, 4), (7, 5), (5, 3, 2, 2), (8, 2, 3), (2, 3, 4, 5, 6), (1, 1)]
GAINS = [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
         ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", 5 ** 0.5), ("selu", None)]
