"""Training dynamics lab: babysitting a network, as the lecture's recap teaches it.

    python demos/training_dynamics.py            # about 40 s of CPU time (2 min on a busy shared machine)
    python demos/training_dynamics.py --quick    # a smoke test in seconds

(a) Weight initialisation: a 10-layer MLP (500 units a layer, tanh or ReLU)
    on random inputs, with weights drawn with std 0.01, std 1.0, Xavier
    (std sqrt(2 / (fan_in + fan_out))) and He (std sqrt(2 / fan_in)). A
    histogram of every layer's activations, and every layer's std printed:
    too small and the activations vanish layer by layer, too large and tanh
    saturates at +-1 (ReLU explodes), Xavier (tanh) and He (ReLU) stay healthy.
(b) Learning rates: a 10-layer ReLU MLP (100 units, He init) on standardised
    MNIST with plain SGD at a rate too low, a good one, one too high and a divergent one.
    The divergence is caught and drawn (a cross where the loss became NaN).
(c) Data preprocessing: one MLP (784-100-10) on raw pixel values (0..255),
    zero-centred ones (minus the mean training image) and standardised ones
    (also divided by the training pixels' std); the learning rate of each is
    the best of LR_GRID on validation data. Measured: steps until the smoothed
    training loss is below TARGET_LOSS, test accuracy, and how much the loss
    moves when every weight tensor is perturbed by 0.1 % of its norm.
(d) Learning-rate schedules on one task: constant, step decay (x0.1 after
    half the epochs) and cosine annealing, each with its base rate chosen on
    validation data; then all three from the same high base rate, where the
    training-loss curves show the drop at the step.
(e) Update/weight ratios per layer over training (``fit(record_stats=...)``)
    for the learning rates of (b) that do not diverge, against the rule of
    thumb of about 1e-3; and what recording costs per training step.

MNIST: only the 10,000-image test set is on disk, so it is split at random
into training (6,000), validation (2,000) and test (2,000) images. Runs are
repeated over SEEDS seeds (mean +- std); PNGs, the tables and results.json go
to --out.
"""
import argparse
import math
import pathlib
import time

import numpy as np
from common import figure, loader, mean_std, mlp, mnist_test, preprocess, run_studies, save, save_results

import minitl as tl
from minitl import nn, optim
from minitl.lab.train import TrainingDiverged, evaluate, fit, plot_history
from minitl.nn import functional as F
from minitl.optim import lr_scheduler

SEEDS = 3
BATCH = 100
INITS = ("std 0.01", "std 1.0", "Xavier", "He")
LR_GRID = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1)  # SGD with momentum 0.9, for (c)
TARGET_LOSS = 0.5
PERTURBATION = 1e-3  # relative size of the weight perturbation in (c)
LEARNING_RATES = {"too low": 1e-3, "good": 0.1, "too high": 0.3, "divergent": 1.0}  # plain SGD, for (b) and (e)
SCHEDULE_LRS = (0.01, 0.03, 0.1)  # base rates tried for each schedule in (d), SGD with momentum 0.9


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test, not a result")
    parser.add_argument("--out", default="outputs/training_dynamics", help="directory for plots and results.json")
    return parser.parse_args()


# -- models (the data, the MLP and the tables' helpers are in common.py) ----------------------------------
def initialiser(name):
    """The weight initialisation called `name` in INITS (He: with ReLU's gain, whatever the activation)."""
    if name == "Xavier":
        return lambda w: nn.init.xavier_normal_(w, gain=1.0)
    if name == "He":
        return lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu")
    std = float(name.split()[1])
    return lambda w: nn.init.normal_(w, 0.0, std)


def deep_relu_net(width=100):
    """The network of (b) and (e): 10 Linear layers, ReLU between them, He initialisation."""
    return mlp([784] + [width] * 9 + [10], nn.ReLU, initialiser("He"))


