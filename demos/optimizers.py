"""The optimizer study: SGD, momentum, Nesterov, AdaGrad, RMSProp, Adam and AdamW, on pictures and on MNIST.

    python demos/optimizers.py [--out outputs/optimizers] [--quick]

(1) paths     every optimizer (AdamW aside: its weight decay would move a 2-D function's minimum) from
              one start on three 2-D functions, one panel each so that no path hides another:
              a ravine f = 0.05 x^2 + 5 y^2 (condition number 100), Rosenbrock's curved valley
              f = (1 - x)^2 + 100 (y - x^2)^2, and f = x^2 / 2 + y^4 / 4 - y^2 / 2, started just beside
              its saddle point at (0, 0) (gradient zero, Hessian diag(1, -1)).
(2) networks  the seven optimizers on an MNIST MLP (784-100-10) and a small CNN (conv 8 - pool -
              conv 16 - pool - linear), mini-batches of 50, EPOCHS epochs.
(3) internals what a student asks about, on the same MLP: Adam with and without bias correction over
              its first steps; momentum rolling through a 1-D local minimum; L-BFGS on the full batch
              against L-BFGS on mini-batches; the lecture's decay schedules (step, exponential, 1/t,
              cosine, linear warm-up then cosine) for SGD with momentum.

One protocol for every comparison on MNIST. The test file's 10,000 images are split once (fixed seed)
into a pool of 4,000 training images, 1,000 validation images and 5,000 test images. Each run draws its
2,000 training images from the pool, its initial weights and its batch order from its seed. Every
learning rate is chosen by one rule: the value of LR_GRID with the best validation accuracy after the
full budget, in one run with seed TUNE_SEED, which no reported run uses. Then SEEDS seeds at that lr;
results are test accuracy as mean +- sample std (ddof=1). Optimizer settings are PyTorch's defaults
(momentum 0.9 where used; RMSProp alpha 0.99; AdamW weight decay 0.01). On the 2-D functions the rule
is the lr of LR_GRID_2D that gets f - min f under 1e-3 in the fewest steps (the lowest final f - min f
when none does). Train losses in the figures are measured at epoch ends in eval mode on 500 of the run's
training images.

The whole study runs on one thread (MINITL_NUM_THREADS=1 unless set): its arrays are small, and a
second thread gains little on them. --quick runs a few steps of everything, for the tests.
"""
import argparse
import math
import os
import pathlib
import time

os.environ.setdefault("MINITL_NUM_THREADS", "1")

import numpy as np
from common import chance_line, figure, mnist_test, run_studies, save, save_results

import minitl as tl
from minitl import nn, optim
from minitl.lab.train import evaluate
from minitl.nn import functional as F
from minitl.optim import lr_scheduler

OPTIMIZERS = ("SGD", "Momentum", "Nesterov", "AdaGrad", "RMSProp", "Adam", "AdamW")
COLORS = {"SGD": "tab:gray", "Momentum": "tab:blue", "Nesterov": "tab:cyan", "AdaGrad": "tab:green",
          "RMSProp": "tab:orange", "Adam": "tab:red", "AdamW": "tab:purple"}
LR_GRID = tuple(10.0 ** np.arange(-3.5, 0.01, 0.5))     # 3.2e-4 .. 1, half decades
LR_GRID_2D = tuple(10.0 ** np.arange(-4, 1.01, 0.5))    # 1e-4 .. 10
SEEDS, TUNE_SEED = (0, 1, 2), 100
POOL, VAL, TEST, TRAIN = 4000, 1000, 5000, 2000
BATCH, EPOCHS, CURVE_IMAGES = 50, 8, 500
THRESHOLD = 1e-3


def make_optimizer(name, params, lr):
    """`name` of OPTIMIZERS with PyTorch's default settings besides lr."""
    if name == "SGD":
        return optim.SGD(params, lr=lr)
    if name in ("Momentum", "Nesterov"):
        return optim.SGD(params, lr=lr, momentum=0.9, nesterov=name == "Nesterov")
    if name == "AdaGrad":
        return optim.Adagrad(params, lr=lr)
    if name == "RMSProp":
        return optim.RMSprop(params, lr=lr)
    return (optim.AdamW if name == "AdamW" else optim.Adam)(params, lr=lr)


