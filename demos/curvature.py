"""Curvature lab: Newton's method, sharpness and saddle points, with Hessians from double backward.

    python demos/curvature.py            # about 2 minutes of CPU time (3.5 minutes on a busy machine)
    python demos/curvature.py --quick    # a smoke test in seconds

(a) Newton vs gradient descent vs L-BFGS on L2-regularised logistic regression
    (4 vs 9, every such image of the MNIST test set, pixels / 255, float64):
    f(w, b) = mean BCE(x.w + b, y) + LAMBDA / 2 |w|^2. The optimum f* is
    Newton's method run to convergence; then steps and CPU time until
    f - f* <= TOLERANCE. Gradient descent uses the classic safe rate 1 / L,
    L = |X|_2^2 / (4 N) + LAMBDA (a bound on the Hessian); L-BFGS is
    optim.LBFGS with history 10 and the strong-Wolfe line search, one
    iteration per step. Then the Hessian's cost: the images averaged down to
    4x4, 7x7, 14x14 and 28x28 (n = 16 .. 784 features): CPU time of one Newton
    step (n + 1 backward passes for the Hessian's rows, then a solve) against
    one gradient step, and the autograd Hessian checked against the closed
    form X^T diag(p (1 - p)) X / N + LAMBDA.
(b) Sharpness during training (Cohen et al., ICLR 2021, "edge of
    stability"): an MLP 196-32-10 (tanh) on 1,000 MNIST images (14x14,
    pixels / 255, float64) with the paper's squared loss on one-hot targets,
    full-batch gradient descent at three learning rates; every few steps the largest Hessian eigenvalue of the loss on that
    batch (optim.top_hessian_eigenvalue: power iteration on Hessian-vector
    products). Gradient descent on a quadratic of curvature s is stable only
    if s < 2 / lr; the paper's finding is that sharpness rises until it
    reaches 2 / lr and then hovers there.
(c) Saddle points in numbers: a tiny MLP 16-12-10 (tanh, 334 parameters, 4x4
    images, 500 of them, standardised), its full Hessian (tl.autograd.functional.hessian on
    the flat parameter vector, float64) and numpy's eigvalsh at
    initialisation and after full-batch gradient descent: how many
    eigenvalues are negative (below -1e-6 times the largest).

Seeds: (a) is deterministic (starts at zero); (b) and (c) use SEEDS
initialisations (mean +- std). Times are CPU seconds of one thread
(process time), so a busy machine changes them less than wall time.
PNGs, the tables and results.json go to --out.
"""
import argparse
import os
import pathlib
import time

# Small matrices: one BLAS thread, so CPU time is the cost of the method (and a busy machine's spin-waiting
# does not slow the run down); this must precede importing NumPy.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from common import figure, mean_std, mnist_test, run_studies, save, save_results  # noqa: E402

import minitl as tl  # noqa: E402
from minitl import optim  # noqa: E402
from minitl.nn import functional as F  # noqa: E402

SEEDS = 3
DIGITS = (4, 9)  # the pair of (a): similar shapes, so the classes overlap and the optimum is finite and interesting
LAMBDA = 1e-3
TOLERANCE = 1e-8
SHARPNESS_LRS = (0.1, 0.2, 0.4)  # (b); 2 / lr = 20, 10, 5 (the sharpness at initialisation is about 7.5)
NEGATIVE = 1e-6  # (c): an eigenvalue below -NEGATIVE * (largest eigenvalue) counts as negative


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test, not a result")
    parser.add_argument("--out", default="outputs/curvature", help="directory for plots and results.json")
    return parser.parse_args()


# -- data and helpers --------------------------------------------------------------------------------------
def mnist_images(side):
    """MNIST's test set as float64 (N, side * side) pixel means over side x side blocks (pixels / 255), labels."""
    images, labels = mnist_test(shape=(28, 28), dtype=np.float64)
    block = 28 // side
    return images.reshape(-1, side, block, side, block).mean(axis=(2, 4)).reshape(len(images), -1), labels


def float64(array):
    return tl.tensor(array, dtype=tl.float64)


