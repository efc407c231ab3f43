"""Pretrained weights: where each registered set comes from, and loading any checkpoint into a model.

Registered weights keep their original public URL and checksum; files are
found through ``minitl.hub`` ($MINITL_WEIGHTS_DIR first, then the cache,
then a download). The CIFAR-10 ResNets are akamaster/pytorch_resnet_cifar10's
(BSD licence), trained on inputs normalised with mean (0.485, 0.456, 0.406)
and std (0.229, 0.224, 0.225); the ImageNet models are torchvision's.
"""
import os

from minitl import hub
from minitl.io.formats import read_state_dict

WEIGHTS_ENV = "MINITL_WEIGHTS_DIR"
_CIFAR = "https://github.com/akamaster/pytorch_resnet_cifar10/raw/master/pretrained_models/"
_TORCHVISION = "https://download.pytorch.org/models/"

REGISTRY = {
    ("resnet20", "cifar10"): hub.RemoteFile(
        "resnet20-12fca82f.th", _CIFAR + "resnet20-12fca82f.th",
        "12fca82f0bebc4135bf1f32f6e3710e61d5108578464b84fd6d7f5c1b04036c8"),
    ("resnet32", "cifar10"): hub.RemoteFile(
        "resnet32-d509ac18.th", _CIFAR + "resnet32-d509ac18.th",
        "d509ac1820d7f25398913559d7e81a13229b1e7adc5648e3bfa5e22dc137f850"),
    # For the files below only the hash prefix in the file name is known here (torch.hub's check).
    ("resnet44", "cifar10"): hub.RemoteFile("resnet44-014dd654.th", _CIFAR + "resnet44-014dd654.th", "014dd654"),
    ("resnet56", "cifar10"): hub.RemoteFile("resnet56-4bfd9763.th", _CIFAR + "resnet56-4bfd9763.th", "4bfd9763"),
    ("resnet18", "imagenet"): hub.RemoteFile("resnet18-f37072fd.pth", _TORCHVISION + "resnet18-f37072fd.pth",
                                             "f37072fd"),
    ("resnet34", "imagenet"): hub.RemoteFile("resnet34-b627a593.pth", _TORCHVISION + "resnet34-b627a593.pth",
                                             "b627a593"),
    ("vgg11", "imagenet"): hub.RemoteFile("vgg11-8a719046.pth", _TORCHVISION + "vgg11-8a719046.pth", "8a719046"),
    ("vgg16", "imagenet"): hub.RemoteFile("vgg16-397923af.pth", _TORCHVISION + "vgg16-397923af.pth", "397923af"),
}


def resolve(arch, weights):
    """The checkpoint path for `weights`: a registered name (fetched if needed) or a path."""
    if (arch, weights) in REGISTRY:
        return hub.fetch(REGISTRY[(arch, weights)], "weights", WEIGHTS_ENV)
    if os.path.exists(os.fspath(weights)):
        return weights
    names = sorted(name for a, name in REGISTRY if a == arch)
    raise ValueError(f"{arch}: weights={weights!r} is neither a file nor a registered name "
                     f"(registered for {arch}: {names or 'none'})")


def strip_prefixes(state):
    """Names without the ``module.`` prefix that DataParallel adds."""
    return {key.removeprefix("module."): value for key, value in state.items()}


def load_state(model, state):
    """Load a cleaned name -> array dict into `model` (strict; on any error the model is unchanged).

    Checkpoints older than PyTorch 0.4.1 have no ``num_batches_tracked``:
    the model keeps its own counters (as ``load_state_dict`` allows).
    """
    model.load_state_dict(state)
    return model


def load_weights(model, arch, weights):
    """Load `weights` (a registered name or a checkpoint path) into `model` and return it."""
    return load_state(model, strip_prefixes(read_state_dict(resolve(arch, weights))))
