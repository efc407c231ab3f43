"""DataLoader: a dataset's samples in (optionally shuffled) batches of minitl tensors.

Each batch is one tensor per sample field, e.g. ``(images, labels)``: floating
fields become float32 tensors, and fields of integer scalars (labels) int64.
A dataset defining ``__getitems__`` (TensorDataset, and Subsets of it) is
gathered with one indexing operation per batch; any other dataset is read
sample by sample and stacked (see ``minitl.data.dataset.get_batch``).
"""
import math

import numpy as np

from minitl import backend, random
from minitl.creation import tensor
from minitl.data.dataset import get_batch


class DataLoader:
    """Batches of `dataset`.

    shuffle: a new order every epoch (every ``iter``), drawn from
        ``np.random.default_rng(seed)`` when a seed is given, so that a new
        loader with the same seed repeats the same sequence of epochs; and
        from minitl's shared generator (``tl.manual_seed``) otherwise.
    drop_last: leave out the last batch when it is smaller than batch_size.
    device: where the batch tensors are made ('cpu' or 'cuda'); samples are
        read and gathered on the host, then each batch is copied over once.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=None, device="cpu"):
        if batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
        self.dataset, self.batch_size, self.shuffle, self.drop_last = dataset, batch_size, shuffle, drop_last
        self.device = backend.normalize_device(device)
        backend.module_for(self.device)  # a 'cuda' loader without CuPy or a GPU fails now, not at its first batch
        self.generator = np.random.default_rng(seed) if seed is not None else None  # its own, when seeded

    def __len__(self):
        count = len(self.dataset) / self.batch_size
        return math.floor(count) if self.drop_last else math.ceil(count)

    def __iter__(self):
        size = len(self.dataset)
        if self.shuffle:
            order = (self.generator or random.generator()).permutation(size)
        else:
            order = np.arange(size)
        for batch in range(len(self)):
            indices = order[batch * self.batch_size:(batch + 1) * self.batch_size]
            yield tuple(_as_tensor(field, self.device) for field in get_batch(self.dataset, indices))


def _as_tensor(field, device):
    """A batch field as a tensor on `device`: floats as float32, integer labels as int64 (minitl's choice:
    docs/differences.md)."""
    field = np.asarray(field)
    if field.ndim == 1 and field.dtype.kind in "iu":
        return tensor(field, dtype=np.int64, device=device)
    return tensor(field, dtype=np.float32 if field.dtype.kind == "f" else None, device=device)
