"""The main demo runs end to end (--quick) and prints its tables and plots."""
import json
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_transfer_demo_quick(tmp_path):
    data, weights = os.environ.get("MINITL_DATA_DIR"), os.environ.get("MINITL_WEIGHTS_DIR")
    if not (data and (pathlib.Path(data) / "mnist" / "t10k-images-idx3-ubyte.gz").exists()
            and weights and (pathlib.Path(weights) / "resnet20-12fca82f.th").exists()):
        pytest.skip("needs MINITL_DATA_DIR (mnist/) and MINITL_WEIGHTS_DIR (resnet20) — CI uses ../shared")
    pytest.importorskip("matplotlib")
    done = subprocess.run([sys.executable, str(ROOT / "demos" / "transfer.py"), "--quick", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, MINITL_CACHE=str(tmp_path / "cache")))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "A: split MNIST, test accuracy %" in out and "B: ResNet-20 (CIFAR-10) -> MNIST" in out
    for method in ("scratch", "frozen", "fine-tune"):
        assert f"\n{method}" in out
    for name in ("transfer_accuracy.png", "a_fine_tune_curves.png", "b_fine_tune_curves.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["seeds"] == 1 and results["quick"] is True
    experiments = results["experiments"]
    assert len(experiments) == 2
    for table in experiments.values():
        assert set(table) == {"scratch", "frozen", "fine-tune"}
        for cells in table.values():
            for cell in cells.values():
                assert 0 <= cell["mean"] <= 1 and cell["runs"] == [cell["mean"]] and cell["std"] == 0
                assert cell["lr"] in (1e-3, 3e-3, 1e-2)
    assert not (tmp_path / "cache").exists()  # everything came from the local directories: no download
