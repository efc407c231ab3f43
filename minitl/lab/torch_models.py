"""The benchmark's networks, written once for both engines.

minitl.nn mirrors torch.nn's names, so CNN-S is one function taking either
module; ResNet-20 gets a PyTorch copy of minitl's definition (akamaster's
option-A shortcuts), for timing only: no weights are shared.
"""


def cnn_s(nn):
    """CNN-S from `nn` (minitl.nn or torch.nn): two conv3x3 + ReLU + maxpool stages, two linear layers."""
    return nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(4096, 128), nn.ReLU(), nn.Linear(128, 10))


def torch_resnet20(reference):
    """A PyTorch ResNet-20 with the block layout of `reference` (a minitl CIFAR ResNet)."""
    import torch.nn as tnn
    import torch.nn.functional as F

    class Block(tnn.Module):
        def __init__(self, block):
            super().__init__()
            conv1, conv2 = block.conv1, block.conv2
            self.conv1 = tnn.Conv2d(conv1.in_channels, conv1.out_channels, 3, conv1.stride, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(conv1.out_channels)
            self.conv2 = tnn.Conv2d(conv2.in_channels, conv2.out_channels, 3, 1, 1, bias=False)
            self.bn2 = tnn.BatchNorm2d(conv2.out_channels)
            self.extra = getattr(block.shortcut, "extra_channels", None)

        def forward(self, x):
            out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
            shortcut = x if self.extra is None else F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.extra, self.extra))
            return F.relu(out + shortcut)

    class Net(tnn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = tnn.Conv2d(3, 16, 3, 1, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(16)
            self.blocks = tnn.Sequential(*[Block(b) for layer in (reference.layer1, reference.layer2,
                                                                  reference.layer3) for b in layer])
            self.linear = tnn.Linear(64, 10)

        def forward(self, x):
            out = self.blocks(F.relu(self.bn1(self.conv1(x))))
            return self.linear(F.adaptive_avg_pool2d(out, 1).flatten(1))

    return Net()
