"""DataLoader: a dataset's samples in (optionally shuffled) batches of minitl tensors, as torch's.

Each batch is made by ``collate_fn`` from the list of its samples; the default, ``default_collate``
(``collate.py``), stacks them as PyTorch's does: samples ``(image, label)`` give ``[images, labels]``,
NumPy arrays keep their dtype and Python ints become int64. A dataset defining ``__getitems__``
(TensorDataset, ImageFolder, and Subsets of them) is gathered with one indexing operation per batch instead, which
gives the same batch (see ``minitl.data.dataset.get_batch``). Anything indexable works as a dataset:
over a NumPy array, the batches are its rows.
"""
import math

import numpy as np

from minitl import backend
from minitl.creation import tensor
from minitl.data.collate import collate
from minitl.data.dataset import gathers, get_batch, numpy_generator


class DataLoader:
    """Batches of `dataset`.

    shuffle: a new order every epoch (every ``iter``), drawn from ``np.random.default_rng(seed)``
        when a seed is given, so that a new loader with the same seed repeats the same sequence of
        epochs; from `generator` when one is given (as in ``random_split``: a ``torch.Generator``'s
        seed, or a ``numpy.random.Generator``); and from minitl's shared generator
        (``tl.manual_seed``) otherwise.
    num_workers: accepted for PyTorch's code; the samples are always read in this process, so any
        number gives the batches of 0 (there are no worker processes to start or to seed).
    collate_fn: makes a batch from the list of its samples (default: ``default_collate``).
    drop_last: leave out the last batch when it is smaller than batch_size.
    device: where the default collate makes the batch tensors ('cpu' or 'cuda'); samples are read
        and gathered on the host, then each batch is copied over once. A ``collate_fn`` of one's
        own gets the samples as they are and its batch is returned as it makes it.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, *, num_workers=0, collate_fn=None, drop_last=False,
                 generator=None, seed=None, device="cpu"):
        if batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable multiprocessing.")
        if seed is not None and generator is not None:
            raise ValueError("give the DataLoader a seed or a generator, not both")
        self.dataset, self.batch_size, self.shuffle, self.drop_last = dataset, batch_size, shuffle, drop_last
        self.num_workers, self.collate_fn = num_workers, collate_fn
        self.device = backend.normalize_device(device)
        backend.module_for(self.device)  # a 'cuda' loader without CuPy or a GPU fails now, not at its first batch
        if seed is not None:
            generator = np.random.default_rng(seed)
        # The NumPy generator the epochs' orders come from (a checkpoint of fit() saves its state); None: the shared
        # one, at each epoch.
        self.generator = None if generator is None else numpy_generator(generator)

    def __len__(self):
        count = len(self.dataset) / self.batch_size
        return math.floor(count) if self.drop_last else math.ceil(count)

    def __iter__(self):
        size = len(self.dataset)
        order = (self.generator or numpy_generator(None)).permutation(size) if self.shuffle else np.arange(size)
        for batch in range(len(self)):
            indices = order[batch * self.batch_size:(batch + 1) * self.batch_size]
            if self.collate_fn is None and gathers(self.dataset):  # one indexing operation per field
                yield [tensor(field, dtype=field.dtype, device=self.device)
                       for field in map(np.asarray, get_batch(self.dataset, indices))]
            else:
                samples = [self.dataset[int(i)] for i in indices]
                yield collate(samples, self.device) if self.collate_fn is None else self.collate_fn(samples)
