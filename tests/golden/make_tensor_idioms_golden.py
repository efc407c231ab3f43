"""Record PyTorch's results for the tensor idioms of tests/cases/tensor_idioms.py.

Run from the repository root with torch installed (pip install -e ".[oracle]", the pinned torch):

    python tests/golden/make_tensor_idioms_golden.py

It writes tests/golden/tensor_idioms.npz: for each idiom, its results as named arrays (each tensor's values
and dtype name, the type name of each (values, indices) pair, numbers, dtype names), or the type name of the
exception torch raises.
"""
import pathlib
import sys

import numpy as np
import torch

TESTS = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))
from cases.tensor_idioms import IDIOMS, results  # noqa: E402


def main():
    record = {}
    for name, fn in IDIOMS.items():
        for key, value in results(fn, torch).items():
            record[f"{name}/{key}"] = value
    path = TESTS / "golden" / "tensor_idioms.npz"
    np.savez(path, **record)
    print(f"wrote {path} ({len(IDIOMS)} idioms, torch {torch.__version__})")


if __name__ == "__main__":
    main()
