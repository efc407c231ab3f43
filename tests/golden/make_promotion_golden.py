"""Record PyTorch's results for the mixed-dtype cases of tests/cases/promotion_cases.py.

Run from the repository root with torch installed (pip install -e ".[oracle]", the pinned torch):

    python tests/golden/make_promotion_golden.py

It writes tests/golden/promotion.npz: for each case torch's output and its
dtype name, and for the gradient cases each float operand's gradient (upstream
gradient of ones) and its dtype name.
"""
import pathlib
import sys
import types

import numpy as np
import torch

TESTS = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))
from cases.promotion_cases import GRADIENT_CASES, PROMOTION_CASES, operand_arrays  # noqa: E402

TORCH_LIB = types.SimpleNamespace(where=torch.where, cat=torch.cat, stack=torch.stack)


def dtype_name(tensor):
    return str(tensor.dtype).removeprefix("torch.")


def torch_result(fn, operands, with_grad):
    """torch's output, its dtype name, and (with_grad) the float operands' gradients and their dtype names."""
    inputs = [torch.tensor(a, requires_grad=with_grad and a.dtype.kind == "f") for a in operand_arrays(operands)]
    output = fn(TORCH_LIB, *inputs)
    grads = []
    if with_grad:
        output.backward(torch.ones_like(output))
        grads = [(x.grad.numpy(), dtype_name(x.grad)) for x in inputs if x.requires_grad]
    return output.detach().numpy(), dtype_name(output), grads


def main():
    record = {}
    for cases, with_grad in ((PROMOTION_CASES, False), (GRADIENT_CASES, True)):
        for name, fn, operands in cases:
            output, dtype, grads = torch_result(fn, operands, with_grad)
            record[f"{name}/output"], record[f"{name}/dtype"] = output, np.array(dtype)
            for i, (grad, grad_dtype) in enumerate(grads):
                record[f"{name}/grad{i}"], record[f"{name}/grad{i}_dtype"] = grad, np.array(grad_dtype)
    path = TESTS / "golden" / "promotion.npz"
    np.savez(path, **record)
    print(f"wrote {path} ({len(PROMOTION_CASES) + len(GRADIENT_CASES)} cases, torch {torch.__version__})")


if __name__ == "__main__":
    main()
