"""Hyper-parameter search lab: grid vs random search, and coarse-to-fine search on a log scale.

    python demos/hyperparameter_search.py            # about 45 s of CPU time (4 min on a busy shared machine)
    python demos/hyperparameter_search.py --quick    # a smoke test in seconds

(a) Grid vs random search with the same budget (Bergstra & Bengio 2012) on
    a function of two parameters in [0, 1] where one matters (a narrow bump
    around x*) and the other hardly does (a bump 20 times lower around y*).
    A k x k grid tries k values of the parameter that matters; k^2 random
    trials try k^2 of them. Repeated over FUNCTIONS functions (random x*, y*):
    the best value found, mean +- sample std (ddof=1), and the projection figure.
(b) Coarse-to-fine random search of learning rate x weight decay (both
    log-uniform) for an MLP (784-100-10, SGD with momentum 0.9) on real MNIST
    images: ROUNDS rounds of TRIALS trials, each round's ranges narrowed to
    its KEEP_TOP best trials (by validation accuracy). Diverged runs are
    recorded as failed trials. Compared with plain random search of the same
    budget over the same first ranges, for SEARCH_SEEDS search seeds; the
    chosen configuration of each search is retrained with 3 seeds and scored
    on test images, which nothing else sees.
(c) Grid vs random search on that real network, same budget: a k x k grid of
    lr x weight decay (cell centres on SPACE's log ranges) against k^2 random
    trials, for each of GRID_BUDGETS; the grid is one fixed search, random
    search is repeated over SEARCH_SEEDS seeds; every choice is retrained with
    3 seeds and scored on the test images.

MNIST: the 10,000-image test set, split at random into training (6,000),
validation (2,000) and test (2,000) images, as in training_dynamics.py.
"""
import argparse
import json
import pathlib
import time

import numpy as np
from common import loader, mean_std, mlp, mnist_test, preprocess, sample_std

import minitl as tl
from minitl import optim
from minitl.lab import tune
from minitl.lab.train import evaluate, fit

BATCH = 100  # as in training_dynamics.py
FUNCTIONS = 200
BUDGETS = (9, 16, 25, 49)
BUMP_WIDTH = 0.05  # of the parameter that matters; the other one's bump is 10x wider and 20x lower
ROUNDS, TRIALS, KEEP_TOP, SEARCH_SEEDS = 3, 12, 4, 5
SPACE = {"lr": tune.loguniform(1e-4, 10.0), "weight_decay": tune.loguniform(1e-7, 1.0)}
GRID_BUDGETS = (9, 16)  # (c): 3 x 3 and 4 x 4 grids of SPACE against 9 and 16 random trials


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test, not a result")
    parser.add_argument("--out", default="outputs/hyperparameter_search", help="directory for plots and results.json")
    return parser.parse_args()


# -- (a) grid vs random ----------------------------------------------------------------------------------
def bumps(x_star, y_star):
    """f(x, y) in [0, 1.05]: what matters is x (a bump of width BUMP_WIDTH at x*), y adds at most 0.05."""
    def important(x):
        return np.exp(-0.5 * ((x - x_star) / BUMP_WIDTH) ** 2)

    def unimportant(y):
        return 0.05 * np.exp(-0.5 * ((y - y_star) / (10 * BUMP_WIDTH)) ** 2)

    def objective(x, y):
        return float(important(x) + unimportant(y))
    return objective, important, unimportant


def grid_of(budget):
    """A k x k grid for a budget of k^2 trials: the centres of k equal cells of [0, 1] on each axis."""
    k = round(budget ** 0.5)
    values = ((np.arange(k) + 0.5) / k).tolist()
    return {"x": values, "y": values}


def grid_vs_random(out, functions):
    space = {"x": tune.uniform(0, 1), "y": tune.uniform(0, 1)}
    best = {budget: {"grid": [], "random": []} for budget in BUDGETS}
    centres = np.random.default_rng(0).uniform(0.05, 0.95, size=(functions, 2))
    for number, (x_star, y_star) in enumerate(centres):
        objective = bumps(x_star, y_star)[0]
        for budget in BUDGETS:
            best[budget]["grid"].append(tune.grid_search(objective, grid_of(budget)).best()["score"])
            best[budget]["random"].append(tune.random_search(objective, space, budget, seed=number).best()["score"])
    table = [(f"(a) best f found (max 1.05) over {functions} functions, mean +- sample std; "
              "values of the parameter that matters tried"),
             f"{'budget':>6}{'grid':>18}{'random':>18}{'random better':>15}{'values tried: grid / random':>31}"]
    for budget in BUDGETS:
        grid, random = np.array(best[budget]["grid"]), np.array(best[budget]["random"])
        table.append(f"{budget:>6}{mean_std(grid, digits=3):>18}{mean_std(random, digits=3):>18}"
                     f"{np.mean(random > grid):>15.0%}{f'{round(budget ** 0.5)} / {budget}':>31}")
    picture = projection_figure(out, *centres[0])
    results = {str(budget): {method: {"mean": float(np.mean(v)), "std": sample_std(v)}
                             for method, v in best[budget].items()} for budget in BUDGETS}
    return "\n".join(table), results, [picture]


