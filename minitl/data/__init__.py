"""Data for training: datasets, the DataLoader that batches them, and image transforms.

``Dataset``/``TensorDataset``/``Subset`` are in ``dataset.py``, ``DataLoader`` in
``loader.py``, the per-sample ``transforms`` in ``transforms.py``, and MNIST,
CIFAR-10 and ImageFolder (with their file formats) in ``datasets.py``.
"""
from minitl.data import transforms
from minitl.data.dataset import Dataset, Subset, TensorDataset, class_indices, get_batch
from minitl.data.datasets import CIFAR10, MNIST, ImageFolder
from minitl.data.loader import DataLoader
