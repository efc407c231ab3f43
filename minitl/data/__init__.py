"""Data for training: datasets, the DataLoader that batches them, and image transforms.

``Dataset``/``TensorDataset``/``Subset``/``ConcatDataset`` and ``random_split`` are in
``dataset.py``, ``DataLoader`` in ``loader.py`` and its ``default_collate`` in ``collate.py``
(``minitl.utils.data`` gives them at PyTorch's path), the per-sample ``transforms`` in ``transforms.py``, and MNIST,
CIFAR-10 and ImageFolder (with their file formats) in ``datasets.py``.
"""
from minitl.data import transforms
from minitl.data.collate import default_collate
from minitl.data.dataset import ConcatDataset, Dataset, Subset, TensorDataset, class_indices, get_batch, random_split
from minitl.data.datasets import CIFAR10, MNIST, ImageFolder
from minitl.data.loader import DataLoader
