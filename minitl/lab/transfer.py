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

How much to fine-tune is a choice between these ends: ``unfreeze_last(model, n)``
trains the head and the last n stages, and ``extract_features(model, loader,
layer="layer2")`` reads the features of an earlier layer, for a task so
different that the top layers' features no longer fit it. ``fc_to_conv``
turns the fully connected layers into convolutions, so a network trained on
small images slides over a larger one and returns a map of class scores.
"""
import copy
import math

import numpy as np

from minitl import backend
from minitl.autograd import no_grad
from minitl.creation import arange
from minitl.nn import (
    BatchNorm1d,
    BatchNorm2d,
    Conv2d,
    Dropout,
    Flatten,
    Identity,
    LeakyReLU,
    Linear,
    Module,
    ReLU,
    Sequential,
    Sigmoid,
    Tanh,
)
from minitl.nn import functional as F


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


def head_name(model):
    """The dotted name (as in named_modules) of the model's last Linear layer: its classifier."""
    head = None
    for name, layer in model.named_modules():
        if isinstance(layer, Linear):
            head = name
    if head is None:
        raise ValueError(f"{type(model).__name__} has no Linear layer to use as its classification head")
    return head


def find_head(model):
    """(parent module, attribute name, layer) of the model's last Linear layer: its classifier."""
    parent_name, _, attribute = head_name(model).rpartition(".")
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


def default_stages(model):
    """The stages `unfreeze_last` counts by default: the model's direct children that hold parameters, in order,
    leaving out the one that holds the head (the last Linear).

    ResNet-20: conv1, bn1, layer1, layer2, layer3 (each ``layer`` is a stage of three blocks).
    """
    head_ids = {id(p) for p in find_head(model)[2].parameters()}
    parameter_ids = [(child, {id(p) for p in child.parameters()}) for child in model.children()]
    return [child for child, ids in parameter_ids if ids and not ids & head_ids]


def unfreeze_last(model, n, stages=None):
    """Freeze `model` except its head and its last `n` stages; return the modules left trainable (head last).

    ``n=0`` trains the head only, ``n=len(stages)`` everything. `stages` lists
    the modules to count, first to last (default: ``default_stages(model)``). BatchNorm
    is handled as by `freeze`: in the frozen stages it stays in eval mode and
    keeps its running statistics; in the trainable ones it follows
    ``train()``/``eval()`` again.
    """
    stages = default_stages(model) if stages is None else list(stages)
    if not isinstance(n, int) or not 0 <= n <= len(stages):
        raise ValueError(f"n must be an int from 0 to the number of stages ({len(stages)}), got {n!r}")
    freeze(model)
    trainable = stages[len(stages) - n:] + [find_head(model)[2]]
    for module in trainable:
        unfreeze(module)
    model.train(model.training)  # unfrozen BatchNorm takes the model's mode again
    return trainable


class _FeaturesReady(Exception):
    """Raised by _Capture to stop the forward pass once the wanted layer has run."""


class _Capture(Module):
    """Stands in for a layer during `extract_features`: runs it, keeps its output, stops the forward pass."""

    def __init__(self, layer):
        super().__init__()
        self.layer = layer

    def forward(self, x):
        self.output = self.layer(x)
        raise _FeaturesReady


def _swapped_forward(model, name, replacement, run):
    """run() while the submodule called `name` (dotted, as in named_modules) is replaced by replacement(layer)."""
    modules = dict(model.named_modules())
    if name not in modules or name == "":
        raise KeyError(f"{type(model).__name__} has no submodule {name!r}; it has: "
                       + ", ".join(n for n in modules if n))
    parent_name, _, attribute = name.rpartition(".")
    parent, layer = modules[parent_name], modules[name]
    stand_in = replacement(layer)
    setattr(parent, attribute, stand_in)
    try:
        return run(stand_in)
    finally:
        setattr(parent, attribute, layer)


def extract_features(model, loader, layer=None, pool=None):
    """Run `model` over `loader` in eval mode without a graph: (features, labels) as NumPy arrays.

    layer=None: the input of the head (the last Linear, swapped for Identity
    meanwhile). layer="layer2" (a name from ``named_modules()``): that
    submodule's output; the rest of the network is not run. pool=s averages a
    4-D (N, C, H, W) output over an s x s grid of bins (adaptive average
    pooling, s=1 is global average pooling) before flattening, so features of
    early, large layers stay a manageable size. Features come flattened to
    (N, features). The model's mode and layers are restored afterwards.
    """
    if layer is None:
        layer = head_name(model)
        replacement, read = (lambda head: Identity()), (lambda stand_in, output: output)
    else:
        replacement, read = _Capture, (lambda stand_in, output: stand_in.output)
    was_training = model.training
    model.eval()
    features, labels = [], []

    def run(stand_in):
        with no_grad():
            for images, targets in loader:
                try:
                    output = model(images)
                except _FeaturesReady:
                    output = None
                output = read(stand_in, output)
                if pool is not None and output.ndim == 4:
                    output = F.adaptive_avg_pool2d(output, pool)
                features.append(output.flatten(1).numpy())
                labels.append(targets.numpy())

    try:
        _swapped_forward(model, layer, replacement, run)
    finally:
        model.train(was_training)
    return np.concatenate(features), np.concatenate(labels)


