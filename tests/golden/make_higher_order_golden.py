"""Record PyTorch's second-order results for the cases of tests/cases/higher_order_cases.py.

Run from the repository root with torch installed (pip install -e ".[oracle]", the pinned torch):

    python tests/golden/make_higher_order_golden.py

It writes tests/golden/higher_order.npz: for each case its float64 inputs
and torch's results (gradients of gradients, Hessian-vector products,
torch.autograd.functional's jacobian, vjp, jvp, hvp, vhp, hessian).
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
from cases.higher_order_cases import CASES, INDEX, TARGETS, make_inputs  # noqa: E402

TORCH_LIB = types.SimpleNamespace(grad=torch.autograd.grad, functional=torch.autograd.functional, F=F,
                                  index=torch.tensor(INDEX), targets=torch.tensor(TARGETS))


def torch_results(fn, arrays, lib=TORCH_LIB):
    """fn(lib, *inputs) run by torch on float64 leaves made from `arrays`, as NumPy arrays."""
    inputs = [torch.tensor(a, requires_grad=True) for a in arrays]
    return [r.detach().numpy() for r in fn(lib, *inputs)]


def main():
    record = {}
    for seed, (name, (fn, shapes)) in enumerate(CASES.items()):
        arrays = make_inputs(shapes, seed)
        for i, array in enumerate(arrays):
            record[f"{name}/input{i}"] = array
        for i, result in enumerate(torch_results(fn, arrays)):
            record[f"{name}/result{i}"] = result
    path = TESTS / "golden" / "higher_order.npz"
    np.savez(path, **record)
    print(f"wrote {path} ({len(CASES)} cases, torch {torch.__version__})")


if __name__ == "__main__":
    main()
