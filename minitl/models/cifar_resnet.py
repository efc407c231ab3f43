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

Stochastic depth (Huang et al., 2016), ``stochastic_depth_prob=p_L``: while
training, block l of L (counted from 1 through all three stages) skips its
residual branch for each sample with probability p_l = (l / L) p_L: the
paper's linear decay rule, which spares the early blocks (whose features
every later block builds on) and drops the last block with probability p_L
(the paper uses 0.5). A dropped block is relu(shortcut(x)); a kept branch is
scaled by 1 / (1 - p_l), so evaluation (which always keeps every branch, as
is) needs no rescaling. It adds no parameters: the same checkpoints load.
"""
import minitl as tl
from minitl import nn
from minitl.nn import functional as F
from minitl.nn.regularization import linear_decay, stochastic_depth


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

    def __init__(self, in_planes, planes, stride=1, drop_prob=0.0):
        super().__init__()
        self.drop_prob = drop_prob  # the probability of skipping the residual branch while training
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
        out = stochastic_depth(self.bn2(self.conv2(out)), self.drop_prob, "row", self.training)
        return F.relu(out + self.shortcut(x))

    def extra_repr(self):
        return f"drop_prob={self.drop_prob:.3g}" if self.drop_prob else ""


class CifarResNet(nn.Module):
    def __init__(self, blocks_per_stage, num_classes=10, stochastic_depth_prob=0.0):
        super().__init__()
        if not 0.0 <= stochastic_depth_prob <= 1.0:
            raise ValueError(f"stochastic_depth_prob must lie in [0, 1], got {stochastic_depth_prob}")
        drop_probs = linear_decay(stochastic_depth_prob, 3 * blocks_per_stage)
        self.conv1 = nn.Conv2d(3, 16, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = self._stage(16, 16, stride=1, drop_probs=drop_probs[:blocks_per_stage])
        self.layer2 = self._stage(16, 32, stride=2, drop_probs=drop_probs[blocks_per_stage:2 * blocks_per_stage])
        self.layer3 = self._stage(32, 64, stride=2, drop_probs=drop_probs[2 * blocks_per_stage:])
        self.linear = nn.Linear(64, num_classes)
        for module in self.modules():  # akamaster's initialisation: He-normal weights
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(module.weight)

    @staticmethod
    def _stage(in_planes, planes, stride, drop_probs):
        layers = [BasicBlock(in_planes, planes, stride, drop_probs[0])]
        layers += [BasicBlock(planes, planes, drop_prob=p) for p in drop_probs[1:]]
        return nn.Sequential(*layers)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = F.adaptive_avg_pool2d(out, 1).flatten(1)
        return self.linear(out)
