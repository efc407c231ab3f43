"""The model zoo: architectures, key names, and the real pretrained CIFAR ResNet against PyTorch."""
import pathlib

import numpy as np
import pytest

import minitl as tl
from minitl import models

from local_files import checkpoint_path, needs_weights

GOLDEN = np.load(pathlib.Path(__file__).parent / "golden" / "models.npz")


def fixed_images():
    return tl.tensor(np.random.default_rng(0).normal(size=(8, 3, 32, 32)), dtype=tl.float64)


@needs_weights
@pytest.mark.parametrize("dtype, tolerance", [(tl.float64, 1e-10), (tl.float32, 1e-5)])
def test_pretrained_resnet20_logits_match_pytorch(dtype, tolerance):
    model = models.resnet20(weights="cifar10").eval()
    if dtype == tl.float64:
        model.double()
    with tl.no_grad():
        logits = model(fixed_images().to(dtype=dtype)).numpy()
    expected = GOLDEN["logits64" if dtype == tl.float64 else "logits32"]
    assert tl.testing.rel_error(logits, expected) < tolerance
    np.testing.assert_array_equal(logits.argmax(1), expected.argmax(1))


@needs_weights
def test_pretrained_resnet32_loads_from_the_registry():
    model = models.resnet32(weights="cifar10")
    assert len(model.layer1) == 5 and model.linear.weight.shape == (10, 64)


@pytest.mark.parametrize("arch, blocks", [("resnet20", 3), ("resnet32", 5), ("resnet44", 7), ("resnet56", 9)])
def test_cifar_resnets_have_akamasters_names_and_sizes(arch, blocks):
    model = getattr(models, arch)(num_classes=7)
    keys = list(model.state_dict())
    assert keys[:6] == ["conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
                        "bn1.num_batches_tracked"]
    assert f"layer3.{blocks - 1}.bn2.running_var" in keys and keys[-2:] == ["linear.weight", "linear.bias"]
    assert model(tl.randn(2, 3, 32, 32)).shape == (2, 7)


def test_torchvision_architectures_have_torchvision_names():
    resnet = models.resnet18(num_classes=5)
    keys = list(resnet.state_dict())
    assert "layer2.0.downsample.0.weight" in keys and "layer2.0.downsample.1.running_mean" in keys
    assert keys[-2:] == ["fc.weight", "fc.bias"] and len(resnet.layer4) == 2
    assert len(models.resnet34().layer3) == 6
    vgg = models.vgg11(num_classes=3)
    assert [k for k in vgg.state_dict() if k.endswith("weight")][-3:] == \
        ["classifier.0.weight", "classifier.3.weight", "classifier.6.weight"]
    assert "features.18.weight" in vgg.state_dict()  # the 8th conv of configuration A
    with tl.no_grad():
        assert resnet.eval()(tl.randn(1, 3, 64, 64)).shape == (1, 5)


def test_lenet5_on_mnist_sized_input():
    model = models.lenet5()
    assert model(tl.randn(2, 1, 28, 28)).shape == (2, 10)


def test_weights_from_a_minitl_npz_and_module_prefixes(tmp_path):
    source = models.lenet5(num_classes=4)
    state = {f"module.{k}": v for k, v in source.state_dict().items()}
    tl.save(state, tmp_path / "lenet.npz")
    loaded = models.lenet5(num_classes=4, weights=tmp_path / "lenet.npz")
    for key, value in source.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[key], value)


def test_failed_load_names_keys_and_leaves_the_model_unchanged(tmp_path):
    source = models.lenet5(num_classes=4).state_dict()
    source.pop("classifier.1.bias")
    source["extra.weight"] = np.zeros(2, dtype=np.float32)
    tl.save(source, tmp_path / "broken.npz")
    model = models.lenet5(num_classes=10)
    before = model.state_dict()
    with pytest.raises(RuntimeError) as failure:
        models.load_weights(model, "lenet5", tmp_path / "broken.npz")
    message = str(failure.value)
    assert "classifier.1.bias" in message and "extra.weight" in message and "classifier.5.weight" in message
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key])


def test_unknown_names_are_explained():
    with pytest.raises(ValueError, match=r"registered for resnet20: \['cifar10'\]"):
        models.resnet20(weights="imagenet")
    with pytest.raises(ValueError, match="unknown architecture 'resnet99'"):
        models.create("resnet99")


def test_convert_command_writes_a_verified_npz(tmp_path, capsys):
    from minitl.__main__ import main

    checkpoint = tmp_path / "lenet.npz"
    tl.save({f"module.{k}": v for k, v in models.lenet5().state_dict().items()}, checkpoint)
    assert main(["convert", str(checkpoint), "-o", str(tmp_path / "out.npz"), "--arch", "lenet5"]) == 0
    printed = capsys.readouterr().out
    assert "stripped" in printed and "61,706 parameters" in printed and "verified" in printed
    assert list(tl.load(tmp_path / "out.npz"))[0] == "features.0.weight"
    assert main(["convert", str(checkpoint), "-o", str(tmp_path / "bad.npz"), "--arch", "resnet20"]) == 1
    assert "Missing key(s)" in capsys.readouterr().err and not (tmp_path / "bad.npz").exists()


@needs_weights
def test_convert_command_on_the_real_checkpoint(tmp_path, capsys):
    from minitl.__main__ import main

    path = checkpoint_path()
    assert main(["convert", str(path), "-o", str(tmp_path / "r20.npz"), "--arch", "resnet20"]) == 0
    assert "269,722 parameters" in capsys.readouterr().out
    assert models.resnet20(weights=tmp_path / "r20.npz").linear.weight.shape == (10, 64)