def train_steps(model, optimizer, split, epochs, seed, scheduler=None):
    """(per-step training losses, the step where the loss stopped being finite or None).

    A plain loop rather than ``fit``: here the per-step curve is the result,
    and a diverging run is something to draw, not an error.
    """
    losses = []
    batches = loader(*split, BATCH, shuffle=True, seed=seed)
    with np.errstate(over="ignore", invalid="ignore"):  # a divergent run overflows on its way to NaN
        for _ in range(epochs):
            for images, labels in batches:
                loss = F.cross_entropy(model(images), labels)
                losses.append(loss.item())
                if not math.isfinite(losses[-1]):
                    return losses, len(losses) - 1
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            if scheduler is not None:
                scheduler.step()
    return losses, None


def smooth(values, window=20):
    """Running mean over `window` steps (the first window - 1 steps average what there is)."""
    sums = np.cumsum(np.insert(np.asarray(values, dtype=np.float64), 0, 0.0))
    counts = np.minimum(np.arange(1, len(values) + 1), window)
    return (sums[1:] - sums[np.arange(1, len(values) + 1) - counts]) / counts


# -- (a) activations under four initialisations ----------------------------------------------------------
def activation_study(out, quick):
    """Per activation function and initialisation: every layer's activations on 1,000 random inputs."""
    width, samples = (100, 200) if quick else (500, 1000)
    inputs = tl.tensor(np.random.default_rng(0).normal(size=(samples, width)), dtype=tl.float32)
    table, stds = [f"(a) std of each layer's activations, 10-layer MLP, {width} units, {samples} random inputs",
                   f"{'activation':<10} {'init':<9}" + "".join(f"{f'L{i}':>9}" for i in range(1, 11))], {}
    pictures = []
    for activation, name in ((nn.Tanh, "tanh"), (nn.ReLU, "relu")):
        fig, axes = figure(len(INITS), 10, (22, 2.2 * len(INITS)))
        for row, init in enumerate(INITS):
            tl.manual_seed(0)
            linears = [nn.Linear(width, width) for _ in range(10)]
            for linear in linears:
                initialiser(init)(linear.weight)
                nn.init.zeros_(linear.bias)
            values, outputs = inputs, []
            with tl.no_grad(), np.errstate(over="ignore", invalid="ignore"):
                for linear in linears:
                    values = activation()(linear(values))
                    outputs.append(values.numpy())
            stds[f"{name} {init}"] = [float(o.std()) for o in outputs]
            table.append(f"{name:<10} {init:<9}" + "".join(f"{s:>9.2g}" for s in stds[f"{name} {init}"]))
            # one x range per row, that of the first layer (tanh: -1..1), so vanishing and exploding show;
            # values outside it are piled into the edge bins. ReLU: only the positive half (the rest is 0)
            low, high = (-1.0, 1.0) if name == "tanh" else (0.0, 3 * stds[f"{name} {init}"][0])
            for layer, (axis, values_of_layer) in enumerate(zip(axes[row], outputs), start=1):
                shown = values_of_layer.ravel() if name == "tanh" else values_of_layer[values_of_layer > 0]
                axis.hist(np.clip(shown, low, high), bins=40, range=(low, high), color=f"C{row}")
                axis.set_yticks([])
                axis.tick_params(labelsize=6)
                axis.set_title(f"L{layer} std {stds[f'{name} {init}'][layer - 1]:.2g}", fontsize=7)
            axes[row][0].set_ylabel(init)
        fig.suptitle(f"{name}: activations per layer (columns) under each initialisation (rows)")
        pictures.append(save(fig, out / f"a_activations_{name}.png"))
    return "\n".join(table), stds, pictures


