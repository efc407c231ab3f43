"""The main demo runs end to end (--quick) and prints its tables and plots."""
import json
import math
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import local_files

ROOT = pathlib.Path(__file__).resolve().parents[1]


@local_files.needs_mnist
@local_files.needs_weights
def test_transfer_demo_quick(tmp_path):
    pytest.importorskip("matplotlib")
    done = subprocess.run([sys.executable, str(ROOT / "demos" / "transfer.py"), "--quick", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, MINITL_CACHE=str(tmp_path / "cache")))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "A: split MNIST, test accuracy %" in out and "B: ResNet-20 (CIFAR-10) -> MNIST" in out
    for method in ("scratch", "frozen", "fine-tune"):
        assert f"\n{method}" in out
    for name in ("transfer_accuracy.png", "validation_curves.png", "a_fine_tune_curves.png", "b_fine_tune_curves.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["seeds"] == 1 and results["quick"] is True
    experiments = results["experiments"]
    assert len(experiments) == 2
    a, b = experiments.values()
    assert set(a) == {"scratch", "frozen", "fine-tune", "frozen, usual head", "fine-tune, usual head"}
    assert set(b) == {"scratch", "frozen", "fine-tune", "fine-tune, backbone lr x1", "fine-tune, backbone lr x1/100"}
    for table in experiments.values():
        for cells in table.values():
            for cell in cells.values():  # one seed: no sample std
                assert 0 <= cell["mean"] <= 1 and cell["runs"] == [cell["mean"]] and math.isnan(cell["std"])
                assert cell["lr"] in (1e-3, 3e-3, 1e-2)
    # the curves figure's data: per experiment and k, one validation curve per main method, in percent, one
    # point per epoch (--quick: A trains 2 epochs, B 1), no spread from one seed
    curves = results["validation_curves"]
    assert {name: set(by_k) for name, by_k in curves.items()} == {"A": {"k=5", "k=10"}, "B": {"k=10"}}
    for name, epochs in (("A", 2), ("B", 1)):
        for by_method in curves[name].values():
            assert list(by_method) == ["scratch", "frozen", "fine-tune"]
            for curve in by_method.values():
                assert len(curve["mean"]) == epochs and all(0 <= m <= 100 for m in curve["mean"])
                assert all(math.isnan(s) for s in curve["std"])
    assert not (tmp_path / "cache").exists()  # everything came from the local directories: no download


def test_validation_curves_are_one_series_per_method_in_percent_over_the_seeds():
    sys.path.insert(0, str(ROOT / "demos"))
    try:
        import transfer
    finally:
        sys.path.remove(str(ROOT / "demos"))
    history = lambda *accuracies: [{"epoch": e, "val_accuracy": a} for e, a in enumerate(accuracies, start=1)]
    curves = transfer.validation_curves({"scratch": {5: [history(0.1, 0.1)],
                                                     10: [history(0.2, 0.4), history(0.4, 0.8), history(0.3, 0.6)]},
                                         "frozen": {5: [history(0.1, 0.1)], 10: [history(0.5, 0.5)]}}, k=10)
    assert list(curves) == ["scratch", "frozen"]
    epochs, mean, std = curves["scratch"]
    assert epochs == [1, 2]
    np.testing.assert_allclose(mean, [30, 60])
    np.testing.assert_allclose(std, [10, 20])  # sample std (ddof=1) over the three seeds
    epochs, mean, std = curves["frozen"]
    np.testing.assert_allclose(mean, [50, 50])
    assert np.isnan(std).all()  # one seed: no spread


def run_offline(tmp_path, data_dir, weights_dir):
    """The full demo (not --quick) with downloads impossible: every URL goes to a closed local port."""
    env = dict(os.environ, MINITL_DATA_DIR=str(data_dir), MINITL_WEIGHTS_DIR=str(weights_dir),
               MINITL_CACHE=str(tmp_path / "cache"), http_proxy="http://127.0.0.1:9", https_proxy="http://127.0.0.1:9",
               no_proxy="")
    return subprocess.run([sys.executable, str(ROOT / "demos" / "transfer.py"), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120, env=env)


def test_missing_files_stop_the_demo_before_training_with_one_message(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "weights").mkdir()
    done = run_offline(tmp_path, tmp_path / "data", tmp_path / "weights")
    assert done.returncode != 0
    assert "Traceback" not in done.stderr and "Experiment A" not in done.stdout
    message = done.stderr
    assert "needs 3 file(s) it cannot find or download; nothing was run" in message
    for name in ("mnist/t10k-images-idx3-ubyte.gz", "mnist/t10k-labels-idx1-ubyte.gz", "resnet20-12fca82f.th"):
        assert f"\n  {name}: could not download" in message
    assert f"$MINITL_DATA_DIR={tmp_path / 'data'}" in message and f"$MINITL_WEIGHTS_DIR={tmp_path / 'weights'}" in message
    assert not (tmp_path / "out").exists()


@local_files.needs_mnist
def test_a_missing_checkpoint_is_found_before_experiment_a_runs(tmp_path):
    (tmp_path / "weights").mkdir()
    done = run_offline(tmp_path, local_files.mnist_dir(), tmp_path / "weights")
    assert done.returncode != 0 and "Traceback" not in done.stderr and "Experiment A" not in done.stdout
    assert "needs 1 file(s)" in done.stderr and "\n  resnet20-12fca82f.th: could not download" in done.stderr
    assert "mnist/t10k" not in done.stderr.split("\n")[1]
