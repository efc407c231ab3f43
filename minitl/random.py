"""The random number generator behind rand, randn, initialisation and dropout.

One NumPy ``Generator`` for the whole library, reseeded by ``manual_seed``.
Values are always drawn on the CPU and then moved, so a seeded run gives the
same numbers on NumPy and on CuPy (what the GPU tests compare).

Draws are made in float64 (the stream the seed defines, whatever the dtype
asked for) in blocks of ``BLOCK`` values written straight into the
destination: a float32 parameter of 100M values then needs no 800 MB
float64 temporary and no second pass to cast it (VGG-16's initialisation
went from 8.5 s to about 2 s this way), and the values are exactly those of
one big draw.
"""
import os

import numpy as np

from minitl import backend


class Generator:
    """A random number generator of its own (``torch.Generator``): pass it as ``generator=`` to draws
    (``tl.randn(3, generator=g)``, ``randperm``, ``x.normal_``) so they do not use or move the shared stream.

    ``manual_seed(seed)`` reseeds it and returns it, so ``g = tl.Generator().manual_seed(0)`` works.
    """

    def __init__(self, device="cpu"):
        self.device = backend.normalize_device(device)
        self._seed = int.from_bytes(os.urandom(8), "little") >> 1  # a fresh seed, as torch's default
        self.rng = np.random.default_rng(self._seed)

    def manual_seed(self, seed):
        self._seed = int(seed)
        self.rng = np.random.default_rng(self._seed)
        return self

    def initial_seed(self):
        return self._seed


_generator = np.random.default_rng()

BLOCK = 2 ** 16  # values per draw: 512 KB of float64, which stays in the cache while it is cast


def manual_seed(seed):
    """Make every later random draw in minitl repeatable."""
    global _generator
    _generator = np.random.default_rng(seed)


def generator():
    """The shared ``numpy.random.Generator`` (for shuffling, augmentation...)."""
    return _generator


def rng_of(chosen):
    """The ``numpy.random.Generator`` of the ``Generator`` a user passed as ``generator=``, else the shared one."""
    return _generator if chosen is None else chosen.rng


def _fill(out, draw, scale, shift):
    """out[...] = scale * draw(block) + shift, block by block, in float64 before the cast into `out`."""
    flat = out.reshape(-1)  # a view: parameters and fresh arrays are contiguous
    block = np.empty(min(BLOCK, flat.size))
    for start in range(0, flat.size, BLOCK):
        values = block[:min(BLOCK, flat.size - start)]
        draw(out=values)
        values *= scale
        values += shift
        flat[start:start + values.size] = backend.to_device(values, backend.device_of(out))
    return out


def uniform_(out, low=0.0, high=1.0, generator=None):
    """Fill the contiguous array `out` in place with samples from U[low, high); returns it."""
    return _fill(out, rng_of(generator).random, high - low, low)


def normal_(out, mean=0.0, std=1.0, generator=None):
    """Fill the contiguous array `out` in place with samples from N(mean, std**2); returns it."""
    return _fill(out, rng_of(generator).standard_normal, std, mean)


def uniform(shape, low=0.0, high=1.0, dtype=np.float32, device="cpu", generator=None):
    """Samples from U[low, high) as an array of `dtype` on `device`."""
    return uniform_(backend.module_for(device).empty(shape, dtype=dtype), low, high, generator)


def normal(shape, mean=0.0, std=1.0, dtype=np.float32, device="cpu", generator=None):
    """Samples from N(mean, std**2) as an array of `dtype` on `device`."""
    return normal_(backend.module_for(device).empty(shape, dtype=dtype), mean, std, generator)
