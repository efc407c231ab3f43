"""demos/training_dynamics.py runs end to end (--quick): its five tables, plots and results.json."""
import json
import os
import pathlib
import subprocess
import sys

import pytest

from local_files import MNIST_SKIP, mnist_dir

ROOT = pathlib.Path(__file__).resolve().parents[1]


def needs_mnist():
    if mnist_dir() is None:
        pytest.skip(MNIST_SKIP)
    pytest.importorskip("matplotlib")


def run_demo(name, out):
    done = subprocess.run([sys.executable, str(ROOT / "demos" / name), "--quick", "--out", str(out)],
                          capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, MINITL_CACHE=str(out / "cache")))
    assert done.returncode == 0, done.stderr
    assert not (out / "cache").exists()  # MNIST came from the local directory: no download
    return done.stdout, json.loads((out / "results.json").read_text())


def test_training_dynamics_demo_quick(tmp_path):
    needs_mnist()
    out, results = run_demo("training_dynamics.py", tmp_path)
    for title in ("(a) std of each layer's activations", "(b) 10-layer ReLU MLP", "(c) MLP 784-100-10",
                  "(d) MLP 784-100-10", "(e) update/weight ratio", "recording cost"):
        assert title in out
    stds = results["activations"]
    assert len(stds) == 8 and all(len(layers) == 10 for layers in stds.values())
    assert stds["tanh std 0.01"][-1] < 1e-3 < stds["tanh Xavier"][-1]  # vanishing vs healthy
    assert stds["relu std 1.0"][-1] > 1e3 * stds["relu He"][-1]  # exploding vs healthy
    assert all(run["diverged_at"] is not None for run in results["learning_rates"]["divergent"])  # caught, shown
    assert set(results["preprocessing"]) == {"raw", "centred", "standardised"}
    assert set(results["schedules"]) == {"constant", "step decay", "cosine"}
    ratios = results["update_ratios"]
    assert ratios["too low"]["median_update_ratio"]["0.weight"] < ratios["good"]["median_update_ratio"]["0.weight"]
    assert set(results["recording_cost"]) == {"off", "every 10th step", "every step"}
    for name in results["pictures"]:
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    assert {"a_activations_tanh.png", "a_activations_relu.png", "b_learning_rates.png", "c_preprocessing.png",
            "d_schedules.png"} <= set(results["pictures"])