def mean_sd(values, scale=100.0, digits=1):
    """'mean +- sample std' (ddof=1: with 3 seeds the population std, ddof=0, is 18 % smaller)."""
    values = scale * np.asarray(values, dtype=np.float64)
    return f"{values.mean():.{digits}f} +- {values.std(ddof=1):.{digits}f}"


def band(ax, x, runs, color, label, scale=1.0):
    """The mean of `runs` (seeds x points) as a line, +- one sample std as a shaded band."""
    runs = scale * np.asarray(runs, dtype=np.float64)
    mean, sd = runs.mean(axis=0), runs.std(axis=0, ddof=1)
    ax.plot(x, mean, color=color, label=label)
    ax.fill_between(x, mean - sd, mean + sd, color=color, alpha=0.2, linewidth=0)


def log_y(ax):
    """A log-scale y axis labelled 0.01, 0.02, 0.05, 0.1, ... (plain numbers that do not overlap)."""
    from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(NullFormatter())


# -- (1) paths on 2-D functions ----------------------------------------------------------------------
FUNCTIONS = {  # name -> function of (x, y) on NumPy arrays and minitl tensors alike
    "ravine": lambda x, y: 0.05 * x ** 2 + 5 * y ** 2,
    "rosenbrock": lambda x, y: (1 - x) ** 2 + 100 * (y - x ** 2) ** 2,
    "saddle": lambda x, y: x ** 2 / 2 + y ** 4 / 4 - y ** 2 / 2,
}
CRITICAL_POINTS = {  # marked on the plots: where the gradient is zero
    "ravine": [((0.0, 0.0), "minimum")],
    "rosenbrock": [((1.0, 1.0), "minimum")],
    "saddle": [((0.0, 0.0), "saddle"), ((0.0, 1.0), "minimum"), ((0.0, -1.0), "minimum")],
}
# name -> (start, min f, steps, plot window (xmin, xmax, ymin, ymax))
SETTINGS = {"ravine": ((-9.0, 2.0), 0.0, 300, (-10, 2, -2.5, 2.5)),
            "rosenbrock": ((-1.5, 2.0), 0.0, 1000, (-2, 2, -1, 3)),
            "saddle": ((-2.0, 1e-3), -0.25, 150, (-2.2, 1.2, -1.4, 1.4))}


def trajectory(f, start, optimizer_name, lr, steps):
    """The points visited (up to steps + 1, 2) and f at each; stops early where f is no longer finite."""
    p = tl.tensor(start, dtype=tl.float64, requires_grad=True)
    opt = make_optimizer(optimizer_name, [p], lr)
    points, losses = [], []
    with np.errstate(all="ignore"):  # a too large lr overflows: that run is dropped, not an error
        for _ in range(steps):
            opt.zero_grad()
            loss = f(p[0], p[1])
            points.append(p.detach().numpy().copy())
            losses.append(loss.item())
            if not math.isfinite(losses[-1]):
                break
            loss.backward()
            opt.step()
        else:
            points.append(p.detach().numpy().copy())
            losses.append(float(f(*points[-1])))
    return np.array(points), np.array(losses)


def steps_to_threshold(losses, f_min):
    below = np.flatnonzero(losses - f_min < THRESHOLD)
    return int(below[0]) if below.size else None


def best_path(name, optimizer_name, steps, grid):
    """(lr, points, losses) of the lr in `grid` that reaches f - min f < THRESHOLD first (else ends lowest)."""
    start, f_min = SETTINGS[name][:2]
    best = None
    for lr in grid:
        points, losses = trajectory(FUNCTIONS[name], start, optimizer_name, lr, steps)
        if len(losses) <= steps or not np.isfinite(losses).all():
            continue  # diverged
        reached = steps_to_threshold(losses, f_min)
        key = (reached if reached is not None else math.inf, losses[-1] - f_min)
        if best is None or key < best[0]:
            best = key, lr, points, losses
    return best[1:]


