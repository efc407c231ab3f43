"""minitl.lab.tune: seeded searches, coarse-to-fine narrowing, failed trials, JSON and the scatter plot."""
import itertools
import json
import math

import numpy as np
import pytest

from minitl.lab import tune

SPACE = {"lr": tune.loguniform(1e-6, 1.0), "weight_decay": tune.loguniform(1e-8, 1e-1),
         "dropout": tune.uniform(0.0, 0.5), "width": tune.randint(16, 257), "activation": tune.choice(["relu", "tanh"])}


def bowl(lr, weight_decay, **unused):
    """A score with its maximum 0 at lr = 10**-2.5, weight_decay = 10**-4 (log scale)."""
    return -((math.log10(lr) + 2.5) ** 2 + (math.log10(weight_decay) + 4) ** 2)


def test_the_same_seed_draws_the_same_trials_and_another_seed_others():
    first, again, other = (tune.random_search(bowl, SPACE, n_trials=8, seed=seed) for seed in (3, 3, 4))
    assert first == again and first != other
    assert [t["trial"] for t in first] == list(range(8))
    for trial in first:
        p = trial["params"]
        assert 1e-6 <= p["lr"] < 1 and 0 <= p["dropout"] < 0.5 and p["activation"] in ("relu", "tanh")
        assert isinstance(p["width"], int) and 16 <= p["width"] <= 256
    again = tune.coarse_to_fine(bowl, SPACE, rounds=3, trials_per_round=5, keep_top=2, seed=1)
    assert again == tune.coarse_to_fine(bowl, SPACE, rounds=3, trials_per_round=5, keep_top=2, seed=1)


def test_loguniform_spreads_trials_evenly_over_decades():
    lrs = [t["params"]["lr"] for t in tune.random_search(bowl, SPACE, n_trials=600, seed=0)]
    per_decade = np.histogram(np.log10(lrs), bins=6, range=(-6, 0))[0]
    assert per_decade.min() > 70  # about 100 in each of the 6 decades; uniform would put ~90% in the last


def test_coarse_to_fine_narrows_toward_the_known_optimum():
    results = tune.coarse_to_fine(bowl, {"lr": tune.loguniform(1e-6, 1.0), "weight_decay": tune.loguniform(1e-8, 1e-1)},
                                  rounds=4, trials_per_round=12, keep_top=3, seed=0)
    assert len(results) == 48 and [t["round"] for t in results] == [r for r in range(4) for _ in range(12)]
    widths = []
    for spaces in results.spaces:
        lr, wd = spaces["lr"], spaces["weight_decay"]
        assert isinstance(lr, tune.LogUniform) and isinstance(wd, tune.LogUniform)  # log ranges stay log
        assert lr.low <= 10 ** -2.5 <= lr.high and wd.low <= 1e-4 <= wd.high
        widths.append(math.log10(lr.high / lr.low) + math.log10(wd.high / wd.low))
    assert all(later < earlier for earlier, later in itertools.pairwise(widths))
    assert widths[-1] < widths[0] / 4
    round_best = [results.top(1, round_number=r)[0]["score"] for r in range(4)]
    assert round_best[-1] > round_best[0] and results.best()["score"] > -0.05
    for trial in results:  # every trial lies in the range of its round
        space = results.spaces[trial["round"]]
        assert space["lr"].low <= trial["params"]["lr"] <= space["lr"].high


def test_narrowing_keeps_each_kind_of_space():
    assert repr(tune.uniform(0, 10).narrow([4, 6], margin=0.1)) == "uniform(3, 7)"
    assert repr(tune.uniform(0, 10).narrow([0.5, 9.8], margin=0.1)) == "uniform(0, 10)"  # clipped to the old range
    narrowed = tune.loguniform(1e-6, 1).narrow([1e-3, 1e-2], margin=0.1)  # 6 decades: pad 0.6 decade
    assert math.log10(narrowed.low) == pytest.approx(-3.6) and math.log10(narrowed.high) == pytest.approx(-1.4)
    assert repr(tune.randint(0, 100).narrow([40, 50], margin=0.05)) == "randint(35, 56)"
    assert tune.choice(["a", "b", "c"]).narrow(["c", "a", "c"], margin=0.1).options == ["a", "c"]


def test_failed_trials_are_recorded_and_the_search_goes_on():
    def objective(lr):
        if lr > 0.1:
            raise FloatingPointError("overflow in the loss")
        if lr > 0.01:
            return float("nan")  # a diverged run
        return "not a score" if lr < 1e-5 else lr

    results = tune.random_search(objective, {"lr": tune.loguniform(1e-6, 1.0)}, n_trials=30, seed=0)
    assert len(results) == 30
    by_status = {status: [t for t in results if t["status"] == status] for status in ("ok", "failed")}
    assert len(by_status["ok"]) + len(by_status["failed"]) == 30 and by_status["ok"]
    errors = {t["error"].split(":")[0].split(" returned")[0] for t in by_status["failed"]}
    assert errors == {"FloatingPointError", "the objective"}
    assert all(t["score"] is None for t in by_status["failed"])
    assert any("returned nan" in t["error"] for t in by_status["failed"])
    assert any("'not a score', not a number" in t["error"] for t in by_status["failed"])
    assert results.best()["params"]["lr"] == max(t["params"]["lr"] for t in by_status["ok"])
    saved = json.loads(results.to_json())  # strict JSON: no NaN
    assert saved["trials"] == json.loads(json.dumps(list(results))) and saved["maximize"] is True
    assert saved["spaces"] == [{"lr": {"type": "loguniform", "low": 1e-6, "high": 1.0}}]


def test_a_round_where_everything_fails_keeps_its_ranges():
    results = tune.coarse_to_fine(lambda x: 1 / 0, {"x": tune.uniform(0, 1)}, rounds=2, trials_per_round=3, keep_top=1)
    assert results.best() is None and repr(results.spaces[1]["x"]) == "uniform(0, 1)"
    assert {t["error"] for t in results} == {"ZeroDivisionError: division by zero"}


def test_grid_search_tries_every_combination_in_order():
    results = tune.grid_search(lambda a, b: a * b, {"a": [1, 2], "b": [10, 20, 30]}, maximize=False)
    assert [tuple(t["params"].values()) for t in results] == [(1, 10), (1, 20), (1, 30), (2, 10), (2, 20), (2, 30)]
    assert results.best()["params"] == {"a": 1, "b": 10}


@pytest.mark.parametrize("make, message", [
    (lambda: tune.loguniform(0, 1), "0 < low"), (lambda: tune.uniform(1, 1), "low < high"),
    (lambda: tune.randint(0.5, 3), "integers"), (lambda: tune.choice([]), "at least one"),
    (lambda: tune.random_search(bowl, {"lr": (1e-3, 1)}, 3), "'lr'"),
    (lambda: tune.random_search(bowl, SPACE, 0), "n_trials"),
    (lambda: tune.grid_search(bowl, {"lr": []}), "non-empty"),
    (lambda: tune.coarse_to_fine(bowl, SPACE, 2, 3, 1, margin=0), "margin"),
])
def test_bad_arguments_are_named(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


def test_the_scatter_plot(tmp_path):
    pytest.importorskip("matplotlib")
    results = tune.coarse_to_fine(lambda lr, weight_decay: float("nan") if lr > 0.3 else bowl(lr, weight_decay),
                                  {"lr": tune.loguniform(1e-6, 1.0), "weight_decay": tune.loguniform(1e-8, 1e-1)},
                                  rounds=2, trials_per_round=10, keep_top=3)
    path = results.plot("lr", "weight_decay", tmp_path / "scatter.png", score_label="-distance")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000
