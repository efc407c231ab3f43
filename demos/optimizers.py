"""The optimizer study: how SGD, momentum, Nesterov, AdaGrad, RMSProp and Adam move.

    python demos/optimizers.py [--out outputs] [--quick]

Part 1 runs every optimizer from the same start on three 2-D functions, like
the lecture's figures, and saves one PNG per function: the trajectories over
the contour lines, and the loss against the step.

  ravine      f = 0.05 x^2 + 5 y^2: steep across, shallow along (condition
              number 100). Plain SGD zig-zags across and crawls along;
              momentum builds speed along the valley but overshoots, less so
              with Nesterov; AdaGrad/RMSProp/Adam rescale each direction
              (with a constant lr, RMSProp keeps jittering at a scale set by lr).
  rosenbrock  f = (1 - x)^2 + 100 (y - x^2)^2: a curved, flat-bottomed valley
              where SGD's step must be small for the steep walls and is then
              far too small along the floor.
  saddle      f = x^2 / 2 + y^4 / 4 - y^2 / 2, from just beside the saddle at
              (0, 0): the gradient across is tiny there, so SGD lingers,
              momentum escapes faster, and the adaptive methods, which divide
              the tiny gradient by its own size, escape at once.

Each optimizer gets a learning rate that suits it on each function (one lr
for all would be unfair to some). A table gives the final loss and the
number of steps until f - min f < 1e-3.

Part 2 trains the same small MLP (2-64-3, ReLU) on a 3-class spiral data set
with each optimizer and plots the training loss curves.

Everything runs with minitl on the CPU in well under 30 s; --quick runs a
few steps of each, for the tests.
"""
import argparse
import pathlib
import time

import numpy as np

import minitl as tl
from minitl import optim

THRESHOLD = 1e-3
COLORS = {"SGD": "tab:gray", "Momentum": "tab:blue", "Nesterov": "tab:cyan", "AdaGrad": "tab:green",
          "RMSProp": "tab:orange", "Adam": "tab:red"}

# name -> function of (x, y), working on NumPy arrays and minitl tensors alike
FUNCTIONS = {
    "ravine": lambda x, y: 0.05 * x ** 2 + 5 * y ** 2,
    "rosenbrock": lambda x, y: (1 - x) ** 2 + 100 * (y - x ** 2) ** 2,
    "saddle": lambda x, y: x ** 2 / 2 + y ** 4 / 4 - y ** 2 / 2,
}

# name -> the points where the gradient is zero, with what they are (marked on the plots)
CRITICAL_POINTS = {
    "ravine": [((0.0, 0.0), "minimum")],
    "rosenbrock": [((1.0, 1.0), "minimum")],
    "saddle": [((0.0, 0.0), "saddle"), ((0.0, 1.0), "minimum"), ((0.0, -1.0), "minimum")],
}

# name -> (start, minimum value, steps, plot window (xmin, xmax, ymin, ymax), lr for each optimizer);
# the window grows to keep every trajectory in view
SETTINGS = {
    "ravine": ((-9.0, 2.0), 0.0, 300, (-10, 2, -2.5, 2.5),
               {"SGD": 0.19, "Momentum": 0.05, "Nesterov": 0.05, "AdaGrad": 2.0, "RMSProp": 0.05, "Adam": 0.5}),
    "rosenbrock": ((-1.5, 2.0), 0.0, 1500, (-2, 2, -1, 3),
                   {"SGD": 1e-3, "Momentum": 1e-3, "Nesterov": 1e-3, "AdaGrad": 0.5, "RMSProp": 0.01,
                    "Adam": 0.1}),
    "saddle": ((-2.0, 1e-3), -0.25, 150, (-2.2, 1.2, -0.6, 1.4),
               {"SGD": 0.1, "Momentum": 0.1, "Nesterov": 0.1, "AdaGrad": 0.5, "RMSProp": 0.05, "Adam": 0.1}),
}


