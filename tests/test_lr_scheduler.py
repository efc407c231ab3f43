"""Learning-rate schedules: PyTorch's values (recorded and live), initial_lr, resuming, errors."""
import math
import pathlib
import sys

import numpy as np
import pytest

import minitl as tl
import minitl.optim as optim
from minitl.optim import lr_scheduler

from cases import optim_cases as cases

GOLDEN = np.load(pathlib.Path(__file__).parent / "golden" / "optim.npz")


def make_optimizer(lrs=(0.1,)):
    return optim.SGD([{"params": [tl.zeros(1, requires_grad=True)], "lr": lr} for lr in lrs])


def run(scheduler, steps):
    values = []
    for _ in range(steps):
        scheduler.optimizer.step()
        scheduler.step()
        values.append(scheduler.get_last_lr())
    return values


@pytest.mark.parametrize("case", list(cases.SCHEDULE_CASES))
def test_matches_recorded_pytorch_values(case):
    values = cases.schedule_values(tl, optim, case)
    expected = GOLDEN[f"schedule/{case}"]
    np.testing.assert_allclose(values, expected, rtol=1e-13, atol=1e-15)


@pytest.mark.torch
@pytest.mark.parametrize("case", list(cases.SCHEDULE_CASES))
def test_matches_live_pytorch(case):
    pytest.importorskip("torch")
    sys.path.insert(0, str(pathlib.Path(__file__).parent / "golden"))
    from make_optim_golden import torch_schedule

    values = cases.schedule_values(tl, optim, case)
    np.testing.assert_allclose(values, torch_schedule(case), rtol=1e-13, atol=1e-15)


def test_closed_forms():
    """The formulas of the module docstring, so the recorded values are checked against something readable."""
    steps = range(101)
    recorded = {case: GOLDEN[f"schedule/{case}"][:, 0] for case in cases.SCHEDULE_CASES}
    np.testing.assert_allclose(recorded["step"], [0.1 * 0.1 ** (e // 30) for e in steps], rtol=1e-12)
    np.testing.assert_allclose(recorded["multistep_repeated"],
                               [0.1 * 0.5 ** sum(m <= e for m in (10, 50, 50, 90)) for e in steps], rtol=1e-12)
    np.testing.assert_allclose(recorded["exponential"], [0.1 * 0.95 ** e for e in steps], rtol=1e-12)
    np.testing.assert_allclose(recorded["cosine_periodic"],
                               [0.001 + 0.099 * (1 + math.cos(math.pi * e / 30)) / 2 for e in steps], rtol=1e-12)
    np.testing.assert_allclose(recorded["warm_restarts"],
                               [0.1 * (1 + math.cos(math.pi * (e % 10) / 10)) / 2 for e in steps], rtol=1e-12)
    np.testing.assert_allclose(recorded["lambda"], [0.1 * min(1.0, (e + 1) / 10) for e in steps], rtol=1e-15)


def test_cosine_annealing_reaches_eta_min_and_climbs_back():
    sched = lr_scheduler.CosineAnnealingLR(make_optimizer(), T_max=10, eta_min=0.01)
    values = [lr for (lr,) in run(sched, 20)]
    assert abs(values[9] - 0.01) < 1e-15  # epoch 10
    assert abs(values[19] - 0.1) < 1e-15  # epoch 20: back at the top


def test_warm_restarts_cycle_lengths_grow_by_t_mult():
    sched = lr_scheduler.CosineAnnealingWarmRestarts(make_optimizer(), T_0=3, T_mult=2)
    restarts = [epoch for epoch, (lr,) in enumerate(run(sched, 25), start=1) if lr == 0.1]
    assert restarts == [3, 9, 21]
    sched.step(4.5)  # fractional epochs: 1.5 into the second cycle (length 6)
    assert (sched.T_i, sched.T_cur, sched.last_epoch) == (6, 1.5, 4)
    assert sched.get_last_lr()[0] == pytest.approx(0.05 * (1 + math.cos(math.pi * 1.5 / 6)))


def test_initial_lr_and_base_lrs():
    opt = make_optimizer((0.1, 0.02))
    sched = lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.02]
    assert sched.base_lrs == [0.1, 0.02] and sched.last_epoch == 0
    assert sched.get_last_lr() == [0.1, 0.02]
    run(sched, 2)
    assert sched.get_last_lr() == [0.05, 0.01]
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.02]


def test_two_schedulers_chain_on_one_optimizer():
    opt = make_optimizer()
    warm = lr_scheduler.ExponentialLR(opt, gamma=0.5)
    step = lr_scheduler.StepLR(opt, step_size=2, gamma=0.1)
    for _ in range(2):
        warm.step()
        step.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 * 0.25 * 0.1, rel=1e-15)


def test_state_dict_resumes_the_schedule():
    opt = make_optimizer()
    sched = lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=4, T_mult=2)
    run(sched, 7)
    saved_opt, saved = opt.state_dict(), sched.state_dict()
    expected = run(sched, 10)
    assert "optimizer" not in saved

    opt2 = make_optimizer()
    sched2 = lr_scheduler.CosineAnnealingWarmRestarts(opt2, T_0=4, T_mult=2)  # before loading: it sets lr
    opt2.load_state_dict(saved_opt)
    sched2.load_state_dict(saved)
    assert run(sched2, 10) == expected


def test_lambda_lr_state_dict_leaves_out_the_functions():
    sched = lr_scheduler.LambdaLR(make_optimizer(), lambda e: 0.9 ** e)
    assert "lr_lambdas" not in sched.state_dict()
    assert sched.state_dict()["last_epoch"] == 0


def test_resuming_with_last_epoch_needs_initial_lr():
    with pytest.raises(KeyError, match=r"initial_lr.*param_groups\[0\]"):
        lr_scheduler.StepLR(make_optimizer(), step_size=3, last_epoch=5)
    opt = make_optimizer()
    opt.param_groups[0]["initial_lr"] = 1.0
    sched = lr_scheduler.ExponentialLR(opt, gamma=0.5, last_epoch=5)
    assert sched.last_epoch == 6 and sched.base_lrs == [1.0]


@pytest.mark.parametrize("build, error, message", [
    (lambda opt: lr_scheduler.StepLR(object(), step_size=3), TypeError, "expected an Optimizer, got object"),
    (lambda opt: lr_scheduler.StepLR(opt, step_size=0), ValueError, "step_size must be a positive integer"),
    (lambda opt: lr_scheduler.CosineAnnealingLR(opt, T_max=0), ValueError, "T_max must be positive"),
    (lambda opt: lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2.5), ValueError, "positive integer T_0"),
    (lambda opt: lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=5, T_mult=0), ValueError, "T_mult >= 1"),
    (lambda opt: lr_scheduler.LambdaLR(opt, [abs, abs]), ValueError, "expected 1 lr_lambdas"),
])
def test_invalid_arguments_fail_clearly(build, error, message):
    with pytest.raises(error, match=message):
        build(make_optimizer())
