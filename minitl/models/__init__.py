"""The model zoo: architectures with PyTorch's key names, and their pretrained weights.

    model = minitl.models.resnet20(weights="cifar10")         # registered, fetched and verified
    model = minitl.models.resnet18(num_classes=10)             # random init
    model = minitl.models.lenet5(weights="my_lenet.npz")       # any checkpoint path

The CIFAR ResNets also take ``stochastic_depth_prob=`` (see cifar_resnet).
``weights`` is None, a registered name ('cifar10' for the CIFAR ResNets,
'imagenet' for resnet18/34 and vgg11/16), or a path to a PyTorch
checkpoint, a .safetensors file or a minitl .npz.
"""
import os

from minitl.io.formats import read_state_dict
from minitl.models.cifar_resnet import CifarResNet
from minitl.models.lenet import LeNet5
from minitl.models.resnet import ResNet
from minitl.models.vgg import CONFIGS, VGG
from minitl.models.weights import REGISTRY, load_weights

BUILDERS = {
    "resnet20": lambda num_classes, **options: CifarResNet(3, num_classes, **options),
    "resnet32": lambda num_classes, **options: CifarResNet(5, num_classes, **options),
    "resnet44": lambda num_classes, **options: CifarResNet(7, num_classes, **options),
    "resnet56": lambda num_classes, **options: CifarResNet(9, num_classes, **options),
    "resnet18": lambda num_classes: ResNet((2, 2, 2, 2), num_classes),
    "resnet34": lambda num_classes: ResNet((3, 4, 6, 3), num_classes),
    "vgg11": lambda num_classes: VGG(CONFIGS["vgg11"], num_classes),
    "vgg16": lambda num_classes: VGG(CONFIGS["vgg16"], num_classes),
    "lenet5": lambda num_classes: LeNet5(num_classes),
}
DEFAULT_CLASSES = {"resnet18": 1000, "resnet34": 1000, "vgg11": 1000, "vgg16": 1000}


def create(arch, num_classes=None, weights=None, **options):
    """Build architecture `arch` by name, optionally loading weights; `options` go to its constructor
    (e.g. stochastic_depth_prob= for the CIFAR ResNets)."""
    if arch not in BUILDERS:
        raise ValueError(f"unknown architecture {arch!r}; available: {sorted(BUILDERS)}")
    if weights is not None and not isinstance(weights, (str, os.PathLike)):
        names = sorted(name for a, name in REGISTRY if a == arch)
        raise TypeError(f"{arch}: weights= accepts None (random initialisation), a registered name "
                        f"({', '.join(map(repr, names)) or 'none for ' + arch}) or the path of a checkpoint; "
                        f"got {weights!r}")
    model = BUILDERS[arch](num_classes or DEFAULT_CLASSES.get(arch, 10), **options)
    return model if weights is None else load_weights(model, arch, weights)


def resnet20(num_classes=10, weights=None, stochastic_depth_prob=0.0):
    return create("resnet20", num_classes, weights, stochastic_depth_prob=stochastic_depth_prob)


def resnet32(num_classes=10, weights=None, stochastic_depth_prob=0.0):
    return create("resnet32", num_classes, weights, stochastic_depth_prob=stochastic_depth_prob)


def resnet44(num_classes=10, weights=None, stochastic_depth_prob=0.0):
    return create("resnet44", num_classes, weights, stochastic_depth_prob=stochastic_depth_prob)


def resnet56(num_classes=10, weights=None, stochastic_depth_prob=0.0):
    return create("resnet56", num_classes, weights, stochastic_depth_prob=stochastic_depth_prob)


def resnet18(num_classes=1000, weights=None):
    return create("resnet18", num_classes, weights)


def resnet34(num_classes=1000, weights=None):
    return create("resnet34", num_classes, weights)


def vgg11(num_classes=1000, weights=None):
    return create("vgg11", num_classes, weights)


def vgg16(num_classes=1000, weights=None):
    return create("vgg16", num_classes, weights)


def lenet5(num_classes=10, weights=None):
    return create("lenet5", num_classes, weights)