def projection_figure(out, x_star, y_star):
    """The lecture's figure: 9 trials of each method over (important, unimportant), with each parameter's
    effect drawn along its axis; the grid's trials fall on 3 values of x only."""
    objective, important, unimportant = bumps(x_star, y_star)
    searches = {"grid search (3 x 3)": tune.grid_search(objective, grid_of(9)),
                "random search (9 trials)": tune.random_search(objective, {"x": tune.uniform(0, 1),
                                                                           "y": tune.uniform(0, 1)}, 9, seed=0)}
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 6))
    outer = fig.add_gridspec(1, 2, wspace=0.3)
    line = np.linspace(0, 1, 400)
    for column, (title, results) in enumerate(searches.items()):
        cell = outer[column].subgridspec(2, 2, width_ratios=(1, 4), height_ratios=(1, 4), hspace=0.05, wspace=0.05)
        main = fig.add_subplot(cell[1, 1])
        top = fig.add_subplot(cell[0, 1], sharex=main)
        left = fig.add_subplot(cell[1, 0], sharey=main)
        xs, ys = [t["params"]["x"] for t in results], [t["params"]["y"] for t in results]
        main.scatter(xs, ys, c=[t["score"] for t in results], cmap="viridis", vmin=0, vmax=1.05, s=60,
                     edgecolors="black")
        main.set(xlim=(0, 1), ylim=(0, 1), xlabel="important parameter x")
        top.plot(line, important(line), color="tab:green")
        top.plot(xs, important(np.array(xs)), "o", color="tab:green")
        top.set(title=f"{title}: best f = {results.best()['score']:.3f}", yticks=[])
        top.tick_params(labelbottom=False)
        left.plot(unimportant(line), line, color="tab:orange")
        left.plot(unimportant(np.array(ys)), ys, "o", color="tab:orange")
        left.set(ylabel="unimportant parameter y", xticks=[], xlim=(0.06, 0))
        main.tick_params(labelleft=False)
    path = out / "a_grid_vs_random.png"
    fig.savefig(path, dpi=90, bbox_inches="tight")  # tight_layout cannot arrange nested grids
    return path.name


# -- (b) coarse-to-fine search on MNIST ---------------------------------------------------------------------------
def mnist_objective(data, epochs):
    """objective(lr, weight_decay) -> validation accuracy of the MLP trained for `epochs` epochs (fixed seed,
    so that only the hyper-parameters differ between trials)."""
    def objective(lr, weight_decay, seed=0, split="val"):
        tl.manual_seed(seed)
        model = mlp([784, 100, 10])
        opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay)
        with np.errstate(over="ignore", invalid="ignore"):  # a diverging run raises TrainingDiverged: a failed trial
            fit(model, loader(*data["train"], BATCH, shuffle=True, seed=seed), opt, epochs, progress=False)
        return evaluate(model, loader(*data[split], BATCH))[1]
    return objective


def describe_round(results, number):
    spaces = results.spaces[number]
    best = results.top(1, round_number=number)
    failed = sum(t["status"] == "failed" for t in results if t["round"] == number)
    best_text = (f"best {best[0]['score']:.1%} at lr {best[0]['params']['lr']:.3g}, "
                 f"weight decay {best[0]['params']['weight_decay']:.2g}") if best else "every trial failed"
    return (f"  round {number}: lr in [{spaces['lr'].low:.3g}, {spaces['lr'].high:.3g}], weight decay in "
            f"[{spaces['weight_decay'].low:.2g}, {spaces['weight_decay'].high:.2g}]: {best_text}; {failed} failed")


def coarse_to_fine_study(objective, out, epochs, rounds, trials, keep_top, search_seeds, final_seeds):
    searches = {"coarse-to-fine": [], "random": []}
    lines = [(f"(b) lr x weight decay for an MLP 784-100-10 (SGD momentum 0.9, {epochs} epochs) on MNIST: "
              f"{rounds} rounds x {trials} trials, narrowed to the best {keep_top}")]
    pictures = []
    for seed in range(search_seeds):
        fine = tune.coarse_to_fine(objective, SPACE, rounds, trials, keep_top, seed=seed)
        plain = tune.random_search(objective, SPACE, rounds * trials, seed=seed)
        searches["coarse-to-fine"].append(fine)
        searches["random"].append(plain)
        lines.append(f"search seed {seed}:")
        lines += [describe_round(fine, number) for number in range(rounds)]
        if seed == 0:
            for name, results in (("coarse_to_fine", fine), ("random", plain)):
                pictures.append(results.plot("lr", "weight_decay", out / f"b_{name}.png",
                                             title=f"{name.replace('_', '-')} search, {len(results)} trials",
                                             score_label="validation accuracy (%)", score_scale=100).name)
                results.save_json(out / f"b_{name}_trials.json")
    table = [f"{'search':<16}{'best val accuracy %':>21}{'test accuracy % of its choice':>31}{'failed trials':>15}"]
    summary = {}
    for name, runs in searches.items():
        chosen = [results.best()["params"] for results in runs]
        test = [np.mean([objective(**params, seed=seed, split="test") for seed in range(final_seeds)])
                for params in chosen]
        table.append(f"{name:<16}{mean_std([r.best()['score'] for r in runs], 100):>21}{mean_std(test, 100):>31}"
                     f"{mean_std([len(r) - len(r.successful()) for r in runs], digits=1):>15}")
        summary[name] = {"chosen": chosen, "best_val_accuracy": [r.best()["score"] for r in runs],
                         "test_accuracy": test, "failed": [len(r) - len(r.successful()) for r in runs]}
    table.append(f"(mean +- sample std over {search_seeds} search seeds; each choice retrained with {final_seeds} "
                 "seeds and scored on the test images)")
    return "\n".join(lines + table), summary, pictures


