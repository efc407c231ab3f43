"""Record the logits of akamaster's CIFAR ResNet-20 in PyTorch for the real pretrained checkpoint.

Needs torch and the checkpoint (MINITL_WEIGHTS_DIR, e.g. ../shared/pretrained):

    MINITL_WEIGHTS_DIR=../shared/pretrained python tests/golden/make_models_golden.py

The torch model below follows akamaster/pytorch_resnet_cifar10's resnet.py
(option-A shortcuts: x[:, :, ::2, ::2] zero-padded on channels). Writes
tests/golden/models.npz: torch's eval-mode logits for a fixed input batch
(``test_images``), in float32 and in float64.
"""
import os
import pathlib

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = pathlib.Path(__file__).resolve().parent


class Block(nn.Module):
    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.pad = planes // 4 if stride != 1 or in_planes != planes else None

    def shortcut(self, x):
        return x if self.pad is None else F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))

    def forward(self, x):
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    def __init__(self, n, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = nn.Sequential(*[Block(16, 16) for _ in range(n)])
        self.layer2 = nn.Sequential(Block(16, 32, 2), *[Block(32, 32) for _ in range(n - 1)])
        self.layer3 = nn.Sequential(Block(32, 64, 2), *[Block(64, 64) for _ in range(n - 1)])
        self.linear = nn.Linear(64, num_classes)

    def forward(self, x):
        out = self.layer3(self.layer2(self.layer1(F.relu(self.bn1(self.conv1(x))))))
        return self.linear(F.avg_pool2d(out, out.size(3)).flatten(1))


def test_images():
    """The fixed input batch (regenerated from its seed rather than stored)."""
    return np.random.default_rng(0).normal(size=(8, 3, 32, 32))


def torch_resnet20(path):
    state = torch.load(path, map_location="cpu", weights_only=True)["state_dict"]
    model = CifarResNet(3)
    model.load_state_dict({k.removeprefix("module."): v for k, v in state.items()}, strict=False)
    return model.eval()


def main():
    model = torch_resnet20(pathlib.Path(os.environ["MINITL_WEIGHTS_DIR"]) / "resnet20-12fca82f.th")
    images = test_images()
    with torch.no_grad():
        logits32 = model(torch.tensor(images, dtype=torch.float32)).numpy()
        logits64 = model.double()(torch.tensor(images)).numpy()
    np.savez(HERE / "models.npz", logits32=logits32, logits64=logits64)
    print(f"wrote {HERE / 'models.npz'} with torch {torch.__version__}")


if __name__ == "__main__":
    main()
