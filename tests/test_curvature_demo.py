"""demos/curvature.py runs end to end (--quick): its four tables, plots and results.json."""
import math
import re

from test_training_dynamics_demo import needs_mnist, run_demo


def test_curvature_demo_quick(tmp_path):
    needs_mnist()
    out, results = run_demo("curvature.py", tmp_path)
    for title in ("(a) logistic regression 4 vs 9", "Hessian cost", "(b) sharpness", "(c) Hessian spectrum"):
        assert title in out
    sharpness_rows = out.split("(b) sharpness")[1].split("\n\n")[0].splitlines()[2:-1]  # less the CPU time
    assert len(sharpness_rows) == 3
    for row in sharpness_rows:  # one seed: its crossing step has no spread (never "+- nan")
        assert re.search(r"(step \d+ \(1 seed\)|never) ", row), row
    convergence = results["convergence"]
    assert convergence["grad_norm_at_optimum"] < 1e-10
    newton_steps = convergence["Newton"]["steps_to_tolerance"]
    assert newton_steps is not None
    for slower in ("gradient descent", "L-BFGS"):  # the same tolerance takes first-order methods far more steps
        steps = convergence[slower]["steps_to_tolerance"]
        assert steps is None or steps > newton_steps
        assert min(convergence[slower]["gaps"]) >= -1e-12  # nothing goes below Newton's optimum beyond rounding
    for row in results["hessian_cost"]["rows"]:
        assert row["hessian_max_error"] < 1e-12  # autograd's Hessian is the closed form X^T D X / N + lambda
    for lr, entry in results["sharpness"].items():
        assert entry["two_over_lr"] == 2 / float(lr)
        for run in entry["runs"]:
            assert run["sharpness"] and all(math.isfinite(s) and s > 0 for s in run["sharpness"])
    for stage in ("initialisation", "trained"):
        for row in results["saddles"][stage]:
            assert len(row["eigenvalues"]) == 334 and 0 <= row["negative"] < 334
    assert results["saddles"]["trained"][0]["loss"] < results["saddles"]["initialisation"][0]["loss"]
    for name in results["pictures"]:
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    assert set(results["pictures"]) == {"a_convergence.png", "a_hessian_cost.png", "b_sharpness.png",
                                        "c_spectrum.png"}
