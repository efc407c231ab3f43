"""Record PyTorch's values for the Module tests (tests/cases/module_cases.py).

Run from the repository root with torch installed (pip install -e ".[oracle]", the pinned torch):

    python tests/golden/make_module_golden.py

It writes tests/golden/module.npz with, for the small CNN in float64:
its state_dict key order and initial values, an input and torch's eval
output, the inputs of a short training run and the state_dict after it;
and torch's fan_in/fan_out and calculate_gain values.
"""
import pathlib
import sys

import numpy as np
import torch

TESTS = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))
from cases import module_cases as cases  # noqa: E402


def torch_reference(seed):
    """Everything the tests compare, computed by torch for the data of `seed`."""
    torch.manual_seed(seed)
    model = cases.small_cnn(torch.nn).double()
    initial = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    x, batches = cases.make_data(seed)
    with torch.no_grad():
        eval_output = model.eval()(torch.tensor(x)).numpy()
    cases.train_steps(cases.freeze_modes(model), batches, torch.tensor)
    trained = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    return {"keys": list(initial), "initial": initial, "x": x, "batches": batches,
            "eval_output": eval_output, "trained": trained}


def fans_and_gains():
    fans = [torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape)) for shape in cases.FAN_SHAPES]
    gains = [torch.nn.init.calculate_gain(name, param) for name, param in cases.GAINS]
    return np.array(fans), np.array(gains)


def main():
    ref = torch_reference(seed=0)
    record = {"keys": np.array(ref["keys"]), "x": ref["x"], "eval_output": ref["eval_output"]}
    for name in ref["keys"]:
        record[f"initial/{name}"] = ref["initial"][name]
        record[f"trained/{name}"] = ref["trained"][name]
    for i, (x, upstream) in enumerate(ref["batches"]):
        record[f"batch{i}/x"], record[f"batch{i}/upstream"] = x, upstream
    record["fans"], record["gains"] = fans_and_gains()
    path = TESTS / "golden" / "module.npz"
    np.savez_compressed(path, **record)
    print(f"wrote {path} ({len(ref['keys'])} state_dict entries, torch {torch.__version__})")


if __name__ == "__main__":
    main()