# -- (b) learning rates ------------------------------------------------------------------------------------
def learning_rate_study(splits, out, epochs, seeds):
    data = preprocess(splits, "standardised")
    runs = {label: [] for label in LEARNING_RATES}
    for label, lr in LEARNING_RATES.items():
        for seed in range(seeds):
            tl.manual_seed(seed)
            model = deep_relu_net()
            losses, diverged = train_steps(model, optim.SGD(model.parameters(), lr=lr), data["train"], epochs, seed)
            accuracy = None if diverged is not None else evaluate(model, loader(*data["test"], BATCH))[1]
            runs[label].append({"losses": losses, "diverged_at": diverged, "test_accuracy": accuracy})
    table = [f"(b) 10-layer ReLU MLP (He init), plain SGD, {epochs} epochs, {seeds} seeds",
             f"{'learning rate':<24}{'final train loss':>20}{'test accuracy %':>18}  diverged"]
    for label, lr in LEARNING_RATES.items():
        finished = [run for run in runs[label] if run["diverged_at"] is None]
        diverged = [run["diverged_at"] for run in runs[label] if run["diverged_at"] is not None]
        final = mean_std([np.mean(run["losses"][-20:]) for run in finished], digits=3) if finished else "-"
        accuracy = mean_std([run["test_accuracy"] for run in finished], 100) if finished else "-"
        note = f"{len(diverged)}/{seeds} runs, at step {min(diverged)}" if diverged else "no"
        table.append(f"{label + f' (lr {lr:g})':<24}{final:>20}{accuracy:>18}  {note}")
    fig, axes = figure(1, 1, (8, 5))
    axis = axes[0][0]
    for i, (label, lr) in enumerate(LEARNING_RATES.items()):
        for seed, run in enumerate(runs[label]):
            curve = np.minimum(run["losses"], 10.0)  # a divergent loss leaves the chart at 10
            axis.plot(curve, color=f"C{i}", alpha=0.8, linewidth=1, label=f"{label} (lr {lr:g})" if seed == 0 else None)
            if run["diverged_at"] is not None:
                axis.plot([run["diverged_at"]], [10.0], marker="x", color=f"C{i}", markersize=10, mew=2)
    axis.set(xlabel="training step", ylabel="training loss (batch)", ylim=(0, 10.5),
             title="Learning rates: loss per step (x: the loss became NaN)")
    axis.legend()
    axis.grid(alpha=0.3)
    summary = {label: [{"diverged_at": r["diverged_at"], "test_accuracy": r["test_accuracy"],
                        "final_loss": None if r["diverged_at"] is not None else float(np.mean(r["losses"][-20:]))}
                       for r in rs] for label, rs in runs.items()}
    return "\n".join(table), summary, [save(fig, out / "b_learning_rates.png")]


# -- (c) preprocessing --------------------------------------------------------------------------------------
def loss_sensitivity(model, split, draws=5):
    """Mean |change of the loss| on `split` when every weight tensor w moves by PERTURBATION * ||w|| in a
    random direction (the same directions for every model of the same shapes)."""
    images, labels = tl.tensor(split[0], dtype=tl.float32), tl.tensor(split[1])
    params = list(model.parameters())
    saved = [p.data.copy() for p in params]
    rng = np.random.default_rng(0)
    with tl.no_grad():
        base = F.cross_entropy(model(images), labels).item()
        changes = []
        for _ in range(draws):
            for p, w in zip(params, saved):
                direction = rng.normal(size=w.shape).astype(w.dtype)
                p.data[...] = w + PERTURBATION * np.linalg.norm(w) / np.linalg.norm(direction) * direction
            changes.append(abs(F.cross_entropy(model(images), labels).item() - base))
    for p, w in zip(params, saved):
        p.data[...] = w
    return float(np.mean(changes)), base


def preprocessing_run(data, lr, epochs, seed, split):
    """Train the MLP on data["train"]; its loss and accuracy on data[split], steps to the target loss and the
    loss's sensitivity to the weights before and after training."""
    tl.manual_seed(seed)
    model = mlp([784, 100, 10])
    probe = (data["train"][0][:1000], data["train"][1][:1000])
    sensitivity_at_start, loss_at_start = loss_sensitivity(model, probe)
    losses, diverged = train_steps(model, optim.SGD(model.parameters(), lr=lr, momentum=0.9), data["train"], epochs,
                                   seed)
    if diverged is not None:
        return {"diverged_at": diverged, "accuracy": 0.0, "loss": math.inf, "losses": losses}
    below = np.flatnonzero(smooth(losses) < TARGET_LOSS)
    loss, accuracy = evaluate(model, loader(*data[split], BATCH))
    return {"diverged_at": None, "steps_to_target": int(below[0]) + 1 if len(below) else None,
            "accuracy": accuracy, "loss": loss, "sensitivity_at_start": sensitivity_at_start,
            "loss_at_start": loss_at_start, "sensitivity_at_end": loss_sensitivity(model, probe)[0],
            "losses": losses}


