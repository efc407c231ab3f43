"""The transfer toolkit (freeze, new head, learning-rate groups, cached features) and the training loop."""
import copy

import numpy as np
import pytest

import minitl as tl
from minitl import models, nn, optim
from minitl.data import DataLoader, TensorDataset
from minitl.lab import transfer
from minitl.lab.train import EarlyStopping, TrainingDiverged, evaluate, fit, plot_history


def batches(n=64, features=6, classes=3, batch_size=16, seed=0):
    """A linearly separable problem as a list of (x, y) batches."""
    centers = np.random.default_rng(100).normal(scale=3.0, size=(classes, features))  # the same task for every seed
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, size=n)
    x = (centers[labels] + rng.normal(size=(n, features))).astype(np.float32)
    return [(tl.tensor(x[i:i + batch_size]), tl.tensor(labels[i:i + batch_size])) for i in range(0, n, batch_size)]


def small_cnn():
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 5))


def test_frozen_batchnorm_stays_in_eval_and_keeps_its_statistics():
    tl.manual_seed(0)
    model = small_cnn()
    transfer.freeze(model)
    head = transfer.replace_head(model, 2)
    model.train()
    assert not model[1].training and model.training and head.training
    before = copy.deepcopy(model.state_dict())  # a snapshot: state_dict values share memory with the model
    opt = optim.SGD(model.parameters(), lr=0.1)
    loss = model(tl.randn(4, 3, 5, 5)).sum()
    opt.zero_grad()
    loss.backward()
    opt.step()
    after = model.state_dict()
    for key in ("0.weight", "1.running_mean", "1.running_var", "1.num_batches_tracked"):
        np.testing.assert_array_equal(after[key], before[key])
    assert model[0].weight.grad is None and head.weight.grad is not None
    assert not np.array_equal(after["5.weight"], before["5.weight"])
    transfer.unfreeze(model)
    model.train()
    assert model[1].training and model[0].weight.requires_grad


def test_freezing_touches_only_batch_norm_layers_and_train_asks_each_child():
    """Module.train is PyTorch's (each child's own train() is called), and only BatchNorm knows `frozen`."""
    class AlwaysEval(nn.Module):
        def train(self, mode=True):
            return super().train(False)

    model = nn.Sequential(small_cnn(), AlwaysEval())
    transfer.freeze(model)
    transfer.unfreeze(model)
    assert [name for name, layer in model.named_modules() if "frozen" in vars(layer)] == ["0.1"]
    model.train()
    assert model.training and model[0][1].training and not model[1].training


def test_replace_head_finds_the_last_linear_layer():
    resnet = models.resnet20()
    head = transfer.replace_head(resnet, 7)
    assert resnet.linear is head and head.weight.shape == (7, 64) and head.weight.requires_grad
    lenet = models.lenet5()
    assert transfer.replace_head(lenet, 3) is lenet.classifier[5]
    assert lenet(tl.randn(2, 1, 28, 28)).shape == (2, 3)
    with pytest.raises(ValueError, match="no Linear layer"):
        transfer.replace_head(nn.Sequential(nn.ReLU()), 2)


def test_discriminative_groups_give_the_backbone_a_tenth():
    model = models.lenet5()
    head = transfer.replace_head(model, 4)
    groups = transfer.discriminative_param_groups(model, head, lr=0.01)
    assert groups[0]["lr"] == pytest.approx(0.001) and groups[1]["lr"] == 0.01
    assert len(groups[1]["params"]) == 2 and len(groups[0]["params"]) == 8
    opt = optim.SGD(groups, lr=0.01)
    assert [g["lr"] for g in opt.param_groups] == [pytest.approx(0.001), 0.01]


def test_extract_features_runs_the_backbone_once_without_the_head():
    tl.manual_seed(0)
    model = small_cnn()
    data = [(tl.randn(3, 3, 5, 5), tl.tensor([0, 1, 2])), (tl.randn(2, 3, 5, 5), tl.tensor([1, 1]))]
    features, labels = transfer.extract_features(model, data)
    assert features.shape == (5, 4) and labels.tolist() == [0, 1, 2, 1, 1]
    with tl.no_grad():
        expected = model.eval()[:5](data[0][0]).numpy()
    np.testing.assert_allclose(features[:3], expected, rtol=1e-6)
    assert isinstance(model[5], nn.Linear)


