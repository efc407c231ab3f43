"""Record PyTorch's results for the cases of tests/cases/gradient_mutation_cases.py.

Run from the repository root with torch installed (pip install -e ".[oracle]", the pinned torch):

    python tests/golden/make_gradient_mutations_golden.py

It writes tests/golden/gradient_mutations.npz: for each case, torch's results on the case's float64 inputs.
"""
import pathlib
import sys
import types

import numpy as np
import torch
import torch.autograd.functional
import torch.nn.functional as F

TESTS = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))
from cases.gradient_mutation_cases import CASES, TARGETS_4D, WEIGHTS_3X3  # noqa: E402

TORCH_LIB = types.SimpleNamespace(grad=torch.autograd.grad, functional=torch.autograd.functional, F=F,
                                  targets_4d=torch.tensor(TARGETS_4D), weights_3x3=torch.tensor(WEIGHTS_3X3))


def torch_results(fn, arrays):
    inputs = [torch.tensor(a, requires_grad=True) for a in arrays]
    return [r.detach().numpy() for r in fn(TORCH_LIB, *inputs)]


def main():
    record = {f"{name}/result{i}": result for name, (fn, arrays) in CASES.items()
              for i, result in enumerate(torch_results(fn, arrays))}
    path = TESTS / "golden" / "gradient_mutations.npz"
    np.savez(path, **record)
    print(f"wrote {path} ({len(CASES)} cases, torch {torch.__version__})")


if __name__ == "__main__":
    main()