def preprocessing_study(splits, out, epochs, seeds):
    table = [f"(c) MLP 784-100-10, SGD momentum 0.9, {epochs} epochs; lr = best of {len(LR_GRID)} on validation loss",
             (f"{'input':<13}{'lr':>7}{f'steps to loss {TARGET_LOSS}':>20}{'test accuracy %':>18}"
              f"{'|dL| at start':>22}{'|dL| trained':>22}")]
    results, curves = {}, {}
    for mode in ("raw", "centred", "standardised"):
        data = preprocess(splits, mode)
        val_losses = {lr: preprocessing_run(data, lr, epochs, 100, "val")["loss"] for lr in LR_GRID}
        lr = min(val_losses, key=val_losses.get)
        runs = [preprocessing_run(data, lr, epochs, seed, split="test") for seed in range(seeds)]
        reached = [r["steps_to_target"] for r in runs if r.get("steps_to_target") is not None]
        steps = (mean_std(reached, digits=0) + ("" if len(reached) == seeds else f" ({len(reached)}/{seeds})")
                 if reached else "never")
        sensitivity = {key: f"{np.mean([r.get(key, np.nan) for r in runs]):.2e} +- "
                            f"{np.std([r.get(key, np.nan) for r in runs]):.0e}"
                       for key in ("sensitivity_at_start", "sensitivity_at_end")}
        table.append(f"{mode:<13}{lr:>7g}{steps:>20}{mean_std([r['accuracy'] for r in runs], 100):>18}"
                     f"{sensitivity['sensitivity_at_start']:>22}{sensitivity['sensitivity_at_end']:>22}")
        curves[mode] = (lr, [r["losses"] for r in runs])
        results[mode] = {"lr": lr, "val_loss_by_lr": {f"{k:g}": v for k, v in val_losses.items()},
                         "runs": [{k: v for k, v in r.items() if k != "losses"} for r in runs]}
    table.append(f"(|dL|: mean change of the loss on 1,000 training images when every weight tensor moves by "
                 f"{PERTURBATION:.1%} of its norm)")
    fig, axes = figure(1, 1, (8, 5))
    axis = axes[0][0]
    for i, (mode, (lr, losses)) in enumerate(curves.items()):
        for seed, curve in enumerate(losses):
            axis.plot(smooth(curve), color=f"C{i}", linewidth=1, label=f"{mode} (lr {lr:g})" if seed == 0 else None)
    axis.axhline(TARGET_LOSS, color="black", linestyle=":", label=f"target {TARGET_LOSS}")
    axis.set(xlabel="training step", ylabel="training loss (20-step mean)", yscale="log",
             title="Preprocessing: the same MLP on raw, zero-centred and standardised pixels")
    axis.legend()
    axis.grid(alpha=0.3)
    return "\n".join(table), results, [save(fig, out / "c_preprocessing.png")]


