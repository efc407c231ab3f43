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

TESTS = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))
sys.path.insert(0, str(TESTS / "golden"))
from make_higher_order_golden import TORCH_LIB as HIGHER_ORDER_LIB  # noqa: E402
from make_higher_order_golden import torch_results  # noqa: E402

from cases.gradient_mutation_cases import CASES, TARGETS_4D, WEIGHTS_3X3  # noqa: E402

TORCH_LIB = types.SimpleNamespace(**vars(HIGHER_ORDER_LIB), targets_4d=torch.tensor(TARGETS_4D),
                                  weights_3x3=torch.tensor(WEIGHTS_3X3))


def main():
    record = {f"{name}/result{i}": result for name, (fn, arrays) in CASES.items()
              for i, result in enumerate(torch_results(fn, arrays, TORCH_LIB))}
    path = TESTS / "golden" / "gradient_mutations.npz"
    np.savez(path, **record)
    print(f"wrote {path} ({len(CASES)} cases, torch {torch.__version__})")


if __name__ == "__main__":
    main()
