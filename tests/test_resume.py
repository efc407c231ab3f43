"""Resuming training from a checkpoint of model + optimizer + scheduler matches an uninterrupted run step for step.

The checkpoint goes through ``tl.save`` / ``tl.load`` (no pickles): the
optimizer's state (int keys, tuples, buffers) and the scheduler's state
(floats, lists) round-trip exactly.
"""
import numpy as np
import pytest

import minitl as tl
from minitl import nn, optim
from minitl.nn import functional as F

STEPS, SPLIT = 8, 5


def setup(make_optimizer, make_scheduler):
    tl.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
    optimizer = make_optimizer(model.parameters())
    return model, optimizer, make_scheduler(optimizer)


def batches():
    rng = np.random.default_rng(1)
    return [(tl.tensor(rng.normal(size=(6, 4)).astype(np.float32)), tl.tensor(rng.integers(0, 3, 6)))
            for _ in range(STEPS)]


def train(model, optimizer, scheduler, data, start=0):
    """One optimizer step per batch, a scheduler step after every second one; the weights and lr after each."""
    trace = []
    for images, labels in data:
        optimizer.zero_grad()
        F.cross_entropy(model(images), labels).backward()
        optimizer.step()
        if (start + len(trace)) % 2 == 1:
            scheduler.step()
        trace.append([p.detach().numpy().copy() for p in model.parameters()] + [optimizer.param_groups[0]["lr"]])
    return trace


CASES = {
    "SGD momentum + StepLR": (lambda p: optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=1e-4),
                              lambda o: optim.lr_scheduler.StepLR(o, step_size=2, gamma=0.5)),
    "Adam + CosineAnnealingLR": (lambda p: optim.Adam(p, lr=0.01, betas=(0.8, 0.99)),
                                 lambda o: optim.lr_scheduler.CosineAnnealingLR(o, T_max=4, eta_min=1e-4)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_resuming_from_a_saved_checkpoint_matches_an_uninterrupted_run(tmp_path, case):
    data = batches()
    uninterrupted = train(*setup(*CASES[case]), data)

    model, optimizer, scheduler = setup(*CASES[case])
    first = train(model, optimizer, scheduler, data[:SPLIT])
    tl.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
             "step": SPLIT}, tmp_path / "resume.npz")
    del model, optimizer, scheduler

    model, optimizer, scheduler = setup(*CASES[case])  # a new process would start here
    checkpoint = tl.load(tmp_path / "resume.npz")
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    scheduler.load_state_dict(checkpoint["scheduler"])
    assert checkpoint["step"] == SPLIT
    second = train(model, optimizer, scheduler, data[SPLIT:], start=SPLIT)
    assert len(first + second) == STEPS
    for step, (expected, got) in enumerate(zip(uninterrupted, first + second)):
        for a, b in zip(expected, got):
            np.testing.assert_array_equal(a, b, err_msg=f"{case}, step {step}")
