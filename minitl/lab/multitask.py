"""Multi-task learning: one shared network, one head per task, trained on a weighted sum of the tasks' losses.

When each task alone has too little data, learning related tasks together
lets every task's labels shape the shared features (Caruana 1997):

    model = MultiTaskNet(backbone, {"digit": nn.Linear(84, 10), "parity": nn.Linear(84, 2)})
    outputs = model(images)                        # {"digit": logits, "parity": logits}
    loss, losses = weighted_loss(outputs, {"digit": y, "parity": y % 2}, {"digit": 1.0, "parity": 0.5})

The total loss is L = sum_t w_t L_t. Its gradient reaches head t only through
L_t (no other loss depends on head t's parameters), and the backbone through
every task: dL/d(backbone) = sum_t w_t dL_t/d(backbone).
"""
from minitl import nn
from minitl.nn import functional as F


class MultiTaskNet(nn.Module):
    """`backbone` computes shared features; ``heads[task]`` maps them to that task's outputs.

    forward returns a dict task -> output, in the heads' order.
    """

    def __init__(self, backbone, heads):
        super().__init__()
        self.backbone = backbone
        self.heads = nn.ModuleDict(heads)

    def forward(self, x):
        features = self.backbone(x)
        return {task: head(features) for task, head in self.heads.items()}


def weighted_loss(outputs, targets, weights=None, loss_fn=F.cross_entropy):
    """(sum_t weights[t] * loss_fn(outputs[t], targets[t]), {task: loss_t}); weights default to 1 for each task."""
    if set(outputs) != set(targets):
        raise KeyError(f"outputs are for tasks {sorted(outputs)} but targets for {sorted(targets)}")
    weights = {task: 1.0 for task in outputs} if weights is None else weights
    if set(weights) != set(outputs):
        raise KeyError(f"weights are for tasks {sorted(weights)} but the outputs for {sorted(outputs)}")
    losses = {task: loss_fn(outputs[task], targets[task]) for task in outputs}
    total = sum(weights[task] * loss for task, loss in losses.items())
    return total, losses
