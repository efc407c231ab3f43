"""Transfer beyond freeze-and-retrain: partial unfreezing, features of any layer, FC -> conv, ModuleDict,
multi-task heads, the backdoor stamp and PCA."""
import copy

import numpy as np
import pytest

import minitl as tl
from minitl import models, nn, optim
from minitl.lab import backdoor, multitask, transfer
from minitl.lab.pca import pca
from minitl.nn import functional as F


def sgd_step(model, x, loss_of=lambda out: (out ** 2).mean()):
    model.train()
    opt = optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    loss = loss_of(model(x))
    opt.zero_grad()
    loss.backward()
    opt.step()


# -- unfreeze_last --------------------------------------------------------------------------------
@pytest.mark.parametrize("n, trained", [(0, ("linear",)), (1, ("layer3", "linear")),
                                        (2, ("layer2", "layer3", "linear")),
                                        (5, ("conv1", "bn1", "layer1", "layer2", "layer3", "linear"))])
def test_unfreeze_last_trains_exactly_the_last_stages_and_keeps_frozen_batchnorm_statistics(n, trained):
    tl.manual_seed(0)
    model = models.resnet20()
    assert [name for name, _ in model.named_children()][:5] == ["conv1", "bn1", "layer1", "layer2", "layer3"]
    assert transfer.default_stages(model) == [model.conv1, model.bn1, model.layer1, model.layer2, model.layer3]
    trainable = transfer.unfreeze_last(model, n)
    assert trainable[-1] is model.linear and len(trainable) == n + 1
    before = copy.deepcopy(model.state_dict())  # a snapshot: state_dict values share memory with the model
    sgd_step(model, tl.randn(4, 3, 16, 16))
    after = model.state_dict()
    for name, param in model.named_parameters():
        chosen = name.startswith(trained)
        assert param.requires_grad == chosen and (param.grad is not None) == chosen, name
        assert (not np.array_equal(after[name], before[name])) == chosen, name
    for name in after:  # running statistics change exactly where BatchNorm is trainable
        if "running_" in name or "num_batches_tracked" in name:
            assert (not np.array_equal(after[name], before[name])) == name.startswith(trained), name
    for layer in model.modules():
        if isinstance(layer, nn.BatchNorm2d):
            assert layer.training == any(layer is m for stage in trainable for m in stage.modules())


def test_unfreeze_last_takes_explicit_stages_and_checks_n():
    model = models.lenet5()
    convs_and_fcs = [model.features[0], model.features[3], model.classifier[1], model.classifier[3]]
    trainable = transfer.unfreeze_last(model, 1, stages=convs_and_fcs)
    assert trainable == [model.classifier[3], model.classifier[5]]
    assert [name for name, p in model.named_parameters() if p.requires_grad] == [
        "classifier.3.weight", "classifier.3.bias", "classifier.5.weight", "classifier.5.bias"]
    with pytest.raises(ValueError, match="from 0 to the number of stages \\(4\\), got 5"):
        transfer.unfreeze_last(model, 5, stages=convs_and_fcs)


# -- extract_features ------------------------------------------------------------------------------
def test_extract_features_of_an_intermediate_layer():
    tl.manual_seed(0)
    model = models.resnet20()
    model.train()
    x, y = tl.randn(5, 3, 16, 16), tl.tensor(np.arange(5))
    batches = [(x[:3], y[:3]), (x[3:], y[3:])]
    features, labels = transfer.extract_features(model, batches, layer="layer2")
    model.eval()
    with tl.no_grad():
        expected = model.layer2(model.layer1(F.relu(model.bn1(model.conv1(x)))))
        pooled = F.adaptive_avg_pool2d(expected, 2)
        head_input = F.adaptive_avg_pool2d(model.layer3(expected), 1)
    # float32 in batches of 3 and 2 against one batch of 5: BLAS sums in another order for another
    # matrix size (up to 2.3e-5 apart on values up to 53 with NumPy 2.4's OpenBLAS), so within 1e-6 of the scale
    expected = expected.flatten(1).numpy()
    np.testing.assert_allclose(features, expected, rtol=1e-5, atol=1e-6 * np.abs(expected).max())
    np.testing.assert_array_equal(labels, np.arange(5))
    pooled_features, _ = transfer.extract_features(model, batches, layer="layer2", pool=2)
    pooled = pooled.flatten(1).numpy()
    np.testing.assert_allclose(pooled_features, pooled, rtol=1e-5, atol=1e-6 * np.abs(pooled).max())
    head_features, _ = transfer.extract_features(model, batches)  # default: the head's input
    np.testing.assert_allclose(head_features, head_input.flatten(1).numpy(), rtol=1e-5, atol=1e-6)
    assert isinstance(model.layer2, nn.Sequential) and isinstance(model.linear, nn.Linear)  # restored
    with pytest.raises(KeyError, match="no submodule 'layer9'"):
        transfer.extract_features(model, batches, layer="layer9")