def view(window, points):
    """(x0, x1, y0, y1): `window`, grown with a 5 % margin to hold `points`."""
    x0, x1 = min(window[0], points[:, 0].min()), max(window[1], points[:, 0].max())
    y0, y1 = min(window[2], points[:, 1].min()), max(window[3], points[:, 1].max())
    dx, dy = 0.05 * (x1 - x0), 0.05 * (y1 - y0)
    return x0 - dx, x1 + dx, y0 - dy, y1 + dy


def plot_paths(name, runs, out):
    start, f_min, _, window = SETTINGS[name]
    marked = np.array([point for point, _ in CRITICAL_POINTS[name]])
    x0, x1, y0, y1 = view(window, np.concatenate([points for _, points, _ in runs.values()] + [marked]))
    X, Y = np.meshgrid(np.linspace(x0, x1, 200), np.linspace(y0, y1, 200))
    Z = FUNCTIONS[name](X, Y) - f_min
    levels = np.geomspace(max(Z.min(), 1e-3), Z.max(), 20)
    fig, axes = figure(2, 4, (17, 7.5))
    panels = [*axes[0, :3], *axes[1, :3]]  # the last column: the losses, and the key
    ax_loss = axes[0, 3]
    for ax, (optimizer_name, (lr, points, losses)) in zip(panels, runs.items()):
        ax.contour(X, Y, Z, levels=levels, cmap="Greys", linewidths=0.5)
        ax.plot(points[:, 0], points[:, 1], ".-", color=COLORS[optimizer_name], markersize=2, linewidth=0.8)
        ax.plot(*start, "ko")
        for point, kind in CRITICAL_POINTS[name]:
            ax.plot(*point, "*" if kind == "minimum" else "X", color="k", markersize=11, markerfacecolor="gold")
        reached = steps_to_threshold(losses, f_min)
        ax.set(xlim=(x0, x1), ylim=(y0, y1), title=f"{optimizer_name}, lr {lr:.2g}: "
               + (f"< 1e-3 at step {reached}" if reached is not None else "never < 1e-3"))
        ax_loss.semilogy(np.maximum(losses - f_min, 1e-16), color=COLORS[optimizer_name], label=optimizer_name)
    ax_loss.axhline(THRESHOLD, color="k", linestyle=":", linewidth=0.8, label="1e-3 threshold")
    ax_loss.set(title="f - min f (log scale)", xlabel="step")
    ax_loss.legend(fontsize=8)
    axes[1, 3].axis("off")
    axes[1, 3].text(0.0, 0.5, f"{name}: start {start} (black dot)\nstars: minima, cross: saddle\n"
                    "each optimizer with the lr of its own\ngrid search (see the table)", fontsize=11)
    fig.suptitle(f"{name}: one panel per optimizer")
    return save(fig, out / f"paths_{name}.png")


def path_study(out, quick):
    grid = LR_GRID_2D[::4] if quick else LR_GRID_2D
    lines = [f"(1) paths on 2-D functions: lr of {len(grid)} on a grid, chosen by the fewest steps to "
             f"f - min f < 1e-3", f"{'function':<11} {'optimizer':<9} {'lr':>7} {'final f - min f':>16} "
             f"{'steps to < 1e-3':>16}"]
    results, pictures = {}, []
    for name, (_, f_min, steps, _) in SETTINGS.items():
        steps = 20 if quick else steps
        runs = {opt: best_path(name, opt, steps, grid) for opt in OPTIMIZERS if opt != "AdamW"}
        results[name] = {}
        for opt, (lr, _, losses) in runs.items():
            reached = steps_to_threshold(losses, f_min)
            results[name][opt] = {"lr": lr, "final_gap": losses[-1] - f_min, "steps_to_threshold": reached}
            lines.append(f"{name:<11} {opt:<9} {lr:>7.2g} {losses[-1] - f_min:>16.3e} "
                         f"{'-' if reached is None else reached:>16}")
        pictures.append(plot_paths(name, runs, out))
    return "\n".join(lines), results, pictures


