"""minitl.lab.ensemble: averaged softmax of several models, snapshot ensembles on the cosine-restart schedule,
and predictions with EMA weights."""
import math

import numpy as np
import pytest

import minitl as tl
from minitl import nn, optim
from minitl.lab import ensemble
from minitl.nn import functional as F


def softmax(logits):
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_average_probabilities_is_the_mean_of_the_softmaxes():
    tl.manual_seed(0)
    models = [nn.Linear(4, 3) for _ in range(3)]
    x = tl.randn(7, 4)
    expected = sum(softmax(x.numpy() @ m.weight.detach().numpy().T + m.bias.detach().numpy()) for m in models) / 3
    probabilities = ensemble.average_probabilities(models, x, batch_size=3)  # in batches of 3, 3, 1
    np.testing.assert_allclose(probabilities, expected, rtol=1e-5)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-6)
    with pytest.raises(ValueError, match="got no models"):
        ensemble.average_probabilities([], x)


def test_predictions_run_in_eval_mode_and_restore_the_mode():
    tl.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 5), nn.Dropout(0.5), nn.Linear(5, 2))
    x = tl.randn(4, 5)
    first = ensemble.predict_probabilities(model, x)
    np.testing.assert_array_equal(first, ensemble.predict_probabilities(model, x))  # no dropout noise
    assert model.training
    assert ensemble.accuracy(first, tl.tensor(first.argmax(axis=1))) == 1.0
    assert ensemble.accuracy(first, 1 - first.argmax(axis=1)) == 0.0


def test_an_ensemble_of_one_model_is_that_model():
    tl.manual_seed(1)
    model = nn.Linear(3, 4)
    x = tl.randn(5, 3)
    np.testing.assert_array_equal(ensemble.average_probabilities([model], x), ensemble.predict_probabilities(model, x))


def train_with_snapshots(cycles, epochs_per_cycle, batches_per_epoch):
    tl.manual_seed(2)
    model = nn.Linear(3, 2)
    opt = optim.SGD(model.parameters(), lr=0.1)
    schedule = ensemble.SnapshotSchedule(model, opt, epochs_per_cycle, batches_per_epoch)
    x, y = tl.randn(8, 3), tl.tensor([0, 1] * 4)
    log = []
    for _ in range(cycles * epochs_per_cycle * batches_per_epoch):
        lr_used = opt.param_groups[0]["lr"]
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        took = schedule.step()
        log.append((lr_used, took, [p.data.copy() for p in model.parameters()]))
    return model, schedule, log


def test_snapshot_schedule_snapshots_at_each_cycles_end_where_the_lr_is_lowest():
    _, schedule, log = train_with_snapshots(cycles=3, epochs_per_cycle=2, batches_per_epoch=4)
    taken = [i for i, (_, took, _) in enumerate(log) if took]
    assert taken == [7, 15, 23] and len(schedule.snapshots) == 3
    lrs = [lr for lr, _, _ in log]
    # Per cycle of 8 batches: 0.1 at the restart, then down the cosine to its lowest at the last batch.
    for start in (0, 8, 16):
        cycle = lrs[start:start + 8]
        assert cycle[0] == pytest.approx(0.1) and cycle == sorted(cycle, reverse=True)
        assert cycle[-1] == pytest.approx(0.05 * (1 + math.cos(math.pi * 7 / 8)))
    for index, snapshot in zip(taken, schedule.snapshots):
        for saved, params in zip(snapshot, log[index][2]):
            np.testing.assert_array_equal(saved, params)


def test_snapshot_predictions_average_the_snapshots():
    model, schedule, _ = train_with_snapshots(cycles=2, epochs_per_cycle=1, batches_per_epoch=3)
    x = tl.randn(6, 3)
    current = [p.data.copy() for p in model.parameters()]
    members = []
    for snapshot in schedule.snapshots:
        member = nn.Linear(3, 2)
        member.weight.data[...], member.bias.data[...] = snapshot
        members.append(member)
    np.testing.assert_allclose(schedule.predict_probabilities(model, x),
                               ensemble.average_probabilities(members, x), rtol=1e-6)
    for p, values in zip(model.parameters(), current):  # the model keeps its own weights
        np.testing.assert_array_equal(p.data, values)


def test_ema_probabilities_use_the_averaged_weights_and_restore_the_model():
    tl.manual_seed(3)
    model = nn.Linear(3, 2)
    ema = optim.EMA(model, decay=0.5)
    opt = optim.SGD(model.parameters(), lr=0.5)
    x, y = tl.randn(5, 3), tl.tensor([0, 1, 0, 1, 1])
    for _ in range(4):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        ema.update()
    averaged = nn.Linear(3, 2)
    ema.copy_to(averaged)
    before = ensemble.predict_probabilities(model, x)
    np.testing.assert_allclose(ensemble.ema_probabilities(ema, model, x),
                               ensemble.predict_probabilities(averaged, x), rtol=1e-6)
    assert not np.allclose(before, ensemble.ema_probabilities(ema, model, x))
    np.testing.assert_array_equal(ensemble.predict_probabilities(model, x), before)


def test_snapshot_schedule_rejects_zero_batches():
    with pytest.raises(ValueError, match="batches_per_epoch must be positive"):
        ensemble.SnapshotSchedule(nn.Linear(2, 2), optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1), 2, 0)
