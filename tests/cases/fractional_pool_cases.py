"""Fractional max pooling cases, run the same way by minitl and PyTorch.

Each case is (name, input shape, kernel_size, size arguments). The input,
the random samples (which fix the windows) and the upstream gradient are
made from a seed; inputs are rounded to a few values so that windows often
hold tied maxima (ties must go to the same element as in PyTorch).
"""
import numpy as np

CASES = [
    ("k3_size4x5", (2, 3, 10, 9), 3, {"output_size": (4, 5)}),
    ("k2_ratio07", (2, 3, 17, 15), 2, {"output_ratio": (0.7, 0.7)}),
    ("k2_ratio_rect", (1, 2, 32, 32), 2, {"output_ratio": (0.71, 0.5)}),
    ("unbatched_rect_kernel", (3, 11, 13), (2, 3), {"output_size": (6, 9)}),
    ("mnist_like_28_to_20", (4, 2, 28, 28), 2, {"output_size": 20}),
    ("one_output_row", (2, 2, 6, 7), 2, {"output_size": (1, 3)}),
]
CASE_IDS = [case[0] for case in CASES]


def make_arrays(shape, seed, dtype):
    """(input with ties, samples (N, C, 2) in [0, 1), and a function making the upstream for an output shape)."""
    rng = np.random.default_rng(seed)
    x = np.round(rng.normal(size=shape) * 2) / 2  # values on a grid of 0.5: ties are common
    batch = 1 if len(shape) == 3 else shape[0]
    samples = rng.uniform(size=(batch, shape[-3], 2))
    upstream_rng = np.random.default_rng(seed + 1)
    return x.astype(dtype), samples.astype(dtype), lambda out_shape: upstream_rng.normal(size=out_shape).astype(dtype)
