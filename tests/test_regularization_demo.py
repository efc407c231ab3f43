"""The regularization lab runs end to end (--quick, and --quick --long): its table, plots and results.json."""
import json
import os
import pathlib
import subprocess
import sys

import pytest

from local_files import MNIST_SKIP, mnist_dir

ROOT = pathlib.Path(__file__).resolve().parents[1]
LONG_ROWS = ["none", "L2, coupled (Adam)", "decoupled (AdamW)", "dropout", "DropConnect", "early stopping"]


def run_demo(tmp_path, *flags):
    if mnist_dir() is None:
        pytest.skip(MNIST_SKIP)
    pytest.importorskip("matplotlib")
    done = subprocess.run([sys.executable, str(ROOT / "demos" / "regularization.py"), "--quick", *flags, "--out",
                           str(tmp_path)], capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, MINITL_CACHE=str(tmp_path / "cache")))
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "cache").exists()  # the data came from MINITL_DATA_DIR: no download
    for name in ("curves.png", "accuracy_gap.png", "dropout_check.png", "tuning.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    return done.stdout, json.loads((tmp_path / "results.json").read_text())


def check_rows(out, results):
    """Every row: in the table, its lr and strength from their grids (chosen jointly), its numbers consistent."""
    assert all(column in out for column in ("train acc %", "test acc %", "gap", "epochs", "CPU s", "strength"))
    assert results["quick"] is True and results["seeds"] == 1
    for method, entry in results["methods"].items():
        assert f"\n{method} " in out
        assert entry["lr"] in results["lr_grid"]
        (run,) = entry["runs"]
        assert 0 <= run["test"] <= 1 and 0 <= run["train"] <= 1
        assert run["gap"] == pytest.approx(run["train"] - run["test"])
        assert 1 <= run["best_epoch"] <= run["epochs"] <= results["epochs"]
        if entry["tuning"] is not None:
            strengths = {trial["strength"] for trial in entry["tuning"]}
            assert len(entry["tuning"]) == len(results["lr_grid"]) * len(strengths)
            best = max(entry["tuning"], key=lambda trial: trial["val"])
            assert best["val"] == max(t["val"] for t in entry["tuning"] if (t["lr"], t["strength"])
                                      == (entry["lr"], entry["strength"]))
    assert "lr chosen over" in out


def check_dropout(results):
    check = results["dropout_check"]
    # Inverted dropout keeps the mean activation; without the rescaling training sees (1 - p) of it. Both are
    # measured on trained networks (the masks drawn), so equal up to the draw's noise, never exactly.
    assert check["inverted"]["train"] == pytest.approx(check["inverted"]["eval"], rel=0.02)
    assert check["not rescaled"]["train"] == pytest.approx((1 - check["p"]) * check["not rescaled"]["eval"], rel=0.02)
    assert check["not rescaled"]["train"] != (1 - check["p"]) * check["not rescaled"]["eval"]
    test = check["test"]
    assert set(test) == {"inverted", "not rescaled", "not rescaled, x (1 - p) at test"}
    # the not-rescaled network was trained for real: a network of its own, not the inverted one rescaled
    assert test["not rescaled"]["loss"] != test["inverted"]["loss"]
    assert test["not rescaled"]["loss"] != test["not rescaled, x (1 - p) at test"]["loss"]


def test_regularization_demo_quick(tmp_path):
    out, results = run_demo(tmp_path)
    check_rows(out, results)
    methods = results["methods"]
    assert {"none", "L2, coupled (Adam)", "decoupled (AdamW)", "dropout", "early stopping", "MLP ensemble of 5",
            "snapshot ensemble", "CNN, max pooling", "CNN ensemble of 5", "CNN, fractional max pool",
            "ResNet, stochastic depth"} <= set(methods)
    # an ensemble takes its members' lr; its first member is the single network of the same seed, so a curves
    # panel for it would repeat that network's
    for ensemble, single in (("MLP ensemble of 5", "none"), ("CNN ensemble of 5", "CNN, max pooling")):
        assert (methods[ensemble]["lr"], methods[ensemble]["tuning"]) == (methods[single]["lr"], None)
        assert ensemble not in results["curves_seed0"] and single in results["curves_seed0"]
        assert f"{ensemble} minus {single}:" in out
    check_dropout(results)


def test_regularization_demo_long_flag_runs_the_long_rows(tmp_path):
    out, results = run_demo(tmp_path, "--long")
    check_rows(out, results)
    assert results["long"] is True and list(results["methods"]) == LONG_ROWS
    check_dropout(results)