# -- (a) Newton vs gradient descent vs L-BFGS ------------------------------------------------------------------
class LogisticRegression:
    """f(w, b) = mean BCE-with-logits(X w + b, y) + LAMBDA / 2 |w|^2 on one pair of digits, from w = b = 0."""

    def __init__(self, side, images=None):
        pixels, labels = mnist_images(side)
        keep = np.isin(labels, DIGITS)
        if images is not None:
            keep &= np.cumsum(keep) <= images
        self.x, self.y = pixels[keep], (labels[keep] == DIGITS[1]).astype(np.float64)
        self.inputs, self.targets = float64(self.x), float64(self.y)
        self.design = np.hstack([self.x, np.ones((len(self.x), 1))])  # [X 1]: the bias as one more feature
        self.w = tl.zeros(self.x.shape[1], dtype=tl.float64, requires_grad=True)
        self.b = tl.zeros(1, dtype=tl.float64, requires_grad=True)
        self.params = [self.w, self.b]

    def loss(self):
        return self.loss_at(self.w, self.b)

    def loss_at(self, w, b):
        return F.binary_cross_entropy_with_logits(self.inputs @ w + b, self.targets) + 0.5 * LAMBDA * (w * w).sum()

    def gradient_bound(self):
        """L = |[X 1]|_2^2 / (4 N) + LAMBDA >= the Hessian's largest eigenvalue (since p (1 - p) <= 1/4)."""
        return np.linalg.norm(self.design, 2) ** 2 / (4 * len(self.x)) + LAMBDA

    def closed_form_hessian(self):
        """X^T diag(p (1 - p)) X / N + LAMBDA (on w only), with X = [pixels 1]: the Hessian by hand."""
        p = 1 / (1 + np.exp(-(self.design @ np.concatenate([self.w.detach().numpy(), self.b.detach().numpy()]))))
        hessian = self.design.T @ (self.design * (p * (1 - p))[:, None]) / len(self.x)
        return hessian + LAMBDA * np.diag(np.r_[np.ones(self.x.shape[1]), 0.0])


def gradient_descent_step(problem, lr):
    loss = problem.loss()
    grads = tl.autograd.grad(loss, problem.params)
    with tl.no_grad():
        for p, g in zip(problem.params, grads):
            p.data -= lr * g.data
    return loss.item()


def run_method(problem, step, max_steps, stop):
    """Values f after each step (f(x0) first) and cumulative CPU seconds; stops when stop(f) or at max_steps."""
    with tl.no_grad():
        values, seconds = [problem.loss().item()], [0.0]
    start = time.process_time()
    for _ in range(max_steps):
        step()
        seconds.append(time.process_time() - start)
        with tl.no_grad():
            values.append(problem.loss().item())
        if stop(values):
            break
    return values, seconds


def lbfgs_run(problem, iterations):
    """One call of LBFGS.step for `iterations` iterations: the value after each iteration (the lowest value its
    line search evaluated: the point it accepts) and cumulative CPU seconds, and the number of evaluations.

    One call rather than one per iteration, as L-BFGS is meant to be used: called again and again with
    max_iter=1, PyTorch's LBFGS (which this one ports) stalls on this problem (measured while writing this
    demo: stuck at f - f* = 1.6e-5 in torch and here alike, where one call converges)."""
    opt = optim.LBFGS(problem.params, lr=1, max_iter=iterations, max_eval=10 * iterations, history_size=10,
                      line_search_fn="strong_wolfe", tolerance_grad=0, tolerance_change=0)
    evaluated = []  # (iteration, value, CPU seconds) at every evaluation
    start = time.process_time()

    def closure():
        opt.zero_grad()
        loss = problem.loss()
        loss.backward()
        evaluated.append((opt.state[problem.w].get("n_iter", 0), loss.item(), time.process_time() - start))
        return loss

    opt.step(closure)
    values, seconds = [], []
    for iteration in range(evaluated[-1][0] + 1):
        of_iteration = [(value, cpu) for k, value, cpu in evaluated if k == iteration]
        if of_iteration:  # an iteration that stopped before its line search evaluated nothing
            values.append(min(value for value, _ in of_iteration))
            seconds.append(of_iteration[-1][1])
    return (values, seconds), len(evaluated)


def first_below(gaps, seconds):
    """(steps, CPU seconds) until the gap is <= TOLERANCE, or (None, None)."""
    below = np.flatnonzero(np.asarray(gaps) <= TOLERANCE)
    return (int(below[0]), seconds[below[0]]) if len(below) else (None, None)