# -- (2) networks on MNIST -----------------------------------------------------------------------------
def make_model(kind):
    if kind == "MLP":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 100), nn.ReLU(), nn.Linear(100, 10))
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(16 * 7 * 7, 10))


def batches(data, size=1000):
    images, labels = data
    return [(tl.tensor(images[i:i + size]), tl.tensor(labels[i:i + size])) for i in range(0, len(labels), size)]


class Task:
    """The splits, and one run's training images and model: everything a seed draws."""

    def __init__(self, splits, quick):
        self.splits = splits
        self.val, self.test = batches(splits["val"]), batches(splits["test"])
        self.epochs = 1 if quick else EPOCHS
        self.train_size = min(TRAIN, len(splits["train"][1]))

    def draw(self, kind, seed):
        """(model, training images and labels) of run `seed`."""
        images, labels = self.splits["train"]
        chosen = np.random.default_rng(seed).choice(len(labels), size=self.train_size, replace=False)
        tl.manual_seed(seed)
        return make_model(kind), (images[chosen], labels[chosen])


def train(model, optimizer, data, epochs, seed, scheduler=None, on_step=None, on_epoch=None):
    """Mini-batches of BATCH in an order drawn from `seed`; the scheduler (if any) steps after every step,
    on_step(batch loss) after every step, on_epoch(epoch) at each epoch's end and before the first."""
    images, labels = data
    rng = np.random.default_rng(seed)
    if on_epoch is not None:
        on_epoch(0)
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(labels))
        for start in range(0, len(order) - BATCH + 1, BATCH):
            chosen = order[start:start + BATCH]
            loss = F.cross_entropy(model(tl.tensor(images[chosen])), tl.tensor(labels[chosen]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            if on_step is not None:
                on_step(loss.item())
        if on_epoch is not None:
            on_epoch(epoch)


def run(task, kind, make, lr, seed, curves=False):
    """Train a `kind` network with optimizer (and scheduler) `make(params, lr)`; a dict of its results."""
    model, data = task.draw(kind, seed)
    optimizer, scheduler = make(model.parameters(), lr)
    curve_data = batches((data[0][:CURVE_IMAGES], data[1][:CURVE_IMAGES]))
    record = {"train_loss": [], "val_accuracy": []}

    def on_epoch(_):
        record["train_loss"].append(evaluate(model, curve_data)[0])
        record["val_accuracy"].append(evaluate(model, task.val)[1])

    with np.errstate(all="ignore"):  # a too large lr overflows: its accuracy shows it, not an error
        train(model, optimizer, data, task.epochs, seed, scheduler, on_epoch=on_epoch if curves else None)
        record["final_val_accuracy"] = evaluate(model, task.val)[1]
        if curves:
            record["test_accuracy"] = evaluate(model, task.test)[1]
    return record


def choose_and_run(task, kind, make, seeds, grid):
    """The protocol: choose lr on `grid` by validation accuracy (seed TUNE_SEED), then run `seeds` at it."""
    tuning = [run(task, kind, make, lr, TUNE_SEED)["final_val_accuracy"] for lr in grid]
    lr = grid[int(np.nanargmax(tuning))]  # ties: the smaller lr
    runs = [run(task, kind, make, lr, seed, curves=True) for seed in seeds]
    return {"lr": lr, "grid": list(grid), "tuning_val_accuracy": tuning,
            "test_accuracy": [r["test_accuracy"] for r in runs],
            "train_loss": [r["train_loss"] for r in runs], "val_accuracy": [r["val_accuracy"] for r in runs]}


def plain(name):
    return lambda params, lr: (make_optimizer(name, params, lr), None)


def network_study(task, out, seeds, grid):
    lines = [f"(2) MNIST, {TRAIN} training images per seed, batches of {BATCH}, {task.epochs} epochs, "
             f"lr chosen on validation from {len(grid)} values; test accuracy %, {len(seeds)} seeds",
             f"{'network':<8}{'optimizer':<10}{'lr':>8}{'val % at choice':>17}{'test %':>15}"
             f"{'final train loss':>20}"]
    results = {}
    for kind in ("MLP", "CNN"):
        results[kind] = {}
        for name in OPTIMIZERS:
            result = results[kind][name] = choose_and_run(task, kind, plain(name), seeds, grid)
            edge = " (grid edge)" if result["lr"] in (grid[0], grid[-1]) and len(grid) > 2 else ""
            lines.append(f"{kind:<8}{name:<10}{result['lr']:>8.2g}"
                         f"{100 * max(result['tuning_val_accuracy']):>17.1f}{mean_sd(result['test_accuracy']):>15}"
                         f"{mean_sd([r[-1] for r in result['train_loss']], 1, 3):>20}{edge}")
    fig, axes = figure(2, 2, (13, 9))
    fig_lr, axes_lr = figure(1, 2, (13, 4.5))
    for row, kind in enumerate(("MLP", "CNN")):
        epochs = np.arange(task.epochs + 1)
        for name, result in results[kind].items():
            band(axes[row, 0], epochs, result["train_loss"], COLORS[name], f"{name} (lr {result['lr']:.2g})")
            band(axes[row, 1], epochs, result["val_accuracy"], COLORS[name], name, scale=100)
            axes_lr[0, row].semilogx(grid, 100 * np.asarray(result["tuning_val_accuracy"]), ".-",
                                     color=COLORS[name], label=name)
            axes_lr[0, row].plot(result["lr"], 100 * max(result["tuning_val_accuracy"]), "o", color=COLORS[name])
        log_y(axes[row, 0])
        axes[row, 0].set(title=f"{kind}: training loss (eval mode, {CURVE_IMAGES} training images)",
                         xlabel="epoch", ylabel="cross-entropy (log scale)")
        axes[row, 1].set(title=f"{kind}: validation accuracy, mean +- sample std of {len(seeds)} seeds",
                         xlabel="epoch", ylabel="accuracy %", ylim=(0, 100))
        axes_lr[0, row].set(title=f"{kind}: choosing lr (seed {TUNE_SEED}; dot = chosen)", xlabel="lr (log scale)",
                            ylabel="validation accuracy % after the budget", ylim=(0, 100))
        chance_line(axes_lr[0, row], 10)
        axes[row, 0].legend(fontsize=8)  # the optimizers' colours; the accuracy panel's legend names the chance line
        axes[row, 1].legend(handles=[chance_line(axes[row, 1], 10)], fontsize=8, loc="center right")
        axes_lr[0, row].legend(fontsize=8, loc="lower left")
    return "\n".join(lines), results, [save(fig, out / "networks.png"), save(fig_lr, out / "lr_choice.png")]


# -- (3) internals ---------------------------------------------------------------------------------------
def bias_correction_study(task, out, seeds, steps):
    """Adam without bias correction is Adam with lr * (1 - beta1^t) / sqrt(1 - beta2^t) at step t (up to
    where eps is added), so LambdaLR runs it through the same optimizer."""
    beta1, beta2 = 0.9, 0.999
    factor = lambda k: (1 - beta1 ** (k + 1)) / math.sqrt(1 - beta2 ** (k + 1))  # k = t - 1
    losses = {"with": [], "without": []}
    for seed in seeds:
        for variant in losses:
            model, data = task.draw("MLP", seed)
            opt = optim.Adam(model.parameters(), lr=1e-3, betas=(beta1, beta2))
            scheduler = lr_scheduler.LambdaLR(opt, factor) if variant == "without" else None
            record = []
            train(model, opt, data, math.ceil(steps * BATCH / len(data[1])), seed, scheduler, record.append)
            losses[variant].append(record[:steps])
    windows = [(0, 10), (10, 50), (50, steps)] if steps > 50 else [(0, steps)]
    lines = [f"(3a) Adam (lr 1e-3) with and without bias correction: mean mini-batch loss of the MLP, "
             f"{len(seeds)} seeds", f"{'bias correction':<17}" + "".join(
                 f"{f'steps {a + 1}-{b}':>18}" for a, b in windows)]
    for variant, runs in losses.items():
        lines.append(f"{variant:<17}" + "".join(f"{mean_sd(np.mean(np.asarray(runs)[:, a:b], axis=1), 1, 3):>18}"
                                               for a, b in windows))
    fig, axes = figure(1, 2, (13, 4.5))
    t = np.arange(1, steps + 1)
    axes[0, 0].plot(t, [factor(k) for k in range(steps)], color="k")
    axes[0, 0].axhline(1, color="k", linestyle=":", linewidth=0.8)
    axes[0, 0].set(title="the uncorrected step over the corrected one", xlabel="step t",
                   ylabel="(1 - 0.9^t) / sqrt(1 - 0.999^t)")
    for variant, color in (("with", "tab:red"), ("without", "tab:gray")):
        band(axes[0, 1], t, losses[variant], color, f"{variant} bias correction")
    axes[0, 1].set(title=f"Adam, lr 1e-3, on the MLP: mini-batch loss, {len(seeds)} seeds", xlabel="step",
                   ylabel="cross-entropy")
    axes[0, 1].legend()
    return "\n".join(lines), {"factor": [factor(k) for k in range(steps)], "losses": losses}, \
        [save(fig, out / "adam_bias_correction.png")]


def double_well(x):
    """A tilted double well: a local minimum near x = 0.96 (f = 0.29), the global one near -1.04 (f = -0.31)."""
    return (x ** 2 - 1) ** 2 + 0.3 * x


ROLLERS = {"SGD": 0.0, "momentum 0.5": 0.5, "momentum 0.9": 0.9, "Nesterov 0.9": 0.9}


def momentum_study(out, steps, lr=0.01, start=2.0):
    paths = {}
    for name, momentum in ROLLERS.items():
        x = tl.tensor([start], dtype=tl.float64, requires_grad=True)
        opt = optim.SGD([x], lr=lr, momentum=momentum, nesterov=name.startswith("Nesterov"))
        path = [start]
        for _ in range(steps):
            opt.zero_grad()
            double_well(x).sum().backward()
            opt.step()
            path.append(x.item())
        paths[name] = path
    lines = [f"(3b) momentum through a local minimum: f = (x^2 - 1)^2 + 0.3 x from x = {start}, lr {lr}, "
             f"{steps} steps", f"{'optimizer':<14}{'final x':>9}{'final f':>9}  ends in"]
    for name, path in paths.items():
        lines.append(f"{name:<14}{path[-1]:>9.3f}{double_well(path[-1]):>9.3f}  "
                     + ("the global minimum" if path[-1] < 0 else "the local minimum"))
    fig, axes = figure(1, 2, (13, 4.5))
    grid = np.linspace(-1.8, 2.1, 300)
    axes[0, 0].plot(grid, double_well(grid), color="k", linewidth=1)
    for offset, (name, path) in enumerate(paths.items()):
        color = ("tab:gray", "tab:cyan", "tab:blue", "tab:purple")[offset]
        path = np.array(path)
        axes[0, 0].plot(path, double_well(path) + 0.15 * offset, ".", color=color, markersize=3,
                        label=f"{name} (dots raised {0.15 * offset:.2f} to stay apart)")
        axes[0, 1].plot(path, color=color, label=name)
    axes[0, 0].set(title="where each visits (every step a dot)", xlabel="x", ylabel="f(x)", ylim=(-0.6, 3))
    axes[0, 1].axhline(0.96, color="k", linestyle=":", linewidth=0.8, label="local minimum")
    axes[0, 1].axhline(-1.04, color="k", linestyle="--", linewidth=0.8, label="global minimum")
    axes[0, 1].set(title="x against the step", xlabel="step", ylabel="x")
    for ax in axes.flat:
        ax.legend(fontsize=8)
    return "\n".join(lines), {"lr": lr, "final_x": {name: path[-1] for name, path in paths.items()}}, \
        [save(fig, out / "momentum_local_minimum.png")]


def closure_on(model, optimizer, x, y, calls):
    """L-BFGS's closure: the loss on (x, y) and its gradients; each call appends to `calls`."""
    def closure():
        calls.append(len(y))
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        return loss
    return closure


def lbfgs_train(model, data, batch_size, passes, seed, log):
    """L-BFGS steps (strong Wolfe line search, history 10), each on `batch_size` random training images
    (None: all of them), until `passes` passes' worth of gradient evaluations; log(passes used) after each."""
    images, labels = data
    opt = optim.LBFGS(model.parameters(), lr=1, max_iter=1, history_size=10, line_search_fn="strong_wolfe")
    rng, calls = np.random.default_rng(seed), []
    while sum(calls) < passes * len(labels):
        chosen = rng.choice(len(labels), size=batch_size, replace=False) if batch_size else slice(None)
        opt.step(closure_on(model, opt, tl.tensor(images[chosen]), tl.tensor(labels[chosen]), calls))
        log(sum(calls) / len(labels))


def lbfgs_run(task, batch_size, seed, passes):
    """(points (passes used, training loss on all training images), test accuracy) of one run; batch_size
    None: L-BFGS on the full batch, an int: L-BFGS on mini-batches, "Adam": Adam (lr 1e-3, batches of 50)."""
    model, data = task.draw("MLP", seed)
    everything, points = batches(data, len(data[1])), []

    def log(used):
        points.append((used, evaluate(model, everything)[0]))

    if batch_size == "Adam":
        train(model, optim.Adam(model.parameters(), lr=1e-3), data, passes, seed, on_epoch=log)
    else:
        log(0.0)
        lbfgs_train(model, data, batch_size, passes, seed, log)
    return np.array(points), evaluate(model, task.test)[1]


def lbfgs_study(task, out, seeds, passes):
    """Train loss against passes over the training data (images in closure calls / training images)."""
    methods = {"L-BFGS, full batch": None, "L-BFGS, batches of 200": 200, "Adam (lr 1e-3), batches of 50": "Adam"}
    runs = {name: [lbfgs_run(task, size, seed, passes) for seed in seeds] for name, size in methods.items()}
    curves = {name: [curve for curve, _ in pairs] for name, pairs in runs.items()}
    test = {name: [accuracy for _, accuracy in pairs] for name, pairs in runs.items()}
    lines = [f"(3c) L-BFGS (strong Wolfe line search, history 10) on the MLP, {passes} passes over "
             f"the {task.train_size} training images, {len(seeds)} seeds",
             f"{'method':<32}{'final train loss':>18}{'test %':>15}"]
    fig, axes = figure(1, 1, (7.5, 4.8))
    for (name, runs), color in zip(curves.items(), ("tab:green", "tab:olive", "tab:red")):
        lines.append(f"{name:<32}{mean_sd([run[-1, 1] for run in runs], 1, 3):>18}{mean_sd(test[name]):>15}")
        for i, run in enumerate(runs):  # L-BFGS logs at uneven points: each seed its own line
            axes[0, 0].plot(run[:, 0], run[:, 1], color=color, alpha=0.8, label=name if i == 0 else None)
    log_y(axes[0, 0])
    axes[0, 0].set(title="MLP: training loss (all training images, eval mode), one line a seed",
                   xlabel="passes over the training data (gradient evaluations)",
                   ylabel="cross-entropy (log scale)", xlim=(0, passes))
    axes[0, 0].legend()
    results = {name: {"final_train_loss": [run[-1, 1] for run in curves[name]], "test_accuracy": test[name]}
               for name in methods}
    return "\n".join(lines), results, [save(fig, out / "lbfgs.png")]


def schedules(total):
    """name -> a function (optimizer -> its scheduler, or None), for `total` steps with one scheduler step each."""
    warmup = max(1, total // 10)
    return {
        "constant": lambda opt: None,
        "step (x0.1 at 50 %, 75 %)": lambda opt: lr_scheduler.MultiStepLR(opt, [total // 2, 3 * total // 4], 0.1),
        "exponential (to 1 %)": lambda opt: lr_scheduler.ExponentialLR(opt, 0.01 ** (1 / total)),
        "1/t (1 / (1 + 10 t / T))": lambda opt: lr_scheduler.LambdaLR(opt, lambda k: 1 / (1 + 10 * k / total)),
        "cosine": lambda opt: lr_scheduler.CosineAnnealingLR(opt, total),
        "warm-up 10 % + cosine": lambda opt: lr_scheduler.LambdaLR(
            opt, lambda k: (k + 1) / warmup if k < warmup
            else 0.5 * (1 + math.cos(math.pi * (k - warmup) / (total - warmup)))),
    }


def schedule_study(task, out, seeds, grid):
    total = task.epochs * (task.train_size // BATCH)  # as train() steps
    makers = schedules(total)
    results = {}
    for name, maker in makers.items():
        def make(params, lr, maker=maker):
            opt = make_optimizer("Momentum", params, lr)
            return opt, maker(opt)
        results[name] = choose_and_run(task, "MLP", make, seeds, grid)
    lines = [f"(3d) decay schedules for SGD with momentum 0.9 on the MLP, stepped every step of {total}; "
             f"the base lr of each chosen on validation", f"{'schedule':<28}{'base lr':>8}{'test %':>15}"
             f"{'final train loss':>20}"]
    fig, axes = figure(1, 3, (18, 4.8))
    colors = dict(zip(makers, ("tab:gray", "tab:blue", "tab:green", "tab:orange", "tab:red", "tab:purple")))
    for name, result in results.items():
        lines.append(f"{name:<28}{result['lr']:>8.2g}{mean_sd(result['test_accuracy']):>15}"
                     f"{mean_sd([r[-1] for r in result['train_loss']], 1, 3):>20}")
        probe = optim.SGD([tl.zeros(1, requires_grad=True)], lr=1.0)
        scheduler, multipliers = makers[name](probe), []
        for _ in range(total):
            multipliers.append(probe.param_groups[0]["lr"])
            if scheduler is not None:
                scheduler.step()
        axes[0, 0].plot(multipliers, color=colors[name], label=name)
        epochs = np.arange(task.epochs + 1)
        band(axes[0, 1], epochs, result["train_loss"], colors[name], f"{name} (lr {result['lr']:.2g})")
        band(axes[0, 2], epochs, result["val_accuracy"], colors[name], name, scale=100)
    axes[0, 0].set(title="lr / base lr", xlabel="step")
    log_y(axes[0, 1])
    axes[0, 1].set(title=f"training loss (eval mode, {CURVE_IMAGES} training images)", xlabel="epoch")
    axes[0, 2].set(title=f"validation accuracy %, {len(seeds)} seeds", xlabel="epoch")
    for ax in axes.flat:
        ax.legend(fontsize=8)
    return "\n".join(lines), results, [save(fig, out / "schedules.png")]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="outputs/optimizers", help="folder for the PNGs and results.json")
    parser.add_argument("--quick", action="store_true", help="a few steps of everything (for the tests)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    quick = args.quick
    seeds = SEEDS[:2] if quick else SEEDS  # two: the sample std needs them
    grid = LR_GRID[2::3] if quick else LR_GRID
    splits = mnist_test((300, 200, 200) if quick else (POOL, VAL, TEST))
    task = Task(splits, quick)
    studies = [("paths", lambda: path_study(out, quick)),
               ("networks", lambda: network_study(task, out, seeds, grid)),
               ("adam_bias_correction", lambda: bias_correction_study(task, out, seeds, 10 if quick else 100)),
               ("momentum_local_minimum", lambda: momentum_study(out, 300)),
               ("lbfgs", lambda: lbfgs_study(task, out, seeds, 2 if quick else 15)),
               ("schedules", lambda: schedule_study(task, out, seeds, grid))]
    results, pictures = run_studies(studies, clock=time.process_time, unit="s of CPU time")
    seconds, cpu_seconds = save_results(out, results, pictures, quick=quick, seeds=list(seeds), started=started)
    print(f"plots and results.json in {out}/; total {seconds:.0f} s ({cpu_seconds:.0f} s of CPU time)")


if __name__ == "__main__":
    main()
