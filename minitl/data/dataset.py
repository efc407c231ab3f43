"""Datasets: anything with ``__len__`` and ``__getitem__`` returning one sample.

A sample is a tuple of arrays and numbers, usually ``(image, label)``. A
dataset that can gather many samples at once in one NumPy indexing operation
also defines ``__getitems__(indices)``, returning one stacked array per field;
``get_batch`` uses it when present (the DataLoader's fast path) and otherwise
stacks the samples one by one.
"""
import numpy as np

from minitl import random
from minitl.autograd import Tensor
from minitl.backend import to_numpy


class Dataset:
    """Base class: subclasses give ``__len__`` and ``__getitem__(index) -> sample``."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__")


class TensorDataset(Dataset):
    """Samples are the rows of equally long arrays: ``dataset[i] == (a[i], b[i], ...)``."""

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("TensorDataset needs at least one array")
        self.arrays = tuple(to_numpy(a.data if isinstance(a, Tensor) else a) for a in arrays)
        lengths = [len(a) for a in self.arrays]
        if len(set(lengths)) != 1:
            raise ValueError(f"TensorDataset arrays must have the same first dimension, got lengths {lengths}")

    def __getitem__(self, index):
        return tuple(a[index] for a in self.arrays)

    def __getitems__(self, indices):
        return tuple(a[indices] for a in self.arrays)

    def __len__(self):
        return len(self.arrays[0])


class Subset(Dataset):
    """The samples of `dataset` at `indices`, in that order."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64)

    def __getitem__(self, index):
        return self.dataset[int(self.indices[index])]

    def __getitems__(self, indices):
        return get_batch(self.dataset, self.indices[indices])

    def __len__(self):
        return len(self.indices)


def get_batch(dataset, indices):
    """The samples at `indices` as one stacked NumPy array per field."""
    if hasattr(dataset, "__getitems__"):
        return tuple(dataset.__getitems__(indices))
    samples = [dataset[int(i)] for i in indices]
    return tuple(np.stack(field) for field in zip(*samples))


def class_indices(targets, classes=None, per_class=None, rng=None):
    """Indices of the samples whose label is in `classes` (all labels when None).

    With `per_class=k`, only k of each class, drawn without replacement by `rng`
    (a ``numpy.random.Generator``; minitl's shared one by default), grouped by
    class in the order of `classes`: the k-shot training sets of transfer
    learning. Without it, every matching index in increasing order, e.g. the
    digits 0-4 of MNIST with ``class_indices(mnist.targets, range(5))``.
    """
    targets = np.asarray(targets)
    classes = np.unique(targets) if classes is None else np.asarray(list(classes))
    if per_class is None:
        return np.flatnonzero(np.isin(targets, classes))
    rng = rng or random.generator()
    chosen = []
    for label in classes:
        members = np.flatnonzero(targets == label)
        if len(members) < per_class:
            raise ValueError(f"class {label} has {len(members)} samples, fewer than per_class={per_class}")
        chosen.append(rng.choice(members, size=per_class, replace=False))
    return np.concatenate(chosen)
