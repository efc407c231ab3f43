"""The CNN-S weights tests/test_io_parity.py and its golden script share: drawn from a seed, so the golden
file holds only an input and torch's logits, not 2 MB of weights."""
import numpy as np


def seeded_state(shapes, seed=0):
    """{name: float32 array} of the given shapes, normal with std 0.05 (a network's scale of weights)."""
    rng = np.random.default_rng(seed)
    return {name: (rng.normal(size=shape) * 0.05).astype(np.float32) for name, shape in shapes.items()}
