"""Record torch.optim's trajectories for the runs of tests/cases/optim_cases.py.

Run from the repository root with torch installed (pip install -e ".[oracle]", the pinned torch):

    python tests/golden/make_optim_golden.py

It writes tests/golden/optim.npz with, all float64:
  problem/<param>, problem/x, problem/y      the MLP's initial parameters and batch
  <case>/checkpoints                         torch's parameters after each of CHECKPOINTS steps,
                                             flattened in PARAM_NAMES order: (checkpoints, values)
  <case>/state/<name>                        torch's state buffer <name> after the last step, the
                                             parameters having it flattened in order
  schedule/<case>                            each group's lr, (SCHEDULE_STEPS + 1, groups)
  plateau/<case>                             ReduceLROnPlateau: each group's lr, (PLATEAU_STEPS, groups)
  lbfgs/<case>/losses, /points, /counts      L-BFGS on Rosenbrock: step() results, x after each
                                             step, (func_evals, n_iter) at the end
"""
import pathlib
import sys

import numpy as np
import torch

TESTS = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))
from cases import optim_cases as cases  # noqa: E402


def torch_optimizer_run(case, arrays, x, y):
    return cases.run_optimizer(torch, torch.optim, case, arrays, x, y)


def torch_schedule(case):
    return cases.schedule_values(torch, torch.optim, case)


def torch_plateau(case):
    return cases.plateau_values(torch, torch.optim, case)


def torch_lbfgs(case):
    return cases.run_lbfgs(torch, torch.optim, case)


def main():
    arrays, x, y = cases.make_problem()
    record = {"problem/x": x, "problem/y": y}
    record.update({f"problem/{name}": a for name, a in zip(cases.PARAM_NAMES, arrays)})
    for case in cases.OPTIMIZER_CASES:
        checkpoints, state = torch_optimizer_run(case, arrays, x, y)
        record[f"{case}/checkpoints"] = checkpoints
        record.update({f"{case}/state/{key}": values for key, values in state.items()})
    for case in cases.SCHEDULE_CASES:
        record[f"schedule/{case}"] = torch_schedule(case)
    for case in cases.PLATEAU_CASES:
        record[f"plateau/{case}"] = torch_plateau(case)
    for case in cases.LBFGS_CASES:
        losses, points, counts = torch_lbfgs(case)
        record.update({f"lbfgs/{case}/losses": losses, f"lbfgs/{case}/points": points,
                       f"lbfgs/{case}/counts": np.array(counts)})
    path = TESTS / "golden" / "optim.npz"
    np.savez_compressed(path, **record)
    print(f"wrote {path} ({path.stat().st_size // 1024} KiB: {len(cases.OPTIMIZER_CASES)} optimizer runs, "
          f"{len(cases.SCHEDULE_CASES)} schedules, "
          f"{len(cases.PLATEAU_CASES)} plateau runs, {len(cases.LBFGS_CASES)} L-BFGS runs; "
          f"torch {torch.__version__})")


if __name__ == "__main__":
    main()
