"""ResNets for CIFAR-10 (He et al. 2016, section 4.2), as in akamaster/pytorch_resnet_cifar10.

    conv3x3(3 -> 16) - BN - ReLU
    stage 1: n blocks, 16 channels, 32x32
    stage 2: n blocks, 32 channels, 16x16 (first block has stride 2)
    stage 3: n blocks, 64 channels,  8x8  (first block has stride 2)
    global average pool - linear(64 -> classes)

with 6n + 2 layers: n = 3, 5, 7, 9 give ResNet-20, 32, 44, 56. Each basic
block computes relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)). Where a
block halves the size and doubles the channels, the shortcut is the paper's
"option A": take every other pixel and pad the new channels with zeros, so it
has no parameters. Attribute names equal akamaster's, so its checkpoints
load key for key.
"""
import minitl as tl
from minitl import nn
from minitl.nn import functional as F


class DownsampleShortcut(nn.Module):
    """Option-A shortcut: x[:, :, ::2, ::2] with `extra` zero channels on each side."""

    def __init__(self, extra_channels):
        super().__init__()
        self.extra_channels = extra_channels

    def forward(self, x):
        return tl.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.extra_channels, self.extra_channels))

    def extra_repr(self):
        return f"extra_channels={self.extra_channels}"


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm, plus the input (the residual connection)."""

    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        if stride != 1 or in_planes != planes:
            self.shortcut = DownsampleShortcut(planes // 4)
        else:
            self.shortcut = nn.Identity()

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    def __init__(self, blocks_per_stage, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = self._stage(16, 16, blocks_per_stage, stride=1)
        self.layer2 = self._stage(16, 32, blocks_per_stage, stride=2)
        self.layer3 = self._stage(32, 64, blocks_per_stage, stride=2)
        self.linear = nn.Linear(64, num_classes)
        for module in self.modules():  # akamaster's initialisation: He-normal weights
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(module.weight)

    @staticmethod
    def _stage(in_planes, planes, blocks, stride):
        layers = [BasicBlock(in_planes, planes, stride)]
        layers += [BasicBlock(planes, planes) for _ in range(blocks - 1)]
        return nn.Sequential(*layers)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = F.adaptive_avg_pool2d(out, 1).flatten(1)
        return self.linear(out)