# -- (c) grid vs random on the real network ------------------------------------------------------------------
def log_grid(space, k):
    """k values of a log-uniform space: the centres of k equal cells of its range on a log scale."""
    low, high = np.log(space.low), np.log(space.high)
    return np.exp(low + (np.arange(k) + 0.5) / k * (high - low)).tolist()


def grid_vs_random_mnist(objective, budgets, search_seeds, final_seeds):
    """Per budget k^2: the k x k grid's and k^2 random trials' best validation accuracy, and the test accuracy of
    the choice (mean over final_seeds retrainings); random search repeated over search_seeds seeds."""
    def test_of(params):
        return float(np.mean([objective(**params, seed=seed, split="test") for seed in range(final_seeds)]))

    table = [f"(c) grid vs random search of lr x weight decay on the same MLP, same budget; random search over "
             f"{search_seeds} search seeds (mean +- sample std), the grid is one search",
             f"{'budget':>6}{'grid val %':>12}{'grid test %':>13}{'random val %':>16}{'random test %':>16}"
             f"{'lr values tried: grid / random':>33}"]
    summary = {}
    for budget in budgets:
        k = round(budget ** 0.5)
        grid = tune.grid_search(objective, {name: log_grid(space, k) for name, space in SPACE.items()})
        randoms = [tune.random_search(objective, SPACE, budget, seed=seed) for seed in range(search_seeds)]
        grid_test = test_of(grid.best()["params"])
        random_val, random_test = [r.best()["score"] for r in randoms], [test_of(r.best()["params"]) for r in randoms]
        table.append(f"{budget:>6}{100 * grid.best()['score']:>12.1f}{100 * grid_test:>13.1f}"
                     f"{mean_std(random_val, 100):>16}{mean_std(random_test, 100):>16}{f'{k} / {budget}':>33}")
        summary[str(budget)] = {"grid": {"chosen": grid.best()["params"], "val_accuracy": grid.best()["score"],
                                         "test_accuracy": grid_test},
                                "random": {"chosen": [r.best()["params"] for r in randoms],
                                           "val_accuracy": random_val, "test_accuracy": random_test}}
    return "\n".join(table), summary


def main():
    args = parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    table_a, results_a, pictures = grid_vs_random(out, 20 if args.quick else FUNCTIONS)
    print(f"{table_a}\n({time.time() - started:.0f} s)\n", flush=True)
    splits = mnist_test((600, 200, 200) if args.quick else (6000, 2000, 2000), shape=(784,), scale=1)
    section_start = time.time()
    epochs, search_seeds, final_seeds = (1, 1, 1) if args.quick else (2, SEARCH_SEEDS, 3)
    objective = mnist_objective(preprocess(splits, "standardised"), epochs)
    table_b, results_b, pictures_b = coarse_to_fine_study(
        objective, out, epochs, 2 if args.quick else ROUNDS, 4 if args.quick else TRIALS,
        2 if args.quick else KEEP_TOP, search_seeds, final_seeds)
    print(f"{table_b}\n({time.time() - section_start:.0f} s)\n", flush=True)
    section_start = time.time()
    table_c, results_c = grid_vs_random_mnist(objective, GRID_BUDGETS[:1] if args.quick else GRID_BUDGETS,
                                              search_seeds, final_seeds)
    print(f"{table_c}\n({time.time() - section_start:.0f} s)")
    seconds, cpu_seconds = time.time() - started, time.process_time()
    (out / "results.json").write_text(json.dumps({"quick": args.quick, "seconds": round(seconds),
                                                  "cpu_seconds": round(cpu_seconds),
                                                  "pictures": pictures + pictures_b,
                                                  "grid_vs_random": results_a, "coarse_to_fine": results_b,
                                                  "grid_vs_random_mnist": results_c},
                                                 indent=1))
    print(f"\nplots, trials and results.json in {out}/; total {seconds:.0f} s ({cpu_seconds:.0f} s of CPU time)")


if __name__ == "__main__":
    main()
