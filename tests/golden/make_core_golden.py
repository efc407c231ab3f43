"""Record PyTorch's values for the composite expressions of tests/cases/core_expressions.py.

Run from the repository root with torch installed (pip install -e ".[oracle]", the pinned torch):

    python tests/golden/make_core_golden.py

It writes tests/golden/core_expressions.npz: for each expression its float64
inputs, the upstream gradient, torch's output and torch's input gradients.
"""
import pathlib
import sys
import types

import numpy as np
import torch
import torch.nn.functional as F

TESTS = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))
from cases.core_expressions import EXPRESSIONS, make_inputs  # noqa: E402

TORCH_LIB = types.SimpleNamespace(cat=torch.cat, stack=torch.stack, where=torch.where, pad=F.pad)


def torch_reference(fn, arrays, seed):
    """torch's output and input gradients for L = sum(fn(inputs) * upstream)."""
    inputs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    output = fn(TORCH_LIB, *inputs)
    upstream = np.random.default_rng(seed + 1000).normal(size=tuple(output.shape))
    output.backward(torch.tensor(upstream))
    grads = [x.grad.numpy() if x.grad is not None else np.zeros_like(a) for x, a in zip(inputs, arrays)]
    return output.detach().numpy(), upstream, grads


def main():
    record = {}
    for seed, (name, (fn, shapes)) in enumerate(EXPRESSIONS.items()):
        arrays = make_inputs(shapes, seed)
        output, upstream, grads = torch_reference(fn, arrays, seed)
        record[f"{name}/output"] = output
        record[f"{name}/upstream"] = upstream
        for i, (array, grad) in enumerate(zip(arrays, grads)):
            record[f"{name}/input{i}"] = array
            record[f"{name}/grad{i}"] = grad
    path = TESTS / "golden" / "core_expressions.npz"
    np.savez(path, **record)
    print(f"wrote {path} ({len(EXPRESSIONS)} expressions, torch {torch.__version__})")


if __name__ == "__main__":
    main()