# -- fc_to_conv --------------------------------------------------------------------------------
def windows_scored_alone(model, image, size, stride):
    """The original model applied to every size x size window of `image` at `stride`: (classes, rows, cols)."""
    rows, cols = (image.shape[-2] - size) // stride + 1, (image.shape[-1] - size) // stride + 1
    crops = [image[:, :, i * stride:i * stride + size, j * stride:j * stride + size]
             for i in range(rows) for j in range(cols)]
    with tl.no_grad():
        scores = model(tl.tensor(np.concatenate(crops))).numpy()
    return scores.T.reshape(-1, rows, cols)


def unpadded_net():
    """A chain without padding: conv 5x5 - pool 2 - conv 3x3 - pool 2 - FC - FC (total stride 4 on 20x20)."""
    return nn.Sequential(nn.Conv2d(2, 4, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 6, 3), nn.Tanh(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(6 * 3 * 3, 12), nn.ReLU(), nn.Dropout(0.5),
                         nn.Linear(12, 3))


def test_fc_to_conv_scores_every_window_as_the_original_net():
    tl.manual_seed(0)
    model = unpadded_net().eval()
    converted = transfer.fc_to_conv(model, (2, 20, 20))
    x = tl.randn(3, 2, 20, 20)
    with tl.no_grad():
        same_size = converted(x)
        assert same_size.shape == (3, 3, 1, 1)
        np.testing.assert_allclose(same_size.flatten(1).numpy(), model(x).numpy(), atol=1e-5, rtol=0)
        large = np.random.default_rng(1).standard_normal((1, 2, 36, 44)).astype(np.float32)
        score_map = converted(tl.tensor(large)).numpy()[0]
    assert score_map.shape == (3, 5, 7)  # (36 - 20) / 4 + 1, (44 - 20) / 4 + 1
    np.testing.assert_allclose(score_map, windows_scored_alone(model, large, 20, 4), atol=1e-5, rtol=0)


def test_fc_to_conv_on_lenet_matches_where_the_padding_is_zero_and_leaves_the_model_alone():
    tl.manual_seed(0)
    model = models.lenet5()
    before = copy.deepcopy(model.state_dict())  # a snapshot: state_dict values share memory with the model
    converted = transfer.fc_to_conv(model, (1, 28, 28))
    assert model.training and converted.training and isinstance(model.classifier[1], nn.Linear)
    assert all(np.array_equal(value, before[key]) for key, value in model.state_dict().items())
    converted.eval()
    model.eval()
    # A canvas of 2 x 3 tiles of 28x28 whose outer 2 pixels are zero: a window on a tile (every 7th score,
    # 28 / stride 4) sees zeros where LeNet's first conv pads, so it is scored exactly as the tile alone.
    tiles = np.zeros((1, 1, 56, 84), np.float32)
    content = np.random.default_rng(2).random((2, 3, 24, 24)).astype(np.float32)
    for a in range(2):
        for b in range(3):
            tiles[0, 0, 28 * a + 2:28 * a + 26, 28 * b + 2:28 * b + 26] = content[a, b]
    with tl.no_grad():
        score_map = converted(tl.tensor(tiles)).numpy()[0]
    assert score_map.shape == (10, 8, 15)
    alone = windows_scored_alone(model, tiles, 28, 28)
    np.testing.assert_allclose(score_map[:, ::7, ::7], alone, atol=1e-5, rtol=0)


def test_fc_to_conv_refuses_a_model_that_is_not_a_chain():
    with pytest.raises(ValueError, match="CifarResNet's forward is not the chain of its layers"):
        transfer.fc_to_conv(models.resnet20(), (3, 32, 32))
    with pytest.raises(ValueError, match="cannot convert BatchNorm1d after Flatten"):
        transfer.fc_to_conv(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.BatchNorm1d(8), nn.Linear(8, 2)),
                            (1, 4, 4))


