"""Record what torch.utils.data makes of the cases of tests/cases/data_cases.py.

Run from the repository root with torch installed (pip install -e ".[oracle]", the pinned torch):

    python tests/golden/make_data_golden.py

It writes tests/golden/data.npz: for each collate and loader case the structure of its batches (a
string, see ``data_cases.describe``) and their tensors as arrays (``CASE/0``, ``CASE/1``...), and for
each random_split case the lengths of the splits.
"""
import pathlib
import sys
import types

import numpy as np
import torch
import torch.utils.data

TESTS = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))
from cases.data_cases import COLLATE_CASES, LOADER_CASES, SPLIT_CASES, describe, describe_loader  # noqa: E402

TORCH_LIB = types.SimpleNamespace(tensor=torch.tensor, TensorDataset=torch.utils.data.TensorDataset)


def torch_collate(name):
    return describe(torch.utils.data.default_collate(COLLATE_CASES[name](TORCH_LIB)), torch.Tensor)


def torch_loader(name):
    make, kwargs = LOADER_CASES[name]
    return describe_loader(torch.utils.data.DataLoader(make(TORCH_LIB), **kwargs), torch.Tensor)


def torch_split(name):
    size, lengths = SPLIT_CASES[name]
    return [len(part) for part in torch.utils.data.random_split(range(size), lengths)]


def main():
    record = {}
    for cases, run in ((COLLATE_CASES, torch_collate), (LOADER_CASES, torch_loader)):
        for name in cases:
            structure, arrays = run(name)
            record[f"{name}/structure"] = np.array(structure)
            record.update({f"{name}/{i}": array for i, array in enumerate(arrays)})
    for name in SPLIT_CASES:
        record[f"{name}/lengths"] = np.array(torch_split(name), dtype=np.int64)
    path = TESTS / "golden" / "data.npz"
    np.savez(path, **record)
    print(f"wrote {path} ({len(COLLATE_CASES) + len(LOADER_CASES) + len(SPLIT_CASES)} cases, torch {torch.__version__})")


if __name__ == "__main__":
    main()