def convergence_study(out, quick):
    images = 300 if quick else None
    side = 14 if quick else 28
    newton = LogisticRegression(side, images)
    # f*: Newton until the value stops changing (quadratic convergence ends at rounding level)
    values, newton_seconds = run_method(newton, lambda: optim.newton_step(newton.loss, newton.params), 30,
                                        lambda v: len(v) > 2 and abs(v[-1] - v[-2]) <= 1e-15 * abs(v[-1]))
    optimum = values[-1]
    grad_norm = float(np.sqrt(sum(float((g * g).sum()) for g in tl.autograd.grad(newton.loss(), newton.params))))
    curves = {"Newton": (values, newton_seconds)}
    reached = lambda v: v[-1] - optimum <= TOLERANCE  # noqa: E731
    gd = LogisticRegression(side, images)
    lr = 1 / gd.gradient_bound()
    curves["gradient descent"] = run_method(gd, lambda: gradient_descent_step(gd, lr), 300 if quick else 5000, reached)
    lbfgs = LogisticRegression(side, images)
    curves["L-BFGS"], evaluations = lbfgs_run(lbfgs, 100 if quick else 1000)
    n = newton.x.shape[1] + 1
    table = [(f"(a) logistic regression {DIGITS[0]} vs {DIGITS[1]}, {len(newton.x)} MNIST images, n = {n} "
              f"parameters, L2 {LAMBDA:g}, float64; f* = {optimum:.12f} (Newton, |grad| {grad_norm:.1e})"),
             f"{'method':<18}{'steps':>8}{'CPU s':>9}{'to f - f* <= ' + f'{TOLERANCE:g}':>26}{'f - f* at the end':>20}"]
    results = {"optimum": optimum, "grad_norm_at_optimum": grad_norm, "n": n, "images": len(newton.x),
               "gd_lr": lr, "lbfgs_function_evaluations": evaluations}
    for name, (values, seconds) in curves.items():
        gaps = [v - optimum for v in values]
        steps, cpu = first_below(gaps, seconds)
        when = f"step {steps}, {cpu:.2f} s" if steps is not None else "not reached"
        table.append(f"{name:<18}{len(values) - 1:>8}{seconds[-1]:>9.2f}{when:>26}{max(gaps[-1], 0):>20.1e}")
        results[name] = {"steps_to_tolerance": steps, "cpu_seconds_to_tolerance": cpu, "gaps": gaps,
                         "cpu_seconds": seconds}
    table.append(f"(gradient descent: lr = 1/L = {lr:.3g}; L-BFGS: {evaluations} function evaluations in "
                 f"{len(curves['L-BFGS'][0]) - 1} iterations)")
    fig, axes = figure(1, 2, (12, 4.5))
    for i, (name, (values, seconds)) in enumerate(curves.items()):
        gaps = np.maximum(np.asarray(values) - optimum, 1e-17)  # f* itself (and rounding below it) at the floor
        axes[0][0].plot(gaps, marker="o" if name == "Newton" else None, markersize=4, color=f"C{i}", label=name)
        axes[0][1].plot(seconds, gaps, marker="o" if name == "Newton" else None, markersize=4, color=f"C{i}",
                        label=name)
    for axis, xlabel in zip(axes[0], ("step", "CPU seconds")):
        axis.axhline(TOLERANCE, color="grey", linestyle=":", label=f"{TOLERANCE:g}")
        axis.set(xlabel=xlabel, ylabel="f - f*", yscale="log", ylim=(1e-17, None))
        axis.grid(alpha=0.3)
        axis.legend()
    axes[0][0].set(title="logistic regression on MNIST: f - f* per step")
    axes[0][0].set_xscale("symlog", linthresh=10)  # linear for Newton's few steps, logarithmic beyond
    axes[0][0].set_xlim(left=0)
    axes[0][1].set(xscale="log", title="... and per CPU second")
    return "\n".join(table), results, [save(fig, out / "a_convergence.png")]


