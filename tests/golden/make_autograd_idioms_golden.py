"""Record PyTorch's results for the cases of tests/cases/autograd_idiom_cases.py.

Run from the repository root with torch installed (pip install -e ".[oracle]", the pinned torch):

    python tests/golden/make_autograd_idioms_golden.py

It writes tests/golden/autograd_idioms.npz: for each case, its results as float64 arrays (name/0, name/1, ...).
"""
import pathlib
import sys
import warnings

import numpy as np
import torch

TESTS = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))
from cases.autograd_idiom_cases import CASES  # noqa: E402


def torch_results(case):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the backward hook of a first layer warns, in both libraries
        return case(torch)


def main():
    record = {}
    for name, case in CASES.items():
        for i, result in enumerate(torch_results(case)):
            record[f"{name}/{i}"] = result
    path = TESTS / "golden" / "autograd_idioms.npz"
    np.savez(path, **record)
    print(f"wrote {path} ({len(CASES)} cases, torch {torch.__version__})")


if __name__ == "__main__":
    main()