_ELEMENTWISE = (ReLU, LeakyReLU, Sigmoid, Tanh, Dropout, Identity)  # layers that work on any shape as they are


def _chain(module):
    """The leaf layers of `module`, in the order a chain of its children (and theirs) would apply them."""
    if not module._modules:
        return [module]
    return [leaf for child in module.children() for leaf in _chain(child)]


def _linear_as_conv(linear, in_shape):
    """Conv2d with kernel = in_shape's (H, W) and the Linear's weights: on a (C, H, W) input it computes the
    same numbers as the Linear on that input flattened, since Flatten orders features by (c, h, w)."""
    channels, height, width = in_shape
    weight = linear.weight
    conv = Conv2d(channels, linear.out_features, (height, width), bias=linear.bias is not None,
                  dtype=weight.dtype, device=weight.device)
    conv.weight.data[...] = weight.data.reshape(conv.weight.shape)
    if linear.bias is not None:
        conv.bias.data[...] = linear.bias.data
    return conv


_NOT_A_CHAIN = ("fc_to_conv: {}'s forward is not the chain of its layers in order, so it cannot be rebuilt as a "
                "Sequential of convolutions")


def fc_to_conv(model, input_shape):
    """A fully convolutional copy of `model`, trained on inputs of `input_shape` (C, H, W).

    The first Linear after Flatten sees a C x H x W volume: it becomes a conv
    with an H x W kernel (AlexNet's first FC on a 6x6x256 volume is a 6x6
    conv); each later Linear becomes a 1x1 conv. On an input of `input_shape`
    the copy returns the same logits as (N, classes, 1, 1); on a larger
    image it returns a map of class scores, one for each input window of
    `input_shape` at the network's total stride (LeNet-5: 4 pixels), at the
    cost of one pass over the image instead of one per window.

    A window is scored exactly as the original network would score it alone,
    except that zero padding (LeNet's first conv pads by 2) is seen only at
    the border of the large image: inside, a window sees its neighbours'
    pixels where the network alone saw zeros.

    `model` must be a chain: an nn.Sequential, or a module whose forward
    applies its children in order (LeNet5: features, then classifier); the
    copy is checked against `model` on a random input, and a model whose
    forward does something else is refused.
    """
    weight = next(model.parameters())
    probe = arange(math.prod(input_shape), dtype=weight.dtype, device=weight.device).reshape(1, *input_shape).sin()
    was_training = model.training
    model.eval()
    layers, x, in_shape = [], probe, None  # in_shape: what the next Linear sees, as (C, H, W), once flattened
    try:
        with no_grad():
            expected = model(probe)
            for layer in _chain(model):
                if isinstance(layer, Flatten):
                    if layer.start_dim != 1 or layer.end_dim != -1 or x.ndim != 4:
                        raise ValueError(f"fc_to_conv handles Flatten() of an (N, C, H, W) volume, got {layer!r} "
                                         f"on shape {tuple(x.shape)}")
                    in_shape = tuple(x.shape[1:])
                elif in_shape is not None and isinstance(layer, Linear):
                    layers.append(_linear_as_conv(layer, in_shape))
                    in_shape = (layer.out_features, 1, 1)
                elif in_shape is None or isinstance(layer, _ELEMENTWISE):
                    layers.append(copy.deepcopy(layer))
                else:
                    raise ValueError(f"fc_to_conv cannot convert {type(layer).__name__} after Flatten: only Linear "
                                     "and elementwise layers")
                try:
                    x = layer(x)
                except (ValueError, RuntimeError) as error:
                    raise ValueError(_NOT_A_CHAIN.format(type(model).__name__)) from error
            converted = Sequential(*layers).eval()
            scores = converted(probe)
    finally:
        model.train(was_training)
    xp = backend.get_array_module(scores.data)
    if scores.ndim != 4 or scores.shape[2:] != (1, 1) or not bool(xp.allclose(
            scores.flatten(1).data, expected.data, rtol=1e-4, atol=1e-5)):
        raise ValueError(_NOT_A_CHAIN.format(type(model).__name__))
    return converted.train(was_training)
