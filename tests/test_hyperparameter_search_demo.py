"""demos/hyperparameter_search.py runs end to end (--quick): both tables, the scatter plots, the trials as JSON."""
import json

from test_training_dynamics_demo import needs_mnist, run_demo


def test_hyperparameter_search_demo_quick(tmp_path):
    needs_mnist()
    out, results = run_demo("hyperparameter_search.py", tmp_path)
    assert "(a) best f found" in out and "(b) lr x weight decay" in out
    assert "round 0: lr in [0.0001, 10]" in out and "round 1: lr in" in out
    budgets = results["grid_vs_random"]
    assert list(budgets) == ["9", "16", "25", "49"]
    assert budgets["49"]["random"]["mean"] > budgets["49"]["grid"]["mean"]
    for name in ("coarse-to-fine", "random"):
        summary = results["coarse_to_fine"][name]
        assert 0 < summary["test_accuracy"][0] <= 1 and set(summary["chosen"][0]) == {"lr", "weight_decay"}
    for name in results["pictures"]:
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    trials = json.loads((tmp_path / "b_coarse_to_fine_trials.json").read_text())
    assert len(trials["spaces"]) == 2 and len(trials["trials"]) == 8
    on_mnist = results["grid_vs_random_mnist"]["9"]  # (c): a 3 x 3 grid against 9 random trials on the MLP
    assert "(c) grid vs random search of lr x weight decay" in out
    # the grid's values are the centres of 3 equal cells of lr's log range [1e-4, 10]: 10^(-4 + (i + 1/2) 5/3)
    centres = [10 ** (-4 + (i + 0.5) * 5 / 3) for i in range(3)]
    assert min(abs(on_mnist["grid"]["chosen"]["lr"] / c - 1) for c in centres) < 1e-9
    assert 0 < on_mnist["grid"]["test_accuracy"] <= 1 and len(on_mnist["random"]["test_accuracy"]) == 1
