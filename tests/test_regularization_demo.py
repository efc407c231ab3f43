"""The regularization lab runs end to end (--quick): its table, plots and results.json."""
import json
import os
import pathlib
import subprocess
import sys

import pytest

from local_files import MNIST_SKIP, mnist_dir

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_regularization_demo_quick(tmp_path):
    if mnist_dir() is None:
        pytest.skip(MNIST_SKIP)
    pytest.importorskip("matplotlib")
    done = subprocess.run([sys.executable, str(ROOT / "demos" / "regularization.py"), "--quick", "--out",
                           str(tmp_path)], capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, MINITL_CACHE=str(tmp_path / "cache")))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "train acc %" in out and "test acc %" in out and "gap" in out and "CPU s" in out
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["quick"] is True and results["seeds"] == 1
    for method, entry in results["methods"].items():
        assert f"\n{method} " in out
        assert entry["lr"] in results["lr_grid"]
        (run,) = entry["runs"]
        assert 0 <= run["test"] <= 1 and 0 <= run["train"] <= 1
        assert run["gap"] == pytest.approx(run["train"] - run["test"])
    assert {"none", "dropout", "ensemble of 5", "snapshot ensemble", "CNN, fractional max pool",
            "ResNet, stochastic depth"} <= set(results["methods"])
    check = results["dropout_check"]
    # Inverted dropout keeps the mean activation; without the rescaling training sees (1 - p) of it (both measured
    # from drawn masks, so equal up to the draw's noise, never exactly).
    assert check["inverted"]["train"] == pytest.approx(check["inverted"]["eval"], rel=0.05)
    assert check["not rescaled"]["train"] == pytest.approx(0.5 * check["not rescaled"]["eval"], rel=0.05)
    assert check["not rescaled"]["train"] != 0.5 * check["inverted"]["train"]
    # the ensemble's members are the plain MLP's runs: a panel for it would repeat "none"
    assert "ensemble of 5" not in results["curves_seed0"] and "none" in results["curves_seed0"]
    for name in ("curves.png", "accuracy_gap.png", "dropout_check.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    assert not (tmp_path / "cache").exists()  # the data came from MINITL_DATA_DIR: no download
