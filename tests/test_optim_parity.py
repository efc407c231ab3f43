"""Optimizers against torch.optim, step for step: recorded trajectories always, live torch when importable."""
import pathlib
import sys

import numpy as np
import pytest

import minitl as tl
import minitl.optim as optim

from cases import optim_cases as cases

GOLDEN = np.load(pathlib.Path(__file__).parent / "golden" / "optim.npz")
TOLERANCE = 1e-9


def relative_error(actual, expected):
    """max |actual - expected| / max |expected|."""
    return float(np.max(np.abs(actual - expected)) / max(np.max(np.abs(expected)), 1e-300))


def golden_problem():
    arrays = [GOLDEN[f"problem/{name}"] for name in cases.PARAM_NAMES]
    return arrays, GOLDEN["problem/x"], GOLDEN["problem/y"]


def assert_same_run(actual, expected):
    (checkpoints, state), (expected_checkpoints, expected_state) = actual, expected
    for i, step in enumerate(cases.CHECKPOINTS):
        error = relative_error(checkpoints[i], expected_checkpoints[i])
        assert error < TOLERANCE, f"parameters after {step} steps: relative error {error:.2e}"
    assert sorted(state) == sorted(expected_state), "state names differ from PyTorch's"
    for key, values in expected_state.items():
        error = relative_error(state[key], values)
        assert error < TOLERANCE, f"state '{key}' after {cases.STEPS} steps: relative error {error:.2e}"


@pytest.mark.parametrize("case", list(cases.OPTIMIZER_CASES))
def test_matches_recorded_pytorch_trajectory(case):
    expected_state = {key[len(f"{case}/state/"):]: GOLDEN[key] for key in GOLDEN.files
                      if key.startswith(f"{case}/state/")}
    actual = cases.run_optimizer(tl, optim, case, *golden_problem())
    assert_same_run(actual, (GOLDEN[f"{case}/checkpoints"], expected_state))


def test_trajectories_move_and_differ():
    """Guards the parity test itself: the runs really train, the unused parameter stays put, options matter."""
    arrays, _, _ = golden_problem()
    start = cases.flat(arrays)
    used = start.size - arrays[-1].size  # the values of `unused` come last
    final = {case: GOLDEN[f"{case}/checkpoints"][-1] for case in cases.OPTIMIZER_CASES}
    for case, values in final.items():
        assert relative_error(values[:used], start[:used]) > 1e-2, case
        np.testing.assert_array_equal(values[used:], start[used:], err_msg=case)
    assert relative_error(final["sgd_momentum"], final["sgd_nesterov"]) > 1e-3
    assert relative_error(final["adam_wd"], final["adamw_wd"]) > 1e-4


@pytest.mark.torch
@pytest.mark.parametrize("case", list(cases.OPTIMIZER_CASES))
def test_matches_live_pytorch(case):
    pytest.importorskip("torch")
    sys.path.insert(0, str(pathlib.Path(__file__).parent / "golden"))
    from make_optim_golden import torch_optimizer_run

    arrays, x, y = cases.make_problem(seed=1)  # other values than the recorded ones
    assert_same_run(cases.run_optimizer(tl, optim, case, arrays, x, y), torch_optimizer_run(case, arrays, x, y))