# -- ModuleDict --------------------------------------------------------------------------------
class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = nn.Linear(4, 3)
        self.heads = nn.ModuleDict({"b": nn.Linear(3, 2), "a": nn.Sequential(nn.ReLU(), nn.Linear(3, 1))})
        self.heads["norm"] = nn.BatchNorm1d(3)

    def forward(self, x):
        return self.heads["b"](self.trunk(x))


TWO_HEADS_KEYS = ["trunk.weight", "trunk.bias", "heads.b.weight", "heads.b.bias", "heads.a.1.weight", "heads.a.1.bias",
                  "heads.norm.weight", "heads.norm.bias", "heads.norm.running_mean", "heads.norm.running_var",
                  "heads.norm.num_batches_tracked"]


def test_module_dict_behaves_as_an_ordered_dict_of_registered_modules():
    model = TwoHeads()
    heads = model.heads
    assert list(heads) == list(heads.keys()) == ["b", "a", "norm"] and len(heads) == 3
    assert "a" in heads and "c" not in heads and heads["b"] is list(heads.values())[0]
    assert [key for key, _ in heads.items()] == ["b", "a", "norm"]
    assert list(model.state_dict()) == TWO_HEADS_KEYS
    replacement = nn.Linear(3, 5)
    heads["b"] = replacement  # replacing keeps the place
    assert list(heads) == ["b", "a", "norm"] and heads["b"] is replacement
    del heads["a"]
    assert list(heads) == ["b", "norm"] and not any(k.startswith("heads.a") for k in model.state_dict())
    heads.update([("c", nn.Identity())])
    heads.update({"d": nn.ReLU()})
    assert list(heads) == ["b", "norm", "c", "d"] and isinstance(heads.pop("c"), nn.Identity)
    heads.clear()
    assert len(heads) == 0 and list(model.parameters()) == list(model.trunk.parameters())
    with pytest.raises(KeyError):
        heads["missing"]
    with pytest.raises(KeyError, match="without '.'"):
        heads["a.b"] = nn.ReLU()
    with pytest.raises(KeyError, match="attribute 'keys' already exists"):
        heads["keys"] = nn.ReLU()
    with pytest.raises(TypeError, match="must be an nn.Module"):
        heads["x"] = 3
    with pytest.raises(TypeError, match="mapping or an iterable of \\(key, module\\) pairs"):
        heads.update(5)
    with pytest.raises(ValueError, match="element #0 should be a \\(key, module\\) pair"):
        heads.update([("x", nn.ReLU(), 1)])


@pytest.mark.torch
def test_module_dict_state_dict_keys_match_pytorch():
    torch = pytest.importorskip("torch")

    class TorchTwoHeads(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.trunk = torch.nn.Linear(4, 3)
            self.heads = torch.nn.ModuleDict({"b": torch.nn.Linear(3, 2),
                                              "a": torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Linear(3, 1))})
            self.heads["norm"] = torch.nn.BatchNorm1d(3)

    theirs = TorchTwoHeads().state_dict()
    assert list(theirs) == TWO_HEADS_KEYS
    assert {k: tuple(v.shape) for k, v in theirs.items()} == {k: v.shape for k, v in TwoHeads().state_dict().items()}
    TwoHeads().load_state_dict({k: v.numpy() for k, v in theirs.items()})


# -- multi-task ----------------------------------------------------------------------------------
def test_each_head_gets_only_its_own_task_gradient():
    tl.manual_seed(0)
    model = multitask.MultiTaskNet(nn.Sequential(nn.Linear(5, 8), nn.ReLU()),
                                   {"digit": nn.Linear(8, 10), "parity": nn.Linear(8, 2), "big": nn.Linear(8, 2)})
    x = tl.randn(6, 5, dtype=np.float64)
    model.double()
    digits = np.array([0, 3, 5, 7, 8, 9])
    targets = {"digit": tl.tensor(digits), "parity": tl.tensor(digits % 2), "big": tl.tensor((digits > 4) * 1)}
    weights = {"digit": 1.0, "parity": 0.5, "big": 2.0}

    def gradients(tasks):
        model.zero_grad()
        outputs = model(x)
        total, losses = multitask.weighted_loss({t: outputs[t] for t in tasks}, {t: targets[t] for t in tasks},
                                                {t: weights[t] for t in tasks})
        assert set(losses) == set(tasks)
        total.backward()
        return {name: None if p.grad is None else p.grad.numpy().copy() for name, p in model.named_parameters()}

    together = gradients(weights)
    alone = {task: gradients([task]) for task in weights}
    for task in weights:
        for name, grad in alone[task].items():
            if name.startswith("heads.") and not name.startswith(f"heads.{task}."):
                assert grad is None, (task, name)  # another head: untouched by this task's loss
        for name in (f"heads.{task}.weight", f"heads.{task}.bias"):
            np.testing.assert_allclose(together[name], alone[task][name], rtol=1e-12)  # its own (weighted) loss only
    for name in ("backbone.0.weight", "backbone.0.bias"):  # the backbone: every task's weighted loss, summed
        np.testing.assert_allclose(together[name], sum(alone[task][name] for task in weights), rtol=1e-10)