def test_a_head_trained_on_cached_features_equals_one_trained_through_the_frozen_backbone():
    tl.manual_seed(0)
    model = transfer.freeze(small_cnn())
    head = transfer.replace_head(model, num_classes=3)
    cached_head = nn.Linear(4, 3)
    start = copy.deepcopy(head.state_dict())  # a snapshot: state_dict values share memory with the model
    cached_head.load_state_dict(start)
    rng = np.random.default_rng(0)
    images, labels = rng.normal(size=(24, 3, 5, 5)).astype(np.float32), rng.integers(0, 3, size=24)

    live = DataLoader(TensorDataset(images, labels), batch_size=8, shuffle=True, seed=1)
    fit(model, live, optim.SGD(head.parameters(), lr=0.5, momentum=0.9), epochs=3, progress=False)
    features, _ = transfer.extract_features(model, DataLoader(TensorDataset(images, labels), batch_size=5))
    cached = DataLoader(TensorDataset(features, labels), batch_size=8, shuffle=True, seed=1)  # the same order
    fit(cached_head, cached, optim.SGD(cached_head.parameters(), lr=0.5, momentum=0.9), epochs=3, progress=False)

    assert np.abs(head.state_dict()["weight"] - start["weight"]).max() > 0.01  # the heads did learn
    for name, value in head.state_dict().items():
        np.testing.assert_allclose(cached_head.state_dict()[name], value, rtol=1e-5, atol=1e-6)


def test_fit_learns_and_records_history(tmp_path):
    tl.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    schedule = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    train, val = batches(seed=0), batches(seed=1, n=32)
    history = fit(model, train, opt, epochs=6, val_loader=val, scheduler=schedule,
                  checkpoint=tmp_path / "ckpt.npz", progress=False)
    assert [r["epoch"] for r in history] == [1, 2, 3, 4, 5, 6]
    assert [r["lr"] for r in history] == [0.1, 0.1, 0.05, 0.05, 0.025, 0.025]
    assert history[-1]["loss"] < history[0]["loss"] and history[-1]["accuracy"] >= 0.95
    assert history[-1]["val_accuracy"] >= 0.9 and model.training
    saved = tl.load(tmp_path / "ckpt.npz")["model"]
    np.testing.assert_array_equal(saved["2.bias"], model.state_dict()["2.bias"])
    loss, accuracy = evaluate(model, val)
    assert accuracy == history[-1]["val_accuracy"] and loss == pytest.approx(history[-1]["val_loss"])
    path = plot_history(history, tmp_path / "curves.png", title="test", chance=1 / 3)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_fit_stops_when_the_loss_diverges():
    model = nn.Sequential(nn.Linear(6, 3))
    opt = optim.SGD(model.parameters(), lr=10.0)  # far too high for a squared loss: it doubles every step
    with np.errstate(over="ignore", invalid="ignore"), \
            pytest.raises(TrainingDiverged, match="diverged at epoch .*lower learning rate"):
        fit(model, batches(), opt, epochs=50, loss_fn=lambda out, y: (out * out).mean(), progress=False)


def test_early_stopping_stops_after_patience_epochs_without_gain_and_restores_the_best_epoch():
    model = bn_model()
    stopper = EarlyStopping(patience=2)
    scores = [0.5, 0.7, 0.7, 0.6, 0.9]  # best at epoch 2; epochs 3 and 4 bring nothing (a tie is no gain)
    kept = None
    for epoch, score in enumerate(scores, start=1):
        with tl.no_grad():
            for p in model.parameters():
                p.data += 1.0  # a different model every epoch
        if epoch == 2:
            kept = {name: t.numpy().copy() for name, t in model.state_dict().items()}
        if stopper.step(score, model):
            break
    assert (epoch, stopper.epochs, stopper.best_epoch, stopper.best_score) == (4, 4, 2, 0.7)
    stopper.restore(model)
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), kept[name])  # parameters and BatchNorm's buffers


def test_early_stopping_on_a_loss_and_with_min_delta():
    model = nn.Linear(2, 1)
    stopper = EarlyStopping(patience=1, mode="min", min_delta=0.1)
    assert not stopper.step(1.0, model)
    assert stopper.step(0.95, model)  # lower, but not by more than min_delta: no gain
    assert (stopper.best_epoch, stopper.best_score) == (1, 1.0)
    assert not EarlyStopping(patience=1, mode="min").step(1.0, model)


@pytest.mark.parametrize("options, message", [({"patience": 0}, "patience must be a positive integer"),
                                              ({"patience": 2.0}, "patience must be a positive integer"),
                                              ({"patience": 1, "mode": "best"}, "mode must be 'min' or 'max'"),
                                              ({"patience": 1, "min_delta": -0.1}, "min_delta must be >= 0")])
def test_early_stopping_refuses_bad_settings(options, message):
    with pytest.raises(ValueError, match=message):
        EarlyStopping(**options)


def test_early_stopping_refuses_a_nan_score_and_a_restore_before_any_epoch():
    stopper = EarlyStopping(patience=1)
    with pytest.raises(RuntimeError, match="no epoch was recorded"):
        stopper.restore(nn.Linear(2, 1))
    with pytest.raises(ValueError, match="score after epoch 1 is nan"):
        stopper.step(float("nan"), nn.Linear(2, 1))