def hessian_cost_study(out, quick):
    """CPU seconds of one Newton step and one gradient step as the number of features grows."""
    sides = (4, 7) if quick else (4, 7, 14, 28)
    table = [f"Hessian cost: one Newton step vs one gradient step, {DIGITS[0]} vs {DIGITS[1]}, median of 3 steps",
             f"{'features':>9}{'n':>6}{'Newton step s':>15}{'gradient step ms':>18}{'ratio':>8}"
             f"{'|H - closed form|':>19}"]
    rows = []
    for side in sides:
        problem = LogisticRegression(side, 300 if quick else None)
        newton, gradient = [], []
        for _ in range(3):
            start = time.process_time()
            gradient_descent_step(problem, 0.0)
            gradient.append(time.process_time() - start)
            start = time.process_time()
            optim.newton_step(problem.loss, problem.params)
            newton.append(time.process_time() - start)
        hessian = tl.autograd.functional.hessian(problem.loss_at, (problem.w, problem.b))
        autograd_hessian = np.block([[hessian[0][0].numpy(), hessian[0][1].numpy()],
                                     [hessian[1][0].numpy(), hessian[1][1].numpy()]])
        error = float(np.abs(autograd_hessian - problem.closed_form_hessian()).max())
        n = side * side + 1
        rows.append({"features": side * side, "n": n, "newton_seconds": float(np.median(newton)),
                     "gradient_seconds": float(np.median(gradient)), "hessian_max_error": error})
        table.append(f"{side * side:>9}{n:>6}{rows[-1]['newton_seconds']:>15.3f}"
                     f"{1000 * rows[-1]['gradient_seconds']:>18.2f}"
                     f"{rows[-1]['newton_seconds'] / rows[-1]['gradient_seconds']:>8.0f}{error:>19.1e}")
    slope = np.polyfit(np.log([r["n"] for r in rows[-2:]]), np.log([r["newton_seconds"] for r in rows[-2:]]), 1)[0]
    table.append(f"(the Newton step's time grows as n^{slope:.1f} between the two largest n: n backward passes, "
                 f"each O(N n))")
    fig, axes = figure(1, 1, (6, 4.5))
    axis = axes[0][0]
    ns = [r["n"] for r in rows]
    axis.plot(ns, [r["newton_seconds"] for r in rows], marker="o", label="Newton step (autograd Hessian + solve)")
    axis.plot(ns, [r["gradient_seconds"] for r in rows], marker="o", label="gradient step")
    axis.set(xscale="log", yscale="log", xlabel="parameters n", ylabel="CPU seconds per step",
             title="the Hessian's cost")
    axis.grid(alpha=0.3)
    axis.legend()
    return "\n".join(table), {"rows": rows, "newton_time_exponent": slope}, [save(fig, out / "a_hessian_cost.png")]


# -- (b) sharpness under full-batch gradient descent -------------------------------------------------------------
def first_images(side, size):
    """The first `size` test images (side x side, pixels / 255) as float64 tensors, and their labels."""
    pixels, labels = mnist_images(side)
    return float64(pixels[:size]), tl.tensor(labels[:size])


def squared_error(outputs, labels):
    """1/2 |outputs - one_hot(labels)|^2 summed over the classes, averaged over the images (Cohen et al.'s loss)."""
    one_hot = float64(np.eye(outputs.shape[1])[labels.numpy()])
    return 0.5 * ((outputs - one_hot) ** 2).sum(1).mean()


def sharpness_run(images, labels, lr, steps, every, seed, iters):
    """Full-batch gradient descent on an MLP 196-32-10 (tanh): the loss at every step, the top Hessian
    eigenvalue every `every` steps; stops early if the loss stops being finite."""
    tl.manual_seed(seed)
    model = tl.nn.Sequential(tl.nn.Linear(images.shape[1], 32), tl.nn.Tanh(), tl.nn.Linear(32, 10)).double()
    params = list(model.parameters())
    optimizer = optim.SGD(params, lr=lr)
    losses, checked, sharpness = [], [], []
    for step in range(steps + 1):
        loss = squared_error(model(images), labels)
        losses.append(loss.item())
        if not np.isfinite(losses[-1]):
            break
        if step % every == 0:
            checked.append(step)
            sharpness.append(optim.top_hessian_eigenvalue(lambda: squared_error(model(images), labels), params,
                                                          iters=iters, seed=step))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return {"losses": losses, "steps": checked, "sharpness": sharpness}


