"""VGG-11 and VGG-16 (Simonyan & Zisserman 2014, configurations A and D), torchvision's layout.

``features``: 3x3 convolutions (padding 1) each followed by ReLU, with 2x2
max pooling at each 'M'; ``avgpool``: adaptive to 7x7; ``classifier``:
linear(25088 -> 4096) - ReLU - dropout - linear(4096 -> 4096) - ReLU -
dropout - linear(4096 -> classes). Indices inside the Sequentials equal
torchvision's, so its checkpoints load key for key.
"""
from minitl import nn

CONFIGS = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
}


def make_features(config):
    layers, channels = [], 3
    for item in config:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(channels, item, kernel_size=3, padding=1), nn.ReLU()]
            channels = item
    return nn.Sequential(*layers)


class VGG(nn.Module):
    def __init__(self, config, num_classes=1000, dropout=0.5):
        super().__init__()
        self.features = make_features(config)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(4096, num_classes),
        )
        for module in self.modules():  # torchvision's initialisation
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, 0, 0.01)
                nn.init.zeros_(module.bias)

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)).flatten(1))
