"""Transfer learning: reuse a network trained on one task for another.

The recipe (cs231n, "Transfer learning"): take a network trained on a big
dataset, freeze it, replace its last layer by a new one for your classes, and
train only that layer. With more data, also fine-tune the rest of the
network with a smaller learning rate (about 1/10 of the head's).

    freeze(model); head = replace_head(model, num_classes=5)      # feature extractor + new head
    groups = discriminative_param_groups(model, head, lr=0.01)     # fine-tuning: backbone at lr/10

Training only the head leaves the backbone's output fixed, so it can be
computed once: ``extract_features`` runs the frozen backbone over a dataset,
and a linear classifier on the cached features trains in seconds on a CPU.
"""
import numpy as np

from minitl.autograd import no_grad
from minitl.nn import BatchNorm1d, BatchNorm2d, Identity, Linear


def freeze(module):
    """Stop training `module`: no gradients for its parameters, and its BatchNorm layers stay in eval mode.

    Keeping BatchNorm in eval matters: in train mode a "frozen" BatchNorm
    would still normalise with each batch's statistics and overwrite its
    running statistics with those of the new data.
    """
    module.requires_grad_(False)
    for layer in _batch_norms(module):
        layer.frozen = True
        layer.eval()
    return module


def unfreeze(module):
    """Undo `freeze`: gradients again, and BatchNorm follows train()/eval() again."""
    module.requires_grad_(True)
    for layer in _batch_norms(module):
        layer.frozen = False
    return module


def _batch_norms(module):
    return [layer for layer in module.modules() if isinstance(layer, (BatchNorm1d, BatchNorm2d))]


def find_head(model):
    """(parent module, attribute name, layer) of the model's last Linear layer: its classifier."""
    head = None
    for name, layer in model.named_modules():
        if isinstance(layer, Linear):
            head = name
    if head is None:
        raise ValueError(f"{type(model).__name__} has no Linear layer to use as its classification head")
    parent_name, _, attribute = head.rpartition(".")
    parent = dict(model.named_modules())[parent_name]  # "" names the model itself
    return parent, attribute, getattr(parent, attribute)


def replace_head(model, num_classes):
    """Put a new, trainable Linear(in_features, num_classes) where the last Linear layer was; return it."""
    parent, attribute, old = find_head(model)
    head = Linear(old.in_features, num_classes, dtype=old.weight.dtype, device=old.weight.device)
    setattr(parent, attribute, head)
    return head


def discriminative_param_groups(model, head, lr, backbone_ratio=0.1):
    """Optimizer param groups: the head at `lr`, every other trainable parameter at lr * backbone_ratio."""
    head_ids = {id(p) for p in head.parameters()}
    backbone = [p for p in model.parameters() if p.requires_grad and id(p) not in head_ids]
    return [{"params": backbone, "lr": lr * backbone_ratio}, {"params": list(head.parameters()), "lr": lr}]


def extract_features(model, loader):
    """Run `model` without its head over `loader`: (features, labels) as NumPy arrays.

    The model is evaluated in eval mode without recording a graph, with its
    head swapped for Identity meanwhile (both restored afterwards).
    """
    parent, attribute, head = find_head(model)
    was_training = model.training
    setattr(parent, attribute, Identity())
    model.eval()
    features, labels = [], []
    try:
        with no_grad():
            for images, targets in loader:
                features.append(model(images).numpy())
                labels.append(targets.numpy())
    finally:
        setattr(parent, attribute, head)
        model.train(was_training)
    return np.concatenate(features), np.concatenate(labels)
