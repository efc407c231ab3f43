"""demos/optimizers.py runs end to end (--quick): its tables, PNGs and results.json, and the protocol's rules."""
import json
import math
import pathlib
import subprocess
import sys

import numpy as np
import pytest

DEMOS = pathlib.Path(__file__).resolve().parents[1] / "demos"
OPTIMIZERS = ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSProp", "Adam", "AdamW"]


@pytest.fixture(scope="module")
def demo():
    """The demo module itself (demos/ on sys.path, as when it runs as a script)."""
    sys.path.insert(0, str(DEMOS))
    try:
        import optimizers
        yield optimizers
    finally:
        sys.path.remove(str(DEMOS))


def test_quick_run_writes_tables_pictures_and_results(tmp_path):
    pytest.importorskip("matplotlib")
    result = subprocess.run([sys.executable, str(DEMOS / "optimizers.py"), "--quick", "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["quick"] is True and len(results["seeds"]) >= 2
    for name in results["pictures"]:
        png = tmp_path / name
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        assert png.stat().st_size > 10_000, name  # a real figure, not an empty canvas
    assert {"paths_ravine.png", "paths_saddle.png", "paths_rosenbrock.png", "networks.png", "lr_choice.png",
            "adam_bias_correction.png", "momentum_local_minimum.png", "lbfgs.png",
            "schedules.png"} <= set(results["pictures"])
    for kind in ("MLP", "CNN"):
        assert list(results["networks"][kind]) == OPTIMIZERS
        for run in results["networks"][kind].values():
            # the rule: the chosen lr is the grid value with the best validation accuracy
            assert run["lr"] == run["grid"][int(np.argmax(run["tuning_val_accuracy"]))]
            assert len(run["test_accuracy"]) == len(results["seeds"])
            assert all(0 <= accuracy <= 1 for accuracy in run["test_accuracy"])
    rows = [line.split() for line in result.stdout.splitlines()
            if line.split()[:1] in (["ravine"], ["rosenbrock"], ["saddle"])]
    assert len(rows) == 18  # 3 functions x 6 optimizers
    assert all(float(row[3]) >= 0 for row in rows)  # final f - min f
    assert set(results["schedules"]) == {"constant", "step (x0.1 at 50 %, 75 %)", "exponential (to 1 %)",
                                         "1/t (1 / (1 + 10 t / T))", "cosine", "warm-up 10 % + cosine"}
    # momentum carries the ball over the bump; plain SGD stays in the first minimum it meets
    final_x = results["momentum_local_minimum"]["final_x"]
    assert final_x["SGD"] == pytest.approx(0.96, abs=0.01) and final_x["momentum 0.9"] < -1


def test_adam_without_bias_correction_is_the_scheduled_factor(demo):
    """The study's claim: LambdaLR with (1 - b1^t) / sqrt(1 - b2^t) turns Adam into uncorrected Adam."""
    import minitl as tl
    from minitl import optim
    from minitl.optim import lr_scheduler

    grads = np.random.default_rng(0).normal(size=(5, 3))
    p = tl.zeros(3, dtype=tl.float64, requires_grad=True)
    opt = optim.Adam([p], lr=0.1, eps=0.0)
    factor = lambda k: (1 - 0.9 ** (k + 1)) / math.sqrt(1 - 0.999 ** (k + 1))
    scheduler = lr_scheduler.LambdaLR(opt, factor)
    m, v, x = np.zeros(3), np.zeros(3), np.zeros(3)
    for g in grads:
        p.grad = tl.tensor(g)
        opt.step()
        scheduler.step()
        m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g ** 2
        x -= 0.1 * m / np.sqrt(v)  # the update without bias correction
    np.testing.assert_allclose(p.detach().numpy(), x, rtol=1e-12)


def test_mean_sd_is_the_sample_std(demo):
    assert demo.mean_sd([0.1, 0.2, 0.3]) == "20.0 +- 10.0"  # ddof=1; ddof=0 would print 8.2


def test_path_rule_picks_the_fastest_lr_and_skips_diverged_ones(demo):
    lr, _, losses = demo.best_path("ravine", "SGD", 300, (1e-3, 0.19, 0.5))
    assert lr == 0.19  # 1e-3 never arrives, 0.5 diverges (above 2 / 10, the steep direction's limit)
    assert demo.steps_to_threshold(losses, 0.0) is not None
