"""LeNet-5 (LeCun et al. 1998) in its modern form: ReLU and max pooling.

    conv5x5(c -> 6, pad 2) - ReLU - maxpool 2     28x28 -> 14x14
    conv5x5(6 -> 16)       - ReLU - maxpool 2     14x14 -> 5x5
    linear(400 -> 120) - ReLU - linear(120 -> 84) - ReLU - linear(84 -> classes)
"""
from minitl import nn


class LeNet5(nn.Module):
    def __init__(self, num_classes=10, in_channels=1):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, kernel_size=5), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
            nn.Linear(84, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))
