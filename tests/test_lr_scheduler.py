"""Learning-rate schedules: PyTorch's values (recorded and live), initial_lr, resuming, errors."""
import math
import pathlib
import sys
import warnings

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


@pytest.mark.parametrize("case", list(cases.PLATEAU_CASES))
def test_reduce_lr_on_plateau_matches_recorded_pytorch_values(case):
    np.testing.assert_allclose(cases.plateau_values(tl, optim, case), GOLDEN[f"plateau/{case}"], rtol=1e-15)


@pytest.mark.torch
@pytest.mark.parametrize("case", list(cases.PLATEAU_CASES))
def test_reduce_lr_on_plateau_matches_live_pytorch(case):
    pytest.importorskip("torch")
    sys.path.insert(0, str(pathlib.Path(__file__).parent / "golden"))
    from make_optim_golden import torch_plateau

    np.testing.assert_allclose(cases.plateau_values(tl, optim, case), torch_plateau(case), rtol=1e-15)


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
    np.testing.assert_allclose(recorded["linear"], [0.1 * (0.25 + 0.25 * min(e, 40) / 40) for e in steps],
                               rtol=1e-12)
    np.testing.assert_allclose(recorded["polynomial"], [0.1 * (1 - min(e, 60) / 60) ** 2 for e in steps],
                               rtol=1e-12, atol=1e-17)
    triangle = [1 - abs((e % 20) - 10) / 10 for e in steps]  # 0 -> 1 -> 0 every 20 steps
    np.testing.assert_allclose(recorded["cyclic"], [0.001 + 0.099 * h for h in triangle], rtol=1e-12)
    # max_lr 1.0: a half cosine up from 1/25 until step 0.3 * 101 - 1, then down to 1/25e4 at step 100
    up, top, bottom = 0.3 * 101 - 1, 1.0, 0.04 / 1e4
    ramps = [top + (0.04 - top) / 2 * (1 + math.cos(math.pi * e / up)) if e <= up else
             bottom + (top - bottom) / 2 * (1 + math.cos(math.pi * (e - up) / (100 - up))) for e in steps]
    np.testing.assert_allclose(recorded["one_cycle"], ramps, rtol=1e-12)


@pytest.mark.parametrize("case", [case for case in cases.SCHEDULE_CASES
                                  if cases.SCHEDULE_CASES[case][0] in {"StepLR", "MultiStepLR", "ExponentialLR",
                                                                       "CosineAnnealingLR", "LinearLR",
                                                                       "PolynomialLR"}])
def test_chainable_forms_follow_their_closed_forms(case):
    """The chainable updates (PyTorch's) and the closed forms of the module docstring give the same schedule."""
    class_name, kwargs = cases.SCHEDULE_CASES[case]
    sched = getattr(lr_scheduler, class_name)(make_optimizer((0.1, 0.01)), **kwargs)
    for _ in range(100):
        np.testing.assert_allclose(sched.get_last_lr(), sched._get_closed_form_lr(), rtol=1e-12, atol=1e-17)
        sched.optimizer.step()
        sched.step()


def test_scheduler_stepping_before_the_optimizer_warns_as_pytorch():
    opt = make_optimizer()
    sched = lr_scheduler.StepLR(opt, step_size=2)
    with pytest.warns(UserWarning, match=r"Detected call of `lr_scheduler.step\(\)` before `optimizer.step\(\)`"):
        sched.step()
    opt = make_optimizer()
    sched = lr_scheduler.StepLR(opt, step_size=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run(sched, 3)  # optimizer.step() first: silent


@pytest.mark.torch
def test_step_order_warning_is_pytorchs():
    torch = pytest.importorskip("torch")
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2)
    with pytest.warns(UserWarning) as recorded:
        sched.step()
    assert str(recorded[0].message) == lr_scheduler.STEP_ORDER_WARNING


