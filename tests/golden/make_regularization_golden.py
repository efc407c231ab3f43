"""Record PyTorch's fractional max pooling for the cases of tests/cases/fractional_pool_cases.py.

Run from the repository root with torch installed (pip install -e ".[oracle]", the pinned torch):

    python tests/golden/make_regularization_golden.py

Writes tests/golden/regularization.npz: per case and dtype (float64, float32)
the input, the random samples, the upstream gradient, and torch's output,
indices and input gradient.
"""
import pathlib
import sys

import numpy as np
import torch

TESTS = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))
from cases.fractional_pool_cases import CASES, make_arrays  # noqa: E402


def torch_reference(shape, kernel, size, seed, dtype):
    """Everything a test compares, for one case: inputs made from `seed`, torch's results."""
    x, samples, make_upstream = make_arrays(shape, seed, dtype)
    xt = torch.tensor(x, requires_grad=True)
    y, indices = torch.nn.functional.fractional_max_pool2d(xt, kernel, return_indices=True,
                                                           _random_samples=torch.tensor(samples), **size)
    upstream = make_upstream(tuple(y.shape))
    y.backward(torch.tensor(upstream))
    return {"input": x, "samples": samples, "upstream": upstream, "output": y.detach().numpy(),
            "indices": indices.numpy(), "grad": xt.grad.numpy()}


def main():
    record = {}
    for name, shape, kernel, size in CASES:
        for dtype in (np.float64, np.float32):
            for key, value in torch_reference(shape, kernel, size, 0, dtype).items():
                record[f"{name}/{np.dtype(dtype).name}/{key}"] = value
    path = TESTS / "golden" / "regularization.npz"
    np.savez_compressed(path, **record)
    print(f"wrote {path} ({len(CASES)} fractional max pooling cases, torch {torch.__version__})")


if __name__ == "__main__":
    main()
