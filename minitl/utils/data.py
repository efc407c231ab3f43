"""``torch.utils.data``'s names at its path, so ``from minitl.utils.data import DataLoader`` works.

Nothing is defined here: each name is minitl.data's (datasets in ``minitl/data/dataset.py``, the
loader in ``minitl/data/loader.py``, the collate function in ``minitl/data/collate.py``).
"""
from minitl.data.collate import default_collate
from minitl.data.dataset import ConcatDataset, Dataset, Subset, TensorDataset, random_split
from minitl.data.loader import DataLoader

__all__ = ["ConcatDataset", "DataLoader", "Dataset", "Subset", "TensorDataset", "default_collate", "random_split"]