# -- training under faults ----------------------------------------------------------------------------
def bn_model():
    tl.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))


def test_empty_loaders_are_named_not_divided_by():
    model = bn_model()
    opt = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="fit: the training loader yielded no batches"):
        fit(model, [], opt, epochs=1, progress=False)
    with pytest.raises(ValueError, match="evaluate: the loader yielded no batches"):
        evaluate(model, [])
    with pytest.raises(ValueError, match="evaluate: the loader yielded no batches"):
        fit(model, batches(), opt, epochs=1, val_loader=[], progress=False)


@pytest.mark.parametrize("bad_value", [np.nan, np.inf])
def test_a_non_finite_input_batch_is_named_and_batchnorm_statistics_are_restored(tmp_path, bad_value):
    model = bn_model()
    opt = optim.SGD(model.parameters(), lr=0.1)
    data = batches()
    fit(model, data, opt, epochs=1, checkpoint=tmp_path / "ckpt.npz", progress=False)
    good = copy.deepcopy(model.state_dict())  # a snapshot: state_dict values share memory with the model
    poisoned = data[:2] + [(tl.tensor(np.where(np.arange(6) == 2, bad_value, data[2][0].numpy()), dtype=tl.float32), data[2][1])]
    with np.errstate(invalid="ignore", over="ignore"), pytest.raises(
            TrainingDiverged, match="the input batch at epoch 1, step 2 is not finite .*check the data"):
        fit(model, poisoned, opt, epochs=1, checkpoint=tmp_path / "ckpt.npz", progress=False)
    state = model.state_dict()
    for name in ("1.running_mean", "1.running_var"):
        assert np.isfinite(state[name]).all(), name
    assert state["1.num_batches_tracked"] == good["1.num_batches_tracked"] + 2  # the two good steps count
    np.testing.assert_array_equal(tl.load(tmp_path / "ckpt.npz")["model"]["1.running_var"], good["1.running_var"])


def test_huge_inputs_that_overflow_the_running_statistics_never_reach_the_checkpoint(tmp_path):
    tl.manual_seed(0)
    model = nn.Sequential(nn.BatchNorm1d(6), nn.Linear(6, 3))  # the loss stays finite: x / sqrt(inf) is 0
    opt = optim.SGD(model.parameters(), lr=0.1)
    data = batches()
    fit(model, data, opt, epochs=1, checkpoint=tmp_path / "ckpt.npz", progress=False)
    saved = tl.load(tmp_path / "ckpt.npz")["model"]
    huge = [(tl.tensor((data[0][0].numpy() * 1e20).astype(np.float32)), data[0][1])]  # squares overflow float32
    with np.errstate(over="ignore", invalid="ignore"), pytest.raises(
            TrainingDiverged, match=r"step 0: 0.running_var became NaN or infinite .*restored"):
        fit(model, huge, opt, epochs=1, checkpoint=tmp_path / "ckpt.npz", progress=False)
    np.testing.assert_array_equal(model.state_dict()["0.running_var"], saved["0.running_var"])
    np.testing.assert_array_equal(tl.load(tmp_path / "ckpt.npz")["model"]["0.running_var"], saved["0.running_var"])


def test_a_nan_validation_loss_or_non_finite_weights_keep_the_last_good_checkpoint(tmp_path):
    model = bn_model()
    opt = optim.SGD(model.parameters(), lr=0.1)
    path = tmp_path / "ckpt.npz"
    fit(model, batches(), opt, epochs=1, checkpoint=path, progress=False)
    saved = tl.load(path)["model"]
    nan_val = [(tl.tensor(np.full((4, 6), np.nan), dtype=tl.float32), tl.tensor(np.zeros(4, np.int64)))]
    with np.errstate(invalid="ignore"), pytest.raises(
            TrainingDiverged, match=f"the validation loss is nan after epoch 1; {path} keeps the last good epoch"):
        fit(model, batches(), opt, epochs=1, val_loader=nan_val, checkpoint=path, progress=False)

    def poison_weights(_grads_ignored=None):  # an optimizer step that leaves an inf in the weights
        model[0].weight.data[0, 0] = np.inf

    opt.step = poison_weights
    with pytest.raises(TrainingDiverged, match=f"after epoch 1, 0.weight hold NaN or inf; not saved: {path} keeps"):
        fit(model, batches()[:1], opt, epochs=1, checkpoint=path, progress=False)
    for name, value in tl.load(path)["model"].items():
        np.testing.assert_array_equal(value, saved[name], err_msg=f"{name}: a later epoch was saved")