def test_weighted_loss_checks_the_task_names():
    outputs = {"a": tl.zeros(2, 3), "b": tl.zeros(2, 2)}
    targets = {"a": tl.tensor([0, 1]), "b": tl.tensor([1, 1])}
    total, losses = multitask.weighted_loss(outputs, targets, {"a": 2.0, "b": 1.0})
    np.testing.assert_allclose(total.item(), 3 * np.log(3) * 2 / 3 + np.log(2), rtol=1e-6)
    with pytest.raises(KeyError, match="targets for \\['a'\\]"):
        multitask.weighted_loss(outputs, {"a": targets["a"]})
    with pytest.raises(KeyError, match="weights are for tasks \\['a'\\]"):
        multitask.weighted_loss(outputs, targets, {"a": 1.0})


# -- backdoor ------------------------------------------------------------------------------------
def test_stamp_writes_the_patch_exactly_where_it_says():
    images = np.random.default_rng(0).random((4, 3, 10, 12)).astype(np.float32)
    original = images.copy()
    patch = np.arange(6, dtype=np.float32).reshape(2, 3) + 10
    assert backdoor.trigger_position(images.shape, patch.shape) == (7, 8)  # 1 pixel from the bottom-right corner
    stamped = backdoor.stamp(images, patch)
    np.testing.assert_array_equal(images, original)  # a copy
    expected = original.copy()
    expected[:, :, 7:9, 8:11] = patch
    np.testing.assert_array_equal(stamped, expected)
    at = backdoor.stamp(images, patch, position=(0, 1))
    np.testing.assert_array_equal(at[:, :, 0:2, 1:4], np.broadcast_to(patch, (4, 3, 2, 3)))
    np.testing.assert_array_equal(np.delete(np.delete(at, [0, 1], axis=2), [1, 2, 3], axis=3),
                                  np.delete(np.delete(original, [0, 1], axis=2), [1, 2, 3], axis=3))
    with pytest.raises(ValueError, match="does not fit"):
        backdoor.stamp(images, patch, position=(9, 0))


def test_poison_stamps_and_relabels_the_chosen_fraction():
    images, labels = np.zeros((20, 1, 8, 8), np.float32), np.arange(20) % 5
    stamped, relabelled, poisoned = backdoor.poison(images, labels, np.ones((2, 2)), 0.25, target=3,
                                                    rng=np.random.default_rng(0))
    assert len(poisoned) == 5 and len(set(poisoned)) == 5
    assert (relabelled[poisoned] == 3).all() and (np.delete(relabelled, poisoned) == np.delete(labels, poisoned)).all()
    assert (stamped[poisoned, 0, 5:7, 5:7] == 1).all() and stamped.sum() == 5 * 4
    assert images.sum() == 0 and (labels == np.arange(20) % 5).all()


# -- PCA ----------------------------------------------------------------------------------------
def test_pca_finds_the_directions_of_largest_variance():
    rng = np.random.default_rng(0)
    data = rng.standard_normal((500, 3)) * [5.0, 2.0, 0.1] @ np.linalg.qr(rng.standard_normal((3, 3)))[0] + 7
    projections, ratio = pca(data, 2)
    eigenvalues = np.sort(np.linalg.eigvalsh(np.cov(data.T)))[::-1]
    np.testing.assert_allclose(projections.var(axis=0, ddof=1), eigenvalues[:2], rtol=1e-10)
    np.testing.assert_allclose(ratio, eigenvalues[:2] / eigenvalues.sum(), rtol=1e-10)
    assert abs(np.corrcoef(projections.T)[0, 1]) < 1e-10
    with pytest.raises(ValueError, match="n_components=4"):
        pca(data, 4)
