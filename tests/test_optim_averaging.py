"""EMA / Polyak averaging of parameters and snapshot ensembles."""
import numpy as np
import pytest

import minitl as tl
from minitl.optim import EMA, SGD, PolyakAverage, SnapshotEnsemble
from minitl.optim.lr_scheduler import CosineAnnealingWarmRestarts, StepLR


def param(values):
    return tl.tensor(values, dtype=tl.float64, requires_grad=True)


class TinyModel:
    """Anything with .parameters() counts as a model."""

    def __init__(self):
        self.w, self.b = param([1.0, 2.0]), param([0.5])

    def parameters(self):
        return iter([self.w, self.b])


def test_ema_follows_the_hand_computed_average():
    w = param([0.0, 8.0])
    ema = EMA([w], decay=0.75)
    for values in ([4.0, 8.0], [4.0, 0.0], [-4.0, 4.0]):
        w.data[...] = values
        ema.update()
    # average = 0.75 * average + 0.25 * w, starting from w's value at creation:
    # [0, 8] -> [1, 8] -> [1.75, 6] -> [0.3125, 5.5]
    np.testing.assert_array_equal(ema.averaged[0], [0.3125, 5.5])
    assert ema.num_updates == 3


def test_polyak_average_is_the_mean_of_the_updates():
    w = param([100.0])
    avg = PolyakAverage([w])
    for value in (1.0, 2.0, 6.0):
        w.data[...] = value
        avg.update()
    np.testing.assert_array_equal(avg.averaged[0], [3.0])  # the value at creation does not count


def test_average_parameters_swaps_in_and_restores_exactly():
    model = TinyModel()
    ema = EMA(model, decay=0.5)
    model.w.data[...] = [1.0 / 3.0, np.pi]
    ema.update()
    trained = model.w.data.copy()
    array_before = model.w.data
    with ema.average_parameters():
        np.testing.assert_array_equal(model.w.data, ema.averaged[0])
        assert not np.array_equal(model.w.data, trained)
    np.testing.assert_array_equal(model.w.data, trained)
    assert model.w.data is array_before  # written in place: references to the parameter stay valid


def test_average_parameters_restores_after_an_exception():
    w = param([1.0])
    ema = EMA([w], decay=0.0)
    w.data[...] = 5.0
    with pytest.raises(KeyError):
        with ema.average_parameters():
            w.data[...] = 123.0
            raise KeyError("evaluation failed")
    assert w.data[0] == 5.0


def test_copy_to_writes_the_average_into_other_parameters():
    w = param([2.0, 4.0])
    ema = EMA([w], decay=0.5)
    w.data[...] = [4.0, 0.0]
    ema.update()
    target = param([0.0, 0.0])
    ema.copy_to([target])
    np.testing.assert_array_equal(target.data, [3.0, 2.0])
    with pytest.raises(ValueError, match="shape"):
        ema.copy_to([param([1.0])])


def test_ema_of_a_training_run_is_smoother_than_the_iterates():
    """SGD on a noisy quadratic: the EMA sits closer to the minimum than the last iterate."""
    rng = np.random.default_rng(0)
    w = param(np.full(50, 3.0))
    opt = SGD([w], lr=0.1)
    ema = EMA([w], decay=0.99)
    for _ in range(400):
        w.grad = tl.tensor(w.data + rng.normal(size=50), dtype=tl.float64)  # gradient of |w|^2 / 2, plus noise
        opt.step()
        ema.update()
    assert np.linalg.norm(ema.averaged[0]) < 0.5 * np.linalg.norm(w.data)


def test_state_dict_round_trip():
    w = param([1.0, 2.0])
    ema = EMA([w], decay=0.9)
    w.data[...] = 0.0
    ema.update()
    other = EMA([param([7.0, 7.0])], decay=0.9)
    other.load_state_dict(ema.state_dict())
    np.testing.assert_array_equal(other.averaged[0], ema.averaged[0])
    assert other.num_updates == 1


def test_bad_arguments_fail_clearly():
    with pytest.raises(ValueError, match="decay=1.5"):
        EMA([param([1.0])], decay=1.5)
    with pytest.raises(ValueError, match="no parameters"):
        EMA([])
    with pytest.raises(TypeError, match="list"):
        PolyakAverage([[1.0]])


# -- snapshot ensembles -------------------------------------------------------------------------------
def test_snapshots_are_taken_at_the_end_of_each_cycle():
    w = param([0.0])
    opt = SGD([w], lr=0.1)
    sched = CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=2)
    snapshots = SnapshotEnsemble([w], sched)
    taken_at = []
    for epoch in range(1, 22):
        w.data[...] = epoch  # stands for training
        sched.step()
        if snapshots.step():
            taken_at.append(epoch)
    assert taken_at == [3, 9, 21]  # cycles of 3, 6 and 12 epochs
    assert [s[0][0] for s in snapshots.snapshots] == [3.0, 9.0, 21.0]


def test_cycle_ends_are_found_with_fractional_epochs_too():
    w = param([0.0])
    sched = CosineAnnealingWarmRestarts(SGD([w], lr=0.1), T_0=2)
    snapshots = SnapshotEnsemble([w], sched)
    ends = []
    for i in range(1, 25):
        sched.step(i / 4)  # four scheduler steps per epoch
        if snapshots.cycle_ended():
            ends.append(i / 4)
    assert ends == [2.0, 4.0, 6.0]


def test_predict_averages_a_callable_over_the_snapshots_and_restores():
    w = param([0.0])
    snapshots = SnapshotEnsemble([w], CosineAnnealingWarmRestarts(SGD([w]), T_0=1))
    for value in (1.0, 2.0, 6.0):
        w.data[...] = value
        snapshots.snapshot()
    w.data[...] = -1.0
    x = tl.tensor([2.0, 10.0], dtype=tl.float64)
    prediction = snapshots.predict(lambda inputs: w * inputs, x)
    np.testing.assert_array_equal(prediction.data, [6.0, 30.0])  # mean weight 3
    assert snapshots.predict(lambda: float(w.data[0]) ** 2) == pytest.approx((1 + 4 + 36) / 3)
    assert w.data[0] == -1.0


def test_max_snapshots_keeps_the_newest():
    w = param([0.0])
    snapshots = SnapshotEnsemble([w], CosineAnnealingWarmRestarts(SGD([w]), T_0=1), max_snapshots=2)
    for value in (1.0, 2.0, 3.0):
        w.data[...] = value
        snapshots.snapshot()
    assert [s[0][0] for s in snapshots.snapshots] == [2.0, 3.0]


def test_snapshot_ensemble_errors():
    w = param([0.0])
    with pytest.raises(TypeError, match="warm-restart scheduler"):
        SnapshotEnsemble([w], StepLR(SGD([w]), step_size=2))
    with pytest.raises(RuntimeError, match="no snapshot"):
        SnapshotEnsemble([w], CosineAnnealingWarmRestarts(SGD([w]), T_0=2)).predict(lambda: 1.0)
