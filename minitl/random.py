"""The random number generator behind rand, randn, initialisation and dropout.

One NumPy ``Generator`` for the whole library, reseeded by ``manual_seed``.
Values are always drawn on the CPU and then moved, so a seeded run gives the
same numbers on NumPy and on CuPy (what the GPU tests compare).
"""
import numpy as np

from minitl import backend

_generator = np.random.default_rng()


def manual_seed(seed):
    """Make every later random draw in minitl repeatable."""
    global _generator
    _generator = np.random.default_rng(seed)


def generator():
    """The shared ``numpy.random.Generator`` (for shuffling, augmentation...)."""
    return _generator


def uniform(shape, low=0.0, high=1.0, dtype=np.float32, device="cpu"):
    """Samples from U[low, high) as an array of `dtype` on `device`."""
    values = _generator.uniform(low, high, size=shape).astype(dtype, copy=False)
    return backend.to_device(values, device)


def normal(shape, mean=0.0, std=1.0, dtype=np.float32, device="cpu"):
    """Samples from N(mean, std**2) as an array of `dtype` on `device`."""
    values = _generator.normal(mean, std, size=shape).astype(dtype, copy=False)
    return backend.to_device(values, device)
