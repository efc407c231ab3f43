"""Record PyTorch's conv_transpose2d for the cases of tests/test_conv_transpose.py.

Run from the repository root with torch installed (pip install -e ".[oracle]", the pinned torch):

    python tests/golden/make_conv_transpose_golden.py

It writes tests/golden/conv_transpose.npz: for each case its float64 input, weight, bias (or none),
upstream gradient, torch's output and the gradients of input, weight and bias.
"""
import pathlib
import sys

import numpy as np
import torch
import torch.nn.functional as F

TESTS = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))
from cases.conv_transpose_cases import CASES, make_arrays  # noqa: E402


def torch_reference(options, arrays):
    """torch's output and its gradients for L = sum(output * upstream)."""
    x, weight, bias, upstream = arrays
    inputs = [torch.tensor(a, requires_grad=True) if a is not None else None for a in (x, weight, bias)]
    y = F.conv_transpose2d(inputs[0], inputs[1], inputs[2], **options)
    y.backward(torch.tensor(upstream))
    return [y.detach().numpy()] + [t.grad.numpy() for t in inputs if t is not None]


def main():
    record = {}
    for seed, (name, options, shapes) in enumerate(CASES):
        arrays = make_arrays(options, shapes, seed)
        for key, array in zip(("input", "weight", "bias", "upstream"), arrays):
            if array is not None:
                record[f"{name}/{key}"] = array
        for i, result in enumerate(torch_reference(options, arrays)):
            record[f"{name}/result{i}"] = result
    path = TESTS / "golden" / "conv_transpose.npz"
    np.savez(path, **record)
    print(f"wrote {path} ({len(CASES)} cases, torch {torch.__version__})")


if __name__ == "__main__":
    main()