# -- (d) learning-rate schedules -----------------------------------------------------------------------------
def make_schedule(name, optimizer, epochs):
    if name == "step decay":
        return lr_scheduler.StepLR(optimizer, step_size=epochs // 2, gamma=0.1)
    if name == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    return None


def schedule_run(splits, name, lr, epochs, seed, split):
    tl.manual_seed(seed)
    model = mlp([784, 100, 10])
    opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    losses, diverged = train_steps(model, opt, splits["train"], epochs, seed, make_schedule(name, opt, epochs))
    accuracy = 0.0 if diverged is not None else evaluate(model, loader(*splits[split], BATCH))[1]
    return losses, accuracy


def schedule_study(splits, out, epochs, seeds):
    """Each schedule with its own base lr (the protocol), then all three from the same high base lr
    (the largest of SCHEDULE_LRS), where the drop at the step shows: the loss before and after it."""
    data = preprocess(splits, "standardised")
    schedules = ("constant", "step decay", "cosine")
    steps_per_epoch = len(loader(*data["train"], BATCH))
    step_at = epochs // 2 * steps_per_epoch
    common_lr = max(SCHEDULE_LRS)
    table = [(f"(d) MLP 784-100-10, SGD momentum 0.9, {epochs} epochs, standardised inputs; "
              "base lr = best on validation accuracy"),
             f"{'schedule':<12}{'base lr':>9}{'final train loss':>20}{'test accuracy %':>18}"]
    same_lr = [(f"the same schedules all from base lr {common_lr:g}: training loss (20-step mean) just before "
                f"step {step_at} (the step of step decay) and one epoch later"),
               f"{'schedule':<12}{'before':>18}{'after':>18}{'final':>18}{'test accuracy %':>18}"]
    results, curves = {}, {}
    for name in schedules:
        scores = {lr: schedule_run(data, name, lr, epochs, 100, "val")[1] for lr in SCHEDULE_LRS}
        lr = max(scores, key=scores.get)
        runs = [schedule_run(data, name, lr, epochs, seed, "test") for seed in range(seeds)]
        finals = [np.mean(losses[-20:]) for losses, _ in runs]
        table.append(f"{name:<12}{lr:>9g}{mean_std(finals, digits=3):>20}{mean_std([a for _, a in runs], 100):>18}")
        common = [schedule_run(data, name, common_lr, epochs, seed, "test") for seed in range(seeds)]
        around = [[smooth(losses)[i] for i in (step_at - 1, step_at + steps_per_epoch - 1, -1)] for losses, _ in common]
        same_lr.append(f"{name:<12}" + "".join(f"{mean_std(column, digits=3):>18}" for column in zip(*around))
                       + f"{mean_std([a for _, a in common], 100):>18}")
        curves[name] = common[0][0]
        results[name] = {"lr": lr, "val_accuracy_by_lr": {f"{k:g}": v for k, v in scores.items()},
                         "final_train_loss": [float(f) for f in finals], "test_accuracy": [a for _, a in runs],
                         f"at_lr_{common_lr:g}": {"loss_before_after_final": around,
                                                  "test_accuracy": [a for _, a in common]}}
    fig, axes = figure(1, 2, (13, 4.5))
    loss_axis, lr_axis = axes[0]
    for i, (name, losses) in enumerate(curves.items()):
        loss_axis.plot(smooth(losses), color=f"C{i}", linewidth=1, label=name)
        schedule_probe = optim.SGD([tl.zeros(1, requires_grad=True)], lr=common_lr)
        scheduler, lrs = make_schedule(name, schedule_probe, epochs), []
        for _ in range(epochs):
            lrs += [schedule_probe.param_groups[0]["lr"]] * steps_per_epoch
            if scheduler is not None:
                schedule_probe.step()  # a step (of nothing: no gradient) before the schedule's, as PyTorch asks
                scheduler.step()
        lr_axis.plot(lrs, color=f"C{i}", label=name)
    for axis in (loss_axis, lr_axis):
        axis.axvline(step_at, color="grey", linestyle=":", label="the step of step decay")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    loss_axis.set(xlabel="training step", ylabel="training loss (20-step mean)", yscale="log",
                  title=f"Learning-rate schedules from base lr {common_lr:g}: training loss (seed 0)")
    lr_axis.set(xlabel="training step", ylabel="learning rate", yscale="log", title="the schedules")
    return "\n".join(table + same_lr), results, [save(fig, out / "d_schedules.png")]


# -- (e) update/weight ratios, and what recording costs --------------------------------------------------------
def ratio_study(splits, out, epochs, seeds, record_every):
    data = preprocess(splits, "standardised")
    weights = [f"{2 * i}.weight" for i in range(10)]
    table = [(f"(e) update/weight ratio ||dW|| / ||W|| of each Linear weight, median over the steps of epoch "
              f"{epochs} (recorded every {record_every} steps), mean over {seeds} seeds; rule of thumb ~1e-3"),
             f"{'learning rate':<22}" + "".join(f"{f'L{i}':>9}" for i in range(1, 11))]
    results, pictures = {}, []
    for label, lr in LEARNING_RATES.items():
        if label == "divergent":
            continue
        medians, diverged = [], 0
        for seed in range(seeds):
            tl.manual_seed(seed)
            model = deep_relu_net()
            try:
                history = fit(model, loader(*data["train"], BATCH, shuffle=True, seed=seed),
                              optim.SGD(model.parameters(), lr=lr), epochs, val_loader=loader(*data["val"], BATCH),
                              progress=False, record_stats=record_every)
            except TrainingDiverged:
                diverged += 1
                continue
            medians.append([np.median([s["update_ratio"][w] for s in history[-1]["stats"]]) for w in weights])
            if seed == 0:
                pictures.append(plot_history(history, out / f"e_stats_lr_{lr:g}.png", chance=1 / 10,
                                             title=f"10-layer ReLU MLP, SGD lr {lr:g} ({label})").name)
        mean = np.mean(medians, axis=0) if medians else np.full(len(weights), np.nan)
        table.append(f"{label + f' (lr {lr:g})':<22}" + "".join(f"{r:>9.1e}" for r in mean)
                     + (f"  ({diverged}/{seeds} runs diverged)" if diverged else ""))
        results[label] = {"lr": lr, "median_update_ratio": dict(zip(weights, mean.tolist())), "diverged": diverged}
    return "\n".join(table), results, pictures


def recording_cost(splits, epochs_of_timing=3):
    """CPU seconds per training step of the (b) network with record_stats off, every 10th step and every step;
    the three settings take turns, and each keeps its fastest epoch (the least disturbed by other work)."""
    data = preprocess(splits, "standardised")
    tl.manual_seed(0)
    model = deep_relu_net()
    opt = optim.SGD(model.parameters(), lr=0.01)
    batches = loader(*data["train"], BATCH, shuffle=True, seed=0)
    settings = {"off": False, "every 10th step": 10, "every step": 1}
    times = {name: [] for name in settings}
    fit(model, batches, opt, 1, progress=False)  # warm up
    for _ in range(epochs_of_timing):
        for name, record_stats in settings.items():
            start = time.process_time()
            fit(model, batches, opt, 1, progress=False, record_stats=record_stats)
            times[name].append((time.process_time() - start) / len(batches))
    best = {name: min(values) for name, values in times.items()}
    lines = [(f"recording cost, CPU ms per training step of the 10-layer MLP (batch {BATCH}), fastest of "
              f"{epochs_of_timing} epochs each:")]
    lines += [f"  {name:<16}{1000 * seconds:7.2f} ms  ({100 * (seconds / best['off'] - 1):+.1f} %)"
              for name, seconds in best.items()]
    return "\n".join(lines), {name: {"ms_per_step": 1000 * s, "overhead": s / best["off"] - 1}
                              for name, s in best.items()}


def main():
    args = parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    seeds = 1 if args.quick else SEEDS
    splits = mnist_test((600, 200, 200) if args.quick else (6000, 2000, 2000), shape=(784,), scale=1)
    studies = [("activations", lambda: activation_study(out, args.quick)),
               ("learning_rates", lambda: learning_rate_study(splits, out, 1 if args.quick else 5, seeds)),
               ("preprocessing", lambda: preprocessing_study(splits, out, 1 if args.quick else 3, seeds)),
               ("schedules", lambda: schedule_study(splits, out, 2 if args.quick else 10, seeds)),
               ("update_ratios", lambda: ratio_study(splits, out, 1 if args.quick else 3, seeds,
                                                     2 if args.quick else 5))]
    results, pictures = run_studies(studies)
    cost_table, results["recording_cost"] = recording_cost(splits, 1 if args.quick else 3)
    print(cost_table)
    seconds, cpu_seconds = save_results(out, results, pictures, quick=args.quick, seeds=seeds, started=started)
    print(f"\nplots and results.json in {out}/; total {seconds:.0f} s ({cpu_seconds:.0f} s of CPU time)")


if __name__ == "__main__":
    main()
