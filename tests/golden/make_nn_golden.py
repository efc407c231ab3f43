"""Record PyTorch's outputs and gradients for the cases of tests/cases/nn_cases.py.

Run from the repository root with torch installed (pip install -e ".[oracle]", the pinned torch):

    python tests/golden/make_nn_golden.py

Writes tests/golden/nn_functional.npz: per case its float64 inputs, the
upstream gradient, torch's output, torch's input gradients, and the running
statistics after the call (batch-norm cases).
"""
import pathlib
import sys
import types

import numpy as np
import torch
import torch.nn.functional as F

TESTS = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))
from cases.nn_cases import NN_CASES, make_inputs  # noqa: E402


def torch_lib():
    created = []

    def stats(array):
        created.append(torch.tensor(array, dtype=torch.float64))
        return created[-1]

    lib = types.SimpleNamespace(F=F, tensor=lambda a: torch.tensor(a), stats=stats)
    return lib, created


def torch_reference(fn, arrays, seed):
    lib, stats = torch_lib()
    inputs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    output = fn(lib, *inputs)
    upstream = np.random.default_rng(seed + 1000).normal(size=tuple(output.shape))
    output.backward(torch.tensor(upstream))
    grads = [x.grad.numpy() for x in inputs]
    return output.detach().numpy(), upstream, grads, [s.numpy() for s in stats]


def main():
    record = {}
    for seed, (name, fn, shapes) in enumerate(NN_CASES):
        arrays = make_inputs(shapes, seed)
        output, upstream, grads, stats = torch_reference(fn, arrays, seed)
        record[f"{name}/output"], record[f"{name}/upstream"] = output, upstream
        for i, (array, grad) in enumerate(zip(arrays, grads)):
            record[f"{name}/input{i}"], record[f"{name}/grad{i}"] = array, grad
        for i, array in enumerate(stats):
            record[f"{name}/stats{i}"] = array
    path = TESTS / "golden" / "nn_functional.npz"
    np.savez_compressed(path, **record)
    print(f"wrote {path} ({len(NN_CASES)} cases, torch {torch.__version__})")


if __name__ == "__main__":
    main()