def test_one_cycle_and_cyclic_move_the_momentum_the_other_way():
    opt = optim.SGD([tl.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
    sched = lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=10, pct_start=0.5)
    assert opt.param_groups[0]["momentum"] == 0.95
    run(sched, 4)  # the top of the lr ramp: the bottom of the momentum's
    assert sched.get_last_lr()[0] == pytest.approx(1.0) and opt.param_groups[0]["momentum"] == pytest.approx(0.85)
    adam = optim.Adam([tl.zeros(1, requires_grad=True)])
    sched = lr_scheduler.CyclicLR(adam, base_lr=0.01, max_lr=0.1, step_size_up=2)
    run(sched, 2)
    assert adam.param_groups[0]["betas"] == (pytest.approx(0.8), 0.999)  # beta1 stands for Adam's momentum
    with pytest.raises(ValueError, match="needs an optimizer with momentum or betas .*Adagrad"):
        lr_scheduler.CyclicLR(optim.Adagrad([tl.zeros(1, requires_grad=True)]), base_lr=0.01, max_lr=0.1)


def test_reduce_lr_on_plateau_covers_groups_added_later():
    opt = make_optimizer()
    sched = lr_scheduler.ReduceLROnPlateau(opt, patience=0, min_lr=0.05)
    opt.add_param_group({"params": [tl.zeros(1, requires_grad=True)], "lr": 0.2})
    for loss in (1.0, 1.0, 1.0):
        sched.step(loss)
    assert sched.get_last_lr() == [0.05, pytest.approx(0.05)]
    listed = lr_scheduler.ReduceLROnPlateau(opt, patience=0, min_lr=[0.0, 0.0])
    opt.add_param_group({"params": [tl.zeros(1, requires_grad=True)]})
    with pytest.raises(RuntimeError, match="3 param groups, but min_lr was given for 2"):
        for loss in (1.0, 1.0):
            listed.step(loss)


def test_sequential_state_dict_resumes_the_schedule():
    def build():
        opt = make_optimizer()
        return lr_scheduler.SequentialLR(opt, **cases._warmup_then_cosine(lr_scheduler, opt))

    sched = build()
    run(sched, 7)
    saved_opt, saved = sched.optimizer.state_dict(), sched.state_dict()
    assert [type(s) for s in saved["_schedulers"]] == [dict, dict]
    expected = run(sched, 20)
    sched2 = build()
    sched2.optimizer.load_state_dict(saved_opt)
    sched2.load_state_dict(saved)
    assert run(sched2, 20) == expected


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
        opt.step()
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
    (lambda opt: lr_scheduler.LinearLR(opt, start_factor=0), ValueError, r"start_factor must be in \(0, 1\]"),
    (lambda opt: lr_scheduler.LinearLR(opt, end_factor=1.5), ValueError, r"end_factor must be in \[0, 1\]"),
    (lambda opt: lr_scheduler.OneCycleLR(opt, max_lr=1.0), ValueError, "give total_steps, or epochs"),
    (lambda opt: lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=10, pct_start=1), ValueError,
     "pct_start must be a float"),
    (lambda opt: lr_scheduler.OneCycleLR(opt, max_lr=[1.0, 2.0], total_steps=10), ValueError,
     "expected 1 values for max_lr"),
    (lambda opt: lr_scheduler.CyclicLR(opt, 0.01, 0.1, mode="square"), ValueError, "mode must be 'triangular'"),
    (lambda opt: lr_scheduler.ReduceLROnPlateau(opt, factor=1.0), ValueError, "factor must be < 1"),
    (lambda opt: lr_scheduler.ReduceLROnPlateau(opt, mode="lowest"), ValueError, "mode must be 'min' or 'max'"),
    (lambda opt: lr_scheduler.SequentialLR(opt, [lr_scheduler.StepLR(opt, 2)], milestones=[3]), ValueError,
     "one milestone fewer than schedulers"),
    (lambda opt: lr_scheduler.ChainedScheduler([lr_scheduler.ReduceLROnPlateau(opt)]), ValueError,
     "does not take ReduceLROnPlateau"),
    (lambda opt: lr_scheduler.SequentialLR(opt, [lr_scheduler.StepLR(make_optimizer(), 2)], []), ValueError,
     "same optimizer"),
])
def test_invalid_arguments_fail_clearly(build, error, message):
    with pytest.raises(error, match=message):
        build(make_optimizer())