def make_optimizer(name, params, lr):
    if name == "SGD":
        return optim.SGD(params, lr=lr)
    if name == "Momentum":
        return optim.SGD(params, lr=lr, momentum=0.9)
    if name == "Nesterov":
        return optim.SGD(params, lr=lr, momentum=0.9, nesterov=True)
    if name == "AdaGrad":
        return optim.Adagrad(params, lr=lr)
    if name == "RMSProp":
        return optim.RMSprop(params, lr=lr, alpha=0.9)
    return optim.Adam(params, lr=lr)


# -- part 1: trajectories on 2-D functions -----------------------------------------------------------
def trajectory(f, start, optimizer_name, lr, steps):
    """The points visited (steps + 1, 2) and the loss at each, optimizing f from start."""
    p = tl.tensor(start, dtype=tl.float64, requires_grad=True)
    opt = make_optimizer(optimizer_name, [p], lr)
    points, losses = [], []
    for _ in range(steps):
        opt.zero_grad()
        loss = f(p[0], p[1])
        loss.backward()
        points.append(p.data.copy())
        losses.append(loss.item())
        opt.step()
    points.append(p.data.copy())
    losses.append(f(*p.data))
    return np.array(points), np.array(losses)


def steps_to_threshold(losses, f_min):
    below = np.flatnonzero(losses - f_min < THRESHOLD)
    return int(below[0]) if below.size else None


def view(window, runs, marked):
    """(x0, x1, y0, y1): the function's window, grown (with a 5 % margin) to hold every trajectory and
    the `marked` points."""
    points = np.concatenate([points for points, _ in runs.values()] + [np.array(marked).reshape(-1, 2)])
    x0, x1 = min(window[0], points[:, 0].min()), max(window[1], points[:, 0].max())
    y0, y1 = min(window[2], points[:, 1].min()), max(window[3], points[:, 1].max())
    dx, dy = 0.05 * (x1 - x0), 0.05 * (y1 - y0)
    return x0 - dx, x1 + dx, y0 - dy, y1 + dy


def plot_function(name, runs, out_dir):
    from matplotlib.figure import Figure

    f = FUNCTIONS[name]
    start, f_min, _, window, lrs = SETTINGS[name]
    fig = Figure(figsize=(13, 5.2))
    ax, ax_loss = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.4, 1]})
    x0, x1, y0, y1 = view(window, runs, [point for point, _ in CRITICAL_POINTS[name]])
    X, Y = np.meshgrid(np.linspace(x0, x1, 300), np.linspace(y0, y1, 300))
    Z = f(X, Y) - f_min
    ax.contour(X, Y, Z, levels=np.geomspace(max(Z.min(), 1e-3), Z.max(), 25), cmap="Greys", linewidths=0.6)
    for optimizer_name, (points, losses) in runs.items():
        label = f"{optimizer_name} (lr {lrs[optimizer_name]:g})"
        ax.plot(points[:, 0], points[:, 1], ".-", color=COLORS[optimizer_name], markersize=2.5, linewidth=1,
                label=label)
        ax_loss.semilogy(np.maximum(losses - f_min, 1e-12), color=COLORS[optimizer_name], label=label)
    ax.plot(*start, "ko")
    ax.annotate("start", start, textcoords="offset points", xytext=(6, 6))
    for point, kind in CRITICAL_POINTS[name]:
        ax.plot(*point, "*" if kind == "minimum" else "X", color="k", markersize=12, markerfacecolor="gold")
        ax.annotate(kind, point, textcoords="offset points", xytext=(8, -12), fontweight="bold")
    ax.set(xlim=(x0, x1), ylim=(y0, y1), title=f"{name}: trajectories from {start}", xlabel="x", ylabel="y")
    ax.legend(loc="best", fontsize=8)
    ax_loss.axhline(THRESHOLD, color="k", linestyle=":", linewidth=0.8, label=f"{THRESHOLD:g}: 'reached' threshold")
    ax_loss.set(title=f"{name}: distance to the minimum", xlabel="step", ylabel="f(x, y) - min f (log scale)")
    ax_loss.legend(loc="best", fontsize=8)
    fig.tight_layout()
    path = out_dir / f"trajectories_{name}.png"
    fig.savefig(path, dpi=110)
    return path


