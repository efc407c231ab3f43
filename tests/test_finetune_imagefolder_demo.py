"""demos/finetune_imagefolder.py on a tiny generated image folder.

The ResNet-18 checkpoint is randomly initialised with torchvision's key names;
one variant is written by torch itself (a .pth, as users download them), the
other as a minitl .npz so the demo is also tested where torch is absent.
"""
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import minitl as tl
from minitl import models

ROOT = pathlib.Path(__file__).resolve().parents[1]
DEMO = ROOT / "demos" / "finetune_imagefolder.py"


def write_image_folder(root, per_class):
    """train/ and val/ with two classes: reddish and bluish noisy 40x36 PNGs."""
    image_module = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(0)
    for split, count in per_class.items():
        for label, channel in (("ants", 0), ("bees", 2)):
            folder = root / split / label
            folder.mkdir(parents=True)
            for i in range(count):
                pixels = rng.integers(0, 80, size=(40, 36, 3))
                pixels[..., channel] += 150
                image_module.fromarray(pixels.astype(np.uint8)).save(folder / f"{i}.png")


def write_checkpoint(path, kind):
    """A randomly initialised ResNet-18 state dict, as torch writes torchvision's (num_batches_tracked included)."""
    tl.manual_seed(1)
    state = models.resnet18().state_dict()
    if kind == "npz":
        tl.save(state, path)
        return state
    torch = pytest.importorskip("torch")
    torch.save({key: torch.from_numpy(value.numpy().copy()) for key, value in state.items()}, path)
    return state


def run_demo(*args):
    return subprocess.run([sys.executable, str(DEMO), *map(str, args)], capture_output=True, text=True,
                          timeout=600, env=dict(os.environ, MINITL_CACHE=os.devnull))


@pytest.mark.parametrize("kind", ["pth", "npz"])
def test_both_modes_train_from_a_local_checkpoint(tmp_path, kind):
    pytest.importorskip("matplotlib")
    write_image_folder(tmp_path / "data", {"train": 6, "val": 3})
    checkpoint = tmp_path / f"resnet18.{kind}"
    state = write_checkpoint(checkpoint, kind)
    out = tmp_path / "out"
    done = run_demo(tmp_path / "data", "--weights", checkpoint, "--epochs", 2, "--batch-size", 4,
                    "--image-size", 32, "--out", out)
    assert done.returncode == 0, done.stderr
    assert "features  validation accuracy" in done.stdout and "finetune  validation accuracy" in done.stdout

    results = json.loads((out / "results.json").read_text())
    assert results["classes"] == ["ants", "bees"]
    for mode in ("features", "finetune"):
        assert 0 <= results[mode]["val_accuracy"] <= 1
        assert [record["epoch"] for record in results[mode]["history"]] == [1, 2]
        assert (out / f"{mode}_curves.png").read_bytes()[:4] == b"\x89PNG"
    # the finetune run's StepLR dropped the learning rate after int(0.7 * 2) = 1 epoch
    assert results["finetune"]["history"][1]["lr"] == pytest.approx(1e-4)

    head = tl.load(out / "features.npz")
    assert head["weight"].shape == (2, 512) and head["bias"].shape == (2,)
    tuned = tl.load(out / "finetune.npz")
    assert tuned["fc.weight"].shape == (2, 512)
    # the backbone started from the checkpoint and moved only a little (lr / 10, two epochs)
    start, end = state["conv1.weight"], tuned["conv1.weight"]
    assert not np.array_equal(start, end)
    assert np.linalg.norm(end - start) < 0.05 * np.linalg.norm(start)


def test_missing_val_folder_is_named(tmp_path):
    write_image_folder(tmp_path / "data", {"train": 1})
    done = run_demo(tmp_path / "data", "--weights", tmp_path / "unused.npz")
    assert done.returncode != 0
    assert "train/ and val/" in done.stderr and "missing: val" in done.stderr


def test_help_shows_the_defaults_and_what_the_demo_needs():
    done = run_demo("--help")
    assert done.returncode == 0
    words = " ".join(done.stdout.split())  # argparse wraps lines at the terminal's width
    for text in ("(default: imagenet)", "(default: 10)", "(default: 0.001)", "Pillow", "MINITL_WEIGHTS_DIR"):
        assert text in words


def test_a_checkpoint_of_another_architecture_is_named_without_a_traceback(tmp_path):
    write_image_folder(tmp_path / "data", {"train": 1, "val": 1})
    checkpoint = tmp_path / "resnet20.npz"
    tl.save(models.resnet20().state_dict(), checkpoint)
    done = run_demo(tmp_path / "data", "--weights", checkpoint, "--out", tmp_path / "out")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert done.stderr.strip() == (f"--weights {checkpoint}: cannot load it into torchvision's ResNet-18 (resnet18): "
                                   "its parameter names or shapes are not ResNet-18's (a checkpoint of another "
                                   "architecture?)")
    assert not (tmp_path / "out").exists()  # no empty output folder left behind
