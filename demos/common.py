"""What the demos share: MNIST's test set as arrays and splits, loaders, small MLPs, tables and figures.

A demo runs as a script (``python demos/NAME.py``), and Python puts the script's folder first on
sys.path, so ``from common import ...`` finds this file. The demos import nothing from each other.
"""
import itertools
import json
import time

import numpy as np

from minitl import nn
from minitl.data import MNIST, DataLoader, TensorDataset, transforms

# ImageNet's channel statistics: torchvision's ImageNet weights expect them, and akamaster's trainer.py
# normalises CIFAR-10 with these (not CIFAR-10's own), so they are what the pretrained ResNet-20 expects too.
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


# -- data ----------------------------------------------------------------------------------------------
def split_indices(count, sizes, seed=0):
    """Disjoint index arrays of the given sizes, in one fixed random order of range(count)."""
    if sum(sizes) > count:
        raise ValueError(f"splits of {sizes} need {sum(sizes)} images, there are {count}")
    order = np.random.default_rng(seed).permutation(count)
    ends = np.cumsum(sizes)
    return [order[end - size:end] for size, end in zip(sizes, ends)]


def mnist_test(sizes=None, *, shape=(1, 28, 28), dtype=np.float32, scale=255):
    """MNIST's 10,000 test images (the set on disk) as `dtype` arrays of `shape` each, pixels / `scale`
    (in [0, 1] by default; scale=1 keeps 0..255), and their int64 labels.

    Without `sizes`: (images, labels) in the file's order. With the sizes of a train, a validation and a
    test split: {"train": (images, labels), "val": ..., "test": ...}, disjoint, cut from one fixed random
    order (split_indices).
    """
    mnist = MNIST(train=False)
    images = np.asarray(mnist.data, dtype=dtype).reshape(-1, *shape) / scale
    labels = np.asarray(mnist.targets, dtype=np.int64)
    if sizes is None:
        return images, labels
    return {name: (images[chosen], labels[chosen])
            for name, chosen in zip(("train", "val", "test"), split_indices(len(labels), sizes))}


def as_cifar_input(images):
    """28x28 grey digits as the 32x32 RGB, normalised input the ResNet-20 expects."""
    prepare = transforms.Compose([transforms.Resize(32), transforms.GrayscaleToRGB(),
                                  transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    return np.stack([prepare(image) for image in images])


def k_shot(labels, pool, classes, k, rng):
    """Indices of k random images of each class, drawn from `pool`."""
    chosen = [rng.choice(pool[labels[pool] == c], size=k, replace=False) for c in classes]
    return np.concatenate(chosen)


def loader(images, labels, batch_size, shuffle=False, seed=None):
    return DataLoader(TensorDataset(images, labels), batch_size=batch_size, shuffle=shuffle, seed=seed)


def preprocess(splits, mode):
    """'raw' pixel values, 'centred' (minus the mean training image) or 'standardised' (and divided by the
    std of the training pixels): statistics from the training split only."""
    if mode == "raw":
        return splits
    mean = splits["train"][0].mean(axis=0)
    scale = splits["train"][0].std() if mode == "standardised" else 1.0
    return {name: ((images - mean) / scale, labels) for name, (images, labels) in splits.items()}


# -- models --------------------------------------------------------------------------------------------
def mlp(widths, activation=nn.ReLU, init=None):
    """Linear layers of the given widths with `activation` between them; `init(weight)` replaces PyTorch's
    default initialisation of the weights (the biases then start at zero)."""
    layers = []
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(widths)):
        linear = nn.Linear(fan_in, fan_out)
        if init is not None:
            init(linear.weight)
            nn.init.zeros_(linear.bias)
        layers += [linear, activation()] if i < len(widths) - 2 else [linear]
    return nn.Sequential(*layers)


# -- tables, figures, results.json -----------------------------------------------------------------------
def sample_std(values):
    """The sample standard deviation over seeds (ddof=1: the sum of squares divided by n - 1), nan for one value.

    NumPy's default (ddof=0, divided by n) understates it by the factor sqrt((n - 1) / n): 18% with 3 seeds.
    """
    values = np.asarray(values, dtype=np.float64)
    return float(values.std(ddof=1)) if values.size > 1 else float("nan")


def mean_std(values, scale=1.0, digits=1):
    """'mean +- sample std' of `values` times `scale`."""
    values = scale * np.asarray(values, dtype=np.float64)
    return f"{values.mean():.{digits}f} +- {sample_std(values):.{digits}f}"


def figure(rows, columns, size):
    """A matplotlib Figure (no pyplot: no global state) and its grid of axes."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=size)
    return fig, fig.subplots(rows, columns, squeeze=False)


def chance_line(axis, num_classes):
    """A dotted line at the accuracy of guessing among `num_classes` classes, in percent, labelled for the legend."""
    return axis.axhline(100 / num_classes, color="grey", linestyle=":", label=f"chance ({100 / num_classes:.0f} %)")


def save(fig, path):
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    return path.name


def run_studies(studies, clock=time.time, unit="s"):
    """Run each (name, study): print its table and the `clock` seconds it took; (results by name, PNG names)."""
    results, pictures = {}, []
    for name, study in studies:
        section_start = clock()
        table, results[name], names = study()
        pictures += names
        print(f"{table}\n({clock() - section_start:.0f} {unit})\n", flush=True)
    return results, pictures


def save_results(out, results, pictures, *, quick, seeds, started):
    """Write results.json (with the run's wall and CPU seconds) to `out`; return those two times."""
    seconds, cpu_seconds = time.time() - started, time.process_time()
    (out / "results.json").write_text(json.dumps({"quick": quick, "seeds": seeds, "seconds": round(seconds),
                                                  "cpu_seconds": round(cpu_seconds),
                                                  "pictures": pictures, **results}, indent=1))
    return seconds, cpu_seconds