def sharpness_study(out, quick, seeds):
    images, labels = first_images(14, 200 if quick else 1000)
    steps, every, iters = (30, 10, 5) if quick else (3000, 20, 20)
    runs = {lr: [sharpness_run(images, labels, lr, steps, every, seed, iters) for seed in range(seeds)]
            for lr in SHARPNESS_LRS}
    table = [(f"(b) sharpness (top Hessian eigenvalue, {iters} power iterations) of an MLP 196-32-10 (tanh), squared loss, on "
              f"{len(labels)} MNIST images, full-batch GD for {steps} steps, checked every {every}; {seeds} seeds"),
             f"{'lr':>6}{'2/lr':>7}{'at init':>16}{'max':>16}{'last third':>16}{'first >= 0.9 * 2/lr':>22}"
             f"{'final loss':>18}"]
    results = {}
    for lr, lr_runs in runs.items():
        limit = 2 / lr
        sharp = [np.asarray(r["sharpness"]) for r in lr_runs]
        crossings = [np.asarray(r["steps"])[s >= 0.9 * limit] for r, s in zip(lr_runs, sharp)]
        crossed = [int(c[0]) for c in crossings if len(c)]
        count = "" if len(crossed) == seeds > 1 else f" ({len(crossed)}/{seeds})" if seeds > 1 else " (1 seed)"
        if len(crossed) > 1:
            crossing = f"step {mean_std(crossed, digits=0)}{count}"
        else:  # no spread of one value
            crossing = f"step {crossed[0]}{count}" if crossed else "never"
        last_third = [s[len(s) * 2 // 3:].mean() for s in sharp]
        table.append(f"{lr:>6g}{limit:>7g}{mean_std([s[0] for s in sharp]):>16}{mean_std([s.max() for s in sharp]):>16}"
                     f"{mean_std(last_third):>16}{crossing:>22}{mean_std([r['losses'][-1] for r in lr_runs], digits=3):>18}")
        results[f"{lr:g}"] = {"two_over_lr": limit, "first_step_at_0.9_limit": crossed, "runs": lr_runs}
    fig, axes = figure(1, 2, (13, 4.5))
    sharp_axis, loss_axis = axes[0]
    for i, (lr, lr_runs) in enumerate(runs.items()):
        for seed, run in enumerate(lr_runs):
            label = f"lr {lr:g}" if seed == 0 else None
            sharp_axis.plot(run["steps"], run["sharpness"], color=f"C{i}", alpha=0.8, label=label)
            loss_axis.plot(run["losses"], color=f"C{i}", alpha=0.8, label=label)
        sharp_axis.axhline(2 / lr, color=f"C{i}", linestyle="--", label=f"2/lr = {2 / lr:g}")
    sharp_axis.set(xlabel="step", ylabel="top Hessian eigenvalue", title="sharpness under full-batch GD")
    loss_axis.set(xlabel="step", ylabel="training loss (the full batch)", yscale="log", title="loss")
    for axis in (sharp_axis, loss_axis):
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    return "\n".join(table), results, [save(fig, out / "b_sharpness.png")]


# -- (c) negative eigenvalues: the saddle-point picture --------------------------------------------------------
TINY_SIZES = (16, 12, 10)


def tiny_mlp_loss(images, labels):
    """loss(flat parameter vector) of an MLP 16-12-10 (tanh): the full Hessian is then one matrix."""
    (inputs, hidden, classes) = TINY_SIZES

    def loss(flat):
        w1_end = hidden * inputs
        b1_end = w1_end + hidden
        w2_end = b1_end + classes * hidden
        w1, b1 = flat[:w1_end].reshape(hidden, inputs), flat[w1_end:b1_end]
        w2, b2 = flat[b1_end:w2_end].reshape(classes, hidden), flat[w2_end:]
        return F.cross_entropy(tl.tanh(images @ w1.T + b1) @ w2.T + b2, labels)
    return loss


def initial_parameters(seed):
    """PyTorch's default Linear initialisation of the tiny MLP, flattened (weights then bias, layer by layer)."""
    tl.manual_seed(seed)
    layers = [tl.nn.Linear(a, b).double() for a, b in zip(TINY_SIZES, TINY_SIZES[1:])]
    return np.concatenate([p.detach().numpy().ravel() for layer in layers for p in (layer.weight, layer.bias)])


def spectrum(loss, flat):
    """The Hessian's eigenvalues at `flat` (ascending) and the number below -NEGATIVE * the largest."""
    hessian = tl.autograd.functional.hessian(loss, float64(flat)).numpy()
    eigenvalues = np.linalg.eigvalsh((hessian + hessian.T) / 2)
    return eigenvalues, int((eigenvalues < -NEGATIVE * eigenvalues[-1]).sum())


def saddle_study(out, quick, seeds):
    pixels, labels = mnist_images(4)
    pixels, labels = pixels[:200 if quick else 500], tl.tensor(labels[:200 if quick else 500])
    images = float64((pixels - pixels.mean()) / pixels.std())  # standardised: trains much further in the budget
    loss = tiny_mlp_loss(images, labels)
    steps, lr = (100, 0.5) if quick else (10000, 0.5)
    table = [(f"(c) Hessian spectrum of an MLP 16-12-10 (tanh) on {len(labels)} MNIST images (4x4), full Hessian, "
              f"float64; trained by full-batch GD, lr {lr:g}, {steps} steps; {seeds} seeds"),
             f"{'':<14}{'parameters':>11}{'loss':>18}{'|gradient|':>18}{'negative eigenvalues':>24}"
             f"{'most negative':>20}{'largest':>18}"]
    rows = {"initialisation": [], "trained": []}
    for seed in range(seeds):
        flat = tl.tensor(initial_parameters(seed), dtype=tl.float64, requires_grad=True)
        for stage in rows:
            if stage == "trained":
                for _ in range(steps):
                    (gradient,) = tl.autograd.grad(loss(flat), flat)
                    with tl.no_grad():
                        flat.data -= lr * gradient.data
            eigenvalues, negative = spectrum(loss, flat.detach().numpy())
            value = loss(flat)
            (gradient,) = tl.autograd.grad(value, flat)
            rows[stage].append({"loss": value.item(), "gradient_norm": float(np.linalg.norm(gradient.numpy())),
                                "negative": negative, "eigenvalues": eigenvalues.tolist()})
    for stage, stage_rows in rows.items():
        eigenvalues = [np.asarray(r["eigenvalues"]) for r in stage_rows]
        table.append(f"{stage:<14}{len(eigenvalues[0]):>11}{mean_std([r['loss'] for r in stage_rows], digits=3):>18}"
                     f"{mean_std([r['gradient_norm'] for r in stage_rows], digits=3):>18}"
                     f"{mean_std([r['negative'] for r in stage_rows]):>24}"
                     f"{mean_std([e[0] for e in eigenvalues], digits=3):>20}"
                     f"{mean_std([e[-1] for e in eigenvalues], digits=2):>18}")
    fig, axes = figure(1, 1, (8, 4.5))
    axis = axes[0][0]
    for i, (stage, stage_rows) in enumerate(rows.items()):
        for seed, row in enumerate(stage_rows):
            axis.plot(row["eigenvalues"], color=f"C{i}", alpha=0.8,
                      label=f"{stage} ({row['negative']} negative)" if seed == 0 else None)
    axis.axhline(0, color="black", linewidth=0.8)
    axis.set(yscale="symlog", xlabel="eigenvalue index (ascending)", ylabel="eigenvalue (symlog)",
             title=f"Hessian spectrum of a {len(rows['trained'][0]['eigenvalues'])}-parameter MLP, {seeds} seeds")
    axis.set_yscale("symlog", linthresh=1e-4)
    axis.grid(alpha=0.3)
    axis.legend()
    return "\n".join(table), rows, [save(fig, out / "c_spectrum.png")]


def main():
    args = parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    seeds = 1 if args.quick else SEEDS
    studies = [("convergence", lambda: convergence_study(out, args.quick)),
               ("hessian_cost", lambda: hessian_cost_study(out, args.quick)),
               ("sharpness", lambda: sharpness_study(out, args.quick, seeds)),
               ("saddles", lambda: saddle_study(out, args.quick, seeds))]
    results, pictures = run_studies(studies, clock=time.process_time, unit="s of CPU time")
    seconds, cpu_seconds = save_results(out, results, pictures, quick=args.quick, seeds=seeds, started=started)
    print(f"plots and results.json in {out}/; total {seconds:.0f} s ({cpu_seconds:.0f} s of CPU time)")


if __name__ == "__main__":
    main()
