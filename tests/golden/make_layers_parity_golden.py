"""Record PyTorch's values for the layer cases of tests/cases/layer_parity_cases.py.

Run from the repository root with torch installed (pip install -e ".[oracle]", the pinned torch):

    python tests/golden/make_layers_parity_golden.py

Writes tests/golden/layers_parity.npz: per case (float64) its repr, state_dict keys and weights, an input,
an upstream gradient, torch's output and torch's input gradient.
"""
import pathlib
import sys

import numpy as np
import torch

TESTS = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))
from cases.layer_parity_cases import LAYER_CASES, make_input, weights  # noqa: E402


def torch_reference(build, shape, forward, seed):
    """(repr, weights, input, upstream, output, input gradient) of torch's layer for `seed`."""
    module = build(torch.nn).double()
    state = weights(module, seed)
    module.load_state_dict({name: torch.tensor(value) for name, value in state.items()})
    x = torch.tensor(make_input(shape, seed), requires_grad=True)
    output = forward(module, x)
    upstream = np.random.default_rng(seed + 1000).normal(size=tuple(output.shape))
    output.backward(torch.tensor(upstream))
    return repr(module), state, x.detach().numpy(), upstream, output.detach().numpy(), x.grad.numpy()


def main():
    record = {}
    for seed, (name, build, shape, forward) in enumerate(LAYER_CASES):
        text, state, x, upstream, output, grad = torch_reference(build, shape, forward, seed)
        record[f"{name}/repr"], record[f"{name}/keys"] = np.array(text), np.array(list(state), dtype=str)
        record[f"{name}/input"], record[f"{name}/upstream"] = x, upstream
        record[f"{name}/output"], record[f"{name}/grad"] = output, grad
        for key, value in state.items():
            record[f"{name}/state/{key}"] = value
    path = TESTS / "golden" / "layers_parity.npz"
    np.savez_compressed(path, **record)
    print(f"wrote {path} ({len(LAYER_CASES)} cases, torch {torch.__version__})")


if __name__ == "__main__":
    main()