# -- part 2: a small MLP on spirals -------------------------------------------------------------------------
def spiral_data(points_per_class=100, classes=3, seed=0):
    """cs231n's spiral: `classes` arms of noisy points in the plane; x (N, 2), one-hot y (N, classes)."""
    rng = np.random.default_rng(seed)
    x, labels = [], []
    for c in range(classes):
        r = np.linspace(0.0, 1, points_per_class)
        theta = np.linspace(c * 4, (c + 1) * 4, points_per_class) + rng.normal(scale=0.2, size=points_per_class)
        x.append(np.stack([r * np.sin(theta), r * np.cos(theta)], axis=1))
        labels.append(np.full(points_per_class, c))
    labels = np.concatenate(labels)
    return np.concatenate(x), np.eye(classes)[labels], labels


def cross_entropy(logits, onehot):
    shifted = logits - logits.amax(dim=1, keepdim=True).detach()  # the max only keeps exp() in range
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    return -(onehot * log_probs).sum(dim=1).mean()


def train_mlp(optimizer_name, lr, steps, data, hidden=64, seed=0):
    """Full-batch training; returns the loss at each step and the final training accuracy."""
    x, onehot, labels = data
    rng = np.random.default_rng(seed)  # the same initial weights for every optimizer
    params = [tl.tensor(rng.normal(size=(2, hidden)) * np.sqrt(2 / 2), dtype=tl.float32, requires_grad=True),
              tl.zeros(hidden, requires_grad=True),
              tl.tensor(rng.normal(size=(hidden, 3)) * np.sqrt(2 / hidden), dtype=tl.float32, requires_grad=True),
              tl.zeros(3, requires_grad=True)]
    W1, b1, W2, b2 = params
    x, onehot = tl.tensor(x, dtype=tl.float32), tl.tensor(onehot, dtype=tl.float32)
    opt = make_optimizer(optimizer_name, params, lr)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        logits = (x @ W1 + b1).relu() @ W2 + b2
        loss = cross_entropy(logits, onehot)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    accuracy = float(np.mean(np.argmax(logits.data, axis=1) == labels))
    return np.array(losses), accuracy


MLP_LRS = {"SGD": 1.0, "Momentum": 0.1, "Nesterov": 0.1, "AdaGrad": 0.1, "RMSProp": 0.005, "Adam": 0.01}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="outputs", help="directory for the PNG plots (default: outputs)")
    parser.add_argument("--quick", action="store_true", help="a few steps of everything (for tests)")
    args = parser.parse_args(argv)

    from matplotlib.figure import Figure  # imported here: the demo's dependency, not minitl's

    out_dir = pathlib.Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    print(f"{'function':<11} {'optimizer':<9} {'lr':>7} {'final f - min f':>16} {'steps to < 1e-3':>16}")
    for name, (start, f_min, steps, _, lrs) in SETTINGS.items():
        steps = 20 if args.quick else steps
        runs = {opt_name: trajectory(FUNCTIONS[name], start, opt_name, lr, steps) for opt_name, lr in lrs.items()}
        for opt_name, (_, losses) in runs.items():
            reached = steps_to_threshold(losses, f_min)
            print(f"{name:<11} {opt_name:<9} {lrs[opt_name]:>7g} {losses[-1] - f_min:>16.3e} "
                  f"{'-' if reached is None else reached:>16}")
        print(f"saved {plot_function(name, runs, out_dir)}")

    data = spiral_data()
    steps = 10 if args.quick else 300
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    print(f"\n{'MLP on spirals':<21} {'lr':>7} {'final loss':>11} {'train accuracy':>15}")
    for opt_name, lr in MLP_LRS.items():
        losses, accuracy = train_mlp(opt_name, lr, steps, data)
        ax.plot(losses, color=COLORS[opt_name], label=f"{opt_name} (lr {lr:g})")
        print(f"{opt_name:<21} {lr:>7g} {losses[-1]:>11.4f} {accuracy:>15.1%}")
    ax.set(title="2-64-3 MLP on 3-class spirals, full batch", xlabel="step", ylabel="training loss",
           ylim=(0, None))
    ax.legend()
    fig.tight_layout()
    path = out_dir / "mlp_loss_curves.png"
    fig.savefig(path, dpi=110)
    print(f"saved {path}")
    print(f"done in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
