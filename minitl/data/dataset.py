"""Datasets: anything with ``__len__`` and ``__getitem__`` returning one sample.

A sample is a tuple of tensors, arrays and numbers, usually ``(image, label)``. A
dataset that can gather many samples at once in one NumPy indexing operation
also defines ``__getitems__(indices)``, returning one stacked array per field;
``get_batch`` uses it when present (the DataLoader's fast path) and otherwise
stacks the samples one by one.
"""
import bisect
import math
import warnings

import numpy as np

from minitl import random
from minitl.autograd import Tensor
from minitl.backend import to_numpy
from minitl.creation import tensor


class Dataset:
    """Base class: subclasses give ``__len__`` and ``__getitem__(index) -> sample``."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __add__(self, other):
        """``a + b`` is ``ConcatDataset([a, b])``, as in PyTorch."""
        return ConcatDataset([self, other])


class TensorDataset(Dataset):
    """Samples are the rows of equally long arrays: ``dataset[i] == (a[i], b[i], ...)``.

    Each row is a tensor of its array's dtype, as in PyTorch: the label of ``TensorDataset(x, y)[i]``
    is a 0-d tensor. ``__getitems__`` (the DataLoader's fast path) gives the stacked arrays.
    """

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("TensorDataset needs at least one array")
        self.arrays = tuple(to_numpy(a.data if isinstance(a, Tensor) else a) for a in arrays)
        lengths = [len(a) for a in self.arrays]
        if len(set(lengths)) != 1:
            raise ValueError(f"TensorDataset arrays must have the same first dimension, got lengths {lengths}")

    def __getitem__(self, index):
        return tuple(tensor(a[index], dtype=a.dtype) for a in self.arrays)

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


class ConcatDataset(Dataset):
    """The samples of `datasets` one after the other: ``len`` is the sum of their lengths.

    ``cumulative_sizes[k]`` is the number of samples in datasets 0..k, so sample i is in the first
    dataset k with ``i < cumulative_sizes[k]`` (a binary search), at ``i - cumulative_sizes[k - 1]``.
    """

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset needs at least one dataset, got an empty iterable")
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __getitem__(self, index):
        if index < 0:
            if -index > len(self):
                raise ValueError(f"index {index} is out of range for a ConcatDataset of length {len(self)}")
            index += len(self)
        k = bisect.bisect_right(self.cumulative_sizes, index)
        if k == len(self.datasets):
            raise IndexError(f"index {index} is out of range for a ConcatDataset of length {len(self)}")
        return self.datasets[k][index - (self.cumulative_sizes[k - 1] if k else 0)]

    def __len__(self):
        return self.cumulative_sizes[-1]


def random_split(dataset, lengths, generator=None):
    """`dataset` cut at random into non-overlapping Subsets of the given `lengths`.

    lengths: sample counts summing to ``len(dataset)``, or fractions summing to 1 (PyTorch 2.x):
        fraction f gets ``floor(f * n)`` samples and the ``n - sum`` left over go one each to the
        first splits in turn, so ``[0.5, 0.5]`` of 11 samples gives 6 and 5.
    generator: draws the permutation. None uses minitl's shared generator (``tl.manual_seed``); a
        ``numpy.random.Generator`` is drawn from (and advanced); an object with ``initial_seed()``
        (a ``torch.Generator``, say) seeds a new NumPy generator, so one seed gives one split. The
        split of a seed is not the split torch makes with it: the generators differ.
    """
    n = len(dataset)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        if any(not 0 <= f <= 1 for f in lengths):
            raise ValueError(f"fractions must be between 0 and 1, got {list(lengths)}")
        counts = [math.floor(n * f) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        for i, count in enumerate(counts):
            if count == 0:
                warnings.warn(f"Length of split at index {i} is 0. This might result in an empty dataset.",
                              stacklevel=2)
        lengths = counts
    if sum(lengths) != n:
        raise ValueError(f"the lengths {list(lengths)} sum to {sum(lengths)}, not to len(dataset) = {n}")
    order = numpy_generator(generator).permutation(n)
    ends = np.cumsum(lengths)
    return [Subset(dataset, order[end - length:end]) for end, length in zip(ends, lengths)]


def numpy_generator(generator):
    """The ``numpy.random.Generator`` that `generator` stands for (see ``random_split``)."""
    if generator is None:
        return random.generator()
    if isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, random.Generator):  # tl.Generator: its own stream, which the draws move on
        return generator.rng
    if hasattr(generator, "initial_seed"):  # e.g. a torch.Generator: its seed starts a NumPy generator
        return np.random.default_rng(generator.initial_seed())
    raise TypeError(f"generator must be None, a numpy.random.Generator or have initial_seed(), "
                    f"got {type(generator).__name__}")


def gathers(dataset):
    """Whether `dataset` gathers a batch in one indexing operation: it, or what a chain of Subsets
    picks from, defines ``__getitems__`` (a Subset of any other dataset reads sample by sample)."""
    while isinstance(dataset, Subset):
        dataset = dataset.dataset
    return hasattr(dataset, "__getitems__")


def get_batch(dataset, indices):
    """The samples at `indices` as one stacked NumPy array per field."""
    if hasattr(dataset, "__getitems__"):
        return tuple(dataset.__getitems__(indices))
    samples = [dataset[int(i)] for i in indices]
    return tuple(np.stack([to_numpy(x.data if isinstance(x, Tensor) else x) for x in field]) for field in zip(*samples))


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
