"""The main demo: does transfer learning beat training from scratch when labelled data is scarce?

Take a network trained on one task, freeze it, replace its head, retrain on a
few labelled images of another task, and compare three ways of learning the
new task from k labelled images per class:

  scratch    a freshly initialised network, all of it trained on the k-shot set
  frozen     the pretrained network as a fixed feature extractor: its features are
             computed once (cached) and only a new linear head is trained on them
  fine-tune  the pretrained network with a new head, everything trained, the
             backbone at 1/10 of the head's learning rate

Experiment A (split MNIST): a LeNet-5 pretrained on digits 0-4 is transferred
to digits 5-9; its head is everything after the convolutions (see
lenet_on_conv_features), a cut chosen after the usual recipe (only the last
Linear replaced) lost to scratch, so the usual recipe is shown as two more
rows. Experiment B (real pretrained weights): the CIFAR-10 ResNet-20
converted from its PyTorch checkpoint is transferred to MNIST digits, resized
to 32x32 and copied into 3 channels; two more rows fine-tune it with the
backbone at 1 and 1/100 of the head's learning rate ("frozen" is the ratio 0).

One protocol for all three methods: Adam, batches of 50, the same number of
epochs (at least 1500 image presentations, so k=5 trains for more epochs than
k=50), and a learning rate chosen per method and k by the same rule: the best
of LR_GRID on validation images, after training on one extra k-shot draw. Test
images are used for nothing but the results: mean +- sample std (ddof=1) over
several seeds (each seed draws other k-shot images).

    python demos/transfer.py            # minutes on a quiet 2-core machine (see docs/labs/transfer.md)
    python demos/transfer.py --quick    # a smoke test in seconds

Data and weights come from $MINITL_DATA_DIR and $MINITL_WEIGHTS_DIR when set
(no network needed), else from the cache or their public URLs; all three
files are looked for before anything is trained. A fixed seed gives the same
numbers run to run with the same thread count (OMP_NUM_THREADS /
OPENBLAS_NUM_THREADS); another thread count may change the last digits.
"""
import argparse
import functools
import json
import os
import pathlib
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from common import as_cifar_input, chance_line, k_shot, loader, mnist_test, sample_std

import minitl as tl
from minitl import hub, models, nn, optim
from minitl.data import DataLoader
from minitl.data.datasets import DATA_ENV, MNIST_SHA256, MNIST_URL
from minitl.lab import transfer
from minitl.lab.train import evaluate, fit, plot_history
from minitl.models.weights import WEIGHTS_ENV

LR_GRID = (1e-3, 3e-3, 1e-2)  # Adam learning rates tried for each method (for fine-tuning: the head's)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test, not a result")
    parser.add_argument("--seeds", type=int, default=3, help="repetitions with different k-shot samples")
    parser.add_argument("--budget", type=int, default=1500,
                        help="image presentations per training run (epochs = budget / training images)")
    parser.add_argument("--out", default="outputs/transfer", help="directory for the plots")
    return parser.parse_args()


# -- data ------------------------------------------------------------------------------------
MNIST_FILES = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
CHECKPOINT = models.REGISTRY[("resnet20", "cifar10")]


def missing_files():
    """One line per file the demo needs but can neither find ($MINITL_DATA_DIR, $MINITL_WEIGHTS_DIR, the
    cache) nor download; an empty list when all are there (downloaded ones are then in the cache)."""
    needed = [(hub.RemoteFile(f"mnist/{name}", MNIST_URL + name, MNIST_SHA256[name]), "data", DATA_ENV)
              for name in MNIST_FILES] + [(CHECKPOINT, "weights", WEIGHTS_ENV)]
    missing = []
    for remote, kind, env in needed:
        try:
            hub.fetch(remote, kind, env)
        except (RuntimeError, ValueError) as error:  # not found and no download, or a corrupt file
            missing.append(f"  {remote.filename}: {error}")
    return missing


def check_files_or_exit():
    """Stop before any training, with one message naming every missing file and both variables."""
    missing = missing_files()
    if missing:
        settings = ", ".join(f"${env}={os.environ.get(env) or '(unset)'}" for env in (DATA_ENV, WEIGHTS_ENV))
        sys.exit(f"demos/transfer.py needs {len(missing)} file(s) it cannot find or download; nothing was run.\n"
                 + "\n".join(missing) + f"\nPut the MNIST test files ({', '.join(MNIST_FILES)}) in "
                 f"${DATA_ENV}/mnist/ and {CHECKPOINT.filename} in ${WEIGHTS_ENV} (now {settings}), e.g.\n"
                 f"  {DATA_ENV}=../shared/data {WEIGHTS_ENV}=../shared/pretrained python demos/transfer.py")


# -- a task -----------------------------------------------------------------------------------------
@dataclass
class Task:
    """One transfer task: its images, how they split, and the networks the three methods start from.

    The pool splits into training images (k-shot draws come from these only), validation images (to
    choose learning rates) and test images (the results); see make_task.
    """
    images: np.ndarray  # every image of the task, as the networks take them
    targets: np.ndarray  # their classes, 0 .. num_classes - 1
    labels: np.ndarray  # their original labels (k images are drawn per label in `classes`)
    classes: range
    pool: np.ndarray  # indices that k-shot training images are drawn from
    num_classes: int
    pretrained: nn.Module  # frozen: computes the cached features
    load_pretrained: Callable[[], nn.Module]  # a fresh pretrained copy, for fine-tuning
    build: Callable[[], nn.Module]  # a freshly initialised network, for training from scratch
    val: DataLoader
    test: DataLoader
    val_features: DataLoader  # the frozen network's features of the validation images
    test_features: DataLoader

    def evaluation_loader(self, split, *, features=False):
        """The validation ("val") or test ("test") images, or their cached features."""
        return getattr(self, f"{split}_features" if features else split)


def make_task(*, images, targets, labels, pool, classes, pretrained, load_pretrained, build, num_classes,
              test_size, val_size):
    """The Task: the last test_size images of the pool are for testing, the val_size before them for validation."""
    test_idx, val_idx = pool[-test_size:], pool[-test_size - val_size:-test_size]
    val, test = loader(images[val_idx], targets[val_idx], 256), loader(images[test_idx], targets[test_idx], 256)
    return Task(images=images, targets=targets, labels=labels, classes=classes, pool=pool[:-test_size - val_size],
                num_classes=num_classes, pretrained=pretrained, load_pretrained=load_pretrained, build=build,
                val=val, test=test, val_features=loader(*transfer.extract_features(pretrained, val), 256),
                test_features=loader(*transfer.extract_features(pretrained, test), 256))


# -- the three methods: each trains on (images, labels), returns (accuracy on a split, history) ----------
# With watch=True the history also holds the validation loss and accuracy of every epoch (for the curves;
# evaluating, in eval mode and without a graph, changes nothing in the run).
def train_scratch(task, images, labels, *, split, epochs, lr, seed, watch=False):
    tl.manual_seed(seed)
    model = task.build()
    history = fit(model, loader(images, labels, 50, shuffle=True, seed=seed), optim.Adam(model.parameters(), lr=lr),
                  epochs, val_loader=task.val if watch else None, progress=False)
    return evaluate(model, task.evaluation_loader(split))[1], history


def train_frozen(task, images, labels, *, split, epochs, lr, seed, watch=False):
    """A linear head on cached features of the frozen network (the cheap CPU path)."""
    tl.manual_seed(seed)
    features, _ = transfer.extract_features(task.pretrained, loader(images, labels, 256))
    head = nn.Linear(features.shape[1], task.num_classes)
    history = fit(head, loader(features, labels, 50, shuffle=True, seed=seed), optim.Adam(head.parameters(), lr=lr),
                  epochs, val_loader=task.val_features if watch else None, progress=False)
    return evaluate(head, task.evaluation_loader(split, features=True))[1], history


def train_fine_tune(task, images, labels, *, split, epochs, lr, seed, watch=False, backbone_ratio=0.1):
    """Everything trained; the backbone at lr * backbone_ratio (discriminative learning rates)."""
    tl.manual_seed(seed)
    model = task.load_pretrained()
    head = transfer.replace_head(model, task.num_classes)
    opt = optim.Adam(transfer.discriminative_param_groups(model, head, lr=lr, backbone_ratio=backbone_ratio))
    history = fit(model, loader(images, labels, 50, shuffle=True, seed=seed), opt, epochs,
                  val_loader=task.val if watch else None, progress=False)
    return evaluate(model, task.evaluation_loader(split))[1], history


METHODS = {"scratch": train_scratch, "frozen": train_frozen, "fine-tune": train_fine_tune}
# Experiment B's extra rows: "lower the learning rate when fine-tuning", tested. "frozen" is the ratio 0 (its
# BatchNorm statistics frozen too), "fine-tune" the ratio 1/10.
BACKBONE_RATIOS = {"fine-tune, backbone lr x1": 1.0, "fine-tune, backbone lr x1/100": 0.01}


# -- experiments -------------------------------------------------------------------------------------
def draw(task, k, seed):
    """k labelled images per class from the training pool: the seed decides which."""
    chosen = k_shot(task.labels, task.pool, task.classes, k, np.random.default_rng(seed))
    return task.images[chosen], task.targets[chosen]


def choose_learning_rates(name, methods, *, k, epochs_for):
    """Each method's Adam learning rate: the best of LR_GRID on the validation images.

    The same rule for every method and k: train on one k-shot draw that no
    reported run uses (seed 100), score on the validation split (never the
    test split). `methods`: row name -> (train, task).
    """
    chosen = {}
    for method, (train, task) in methods.items():
        images, labels = draw(task, k, seed=100)
        print(f"  {name} {method:<9} validation accuracy by lr:", end="", flush=True)
        scores = {}
        for lr in LR_GRID:  # each result printed as it comes: a fine-tuning run can take minutes
            start = time.time()
            scores[lr] = train(task, images, labels, split="val", epochs=epochs_for(len(labels)), lr=lr, seed=100)[0]
            print(f" {lr:g} {scores[lr]:.1%} ({time.time() - start:.0f} s)", end="", flush=True)
        chosen[method] = max(scores, key=scores.get)
        print(f" -> lr {chosen[method]:g}", flush=True)
    return chosen


def run_experiment(name, methods, *, ks, seeds, epochs_for):
    """(accuracies[method][k] = list over seeds, lrs[method][k], histories[method][k] = list over seeds); prints
    one line per run.

    `methods`: row name -> (train, task); every row draws the same k-shot images per seed (the tasks share
    their images and pool). The runs of the three main methods (METHODS) also record the validation loss and
    accuracy of every epoch, for the curves; `histories` holds those methods only.
    """
    results = {method: {k: [] for k in ks} for method in methods}
    lrs = {method: {} for method in methods}
    histories = {method: {k: [] for k in ks} for method in methods if method in METHODS}
    for k in ks:
        for method, lr in choose_learning_rates(f"{name} k={k:<3d}", methods, k=k, epochs_for=epochs_for).items():
            lrs[method][k] = lr
        for seed in range(seeds):
            print(f"  {name} k={k:<3d} seed {seed}:", end="", flush=True)
            for method, (train, task) in methods.items():
                images, labels = draw(task, k, seed)
                start = time.time()
                accuracy, history = train(task, images, labels, split="test", epochs=epochs_for(len(labels)),
                                          lr=lrs[method][k], seed=seed, watch=method in histories)
                results[method][k].append(accuracy)
                print(f" {method} {accuracy:.1%} ({time.time() - start:.0f} s)", end="", flush=True)
                if method in histories:
                    histories[method][k].append(history)
            print(flush=True)
    return results, lrs, histories


def lenet_on_conv_features(num_classes=5):
    """LeNet-5 cut after its convolutions: one Linear(400, classes) on the flattened conv features.

    This is the network of the three main methods in experiment A (only where
    its weights start and what is trained differ). Why cut there: the fully
    connected layers of a network trained on 5 classes specialise in those
    classes (its 84-d penultimate features nearly collapse onto 5 directions).
    This cut was chosen after the usual recipe (only LeNet's last Linear
    replaced) lost to scratch, so the demo also runs the usual recipe, as the
    rows "frozen, usual head" and "fine-tune, usual head": a choice made after
    seeing results is reported beside the result it replaced.
    """
    model = models.lenet5(num_classes=num_classes)
    model.classifier = nn.Sequential(nn.Flatten(), nn.Linear(16 * 5 * 5, num_classes))
    return model


def pretrain_split_mnist(images, labels, *, quick):
    """Pretrain LeNet-5 on every image of digits 0-4; the new task is digits 5-9."""
    source = np.flatnonzero(labels < 5)[: 500 if quick else None]
    tl.manual_seed(0)
    pretrained = models.lenet5(num_classes=5)
    history = fit(pretrained, loader(images[source], labels[source], 64, shuffle=True, seed=0),
                  optim.Adam(pretrained.parameters(), lr=2e-3), 1 if quick else 5, progress=not quick)
    print(f"  LeNet-5 pretrained on {len(source)} images of digits 0-4: "
          f"train accuracy {history[-1]['accuracy']:.1%}")
    state = pretrained.state_dict()

    def load_usual():
        """The whole pretrained LeNet-5: the usual recipe replaces only its last Linear."""
        model = models.lenet5(num_classes=5)
        model.load_state_dict(state)
        return model

    def load_pretrained():
        model = load_usual()
        model.classifier = lenet_on_conv_features().classifier
        return model

    pool = np.random.default_rng(0).permutation(np.flatnonzero(labels >= 5))  # the test split is random
    targets = labels - 5  # digits 5-9 as classes 0-4
    return pool, targets, {"conv": load_pretrained, "usual": load_usual}


def summary_table(title, results, ks, lrs):
    """Accuracy as mean +- sample std over seeds, and the learning rate chosen, per method and k."""
    width = max(map(len, results)) + 2
    lines = [title, f"{'method':<{width}}" + "".join(f"{f'k={k}':>31}" for k in ks)]
    for method in results:
        lines.append(f"{method:<{width}}" + "".join(
            f"{100 * np.mean(results[method][k]):>11.1f} +- {100 * sample_std(results[method][k]):4.1f}"
            f"  (lr {lrs[method][k]:<5g})" for k in ks))
    return "\n".join(lines)


def results_json(results, ks, lrs):
    """method -> "k=K" -> mean, sample std (NaN for one seed) and the per-seed accuracies (fractions), and the
    learning rate chosen."""
    return {method: {f"k={k}": {"mean": float(np.mean(results[method][k])), "std": sample_std(results[method][k]),
                                "runs": [float(a) for a in results[method][k]], "lr": lrs[method][k]}
                     for k in ks} for method in results}


def curves_json(all_curves):
    """experiment -> "k=K" -> method -> the validation accuracy (%) per epoch: mean and sample std over the seeds."""
    return {name: {f"k={k}": {method: {"mean": mean.tolist(), "std": std.tolist()}
                              for method, (_, mean, std) in curves.items()} for k, curves in by_k.items()}
            for name, (by_k, _) in all_curves.items()}


def plot_results(all_results, seeds, path):
    """One panel per experiment: a group of bars per k (one bar per method), each labelled with its mean,
    error bars +- 1 sample std over the seeds, and a line at chance (one class in num_classes)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7 * len(all_results), 4.8))
    axes = figure.subplots(1, len(all_results), squeeze=False)[0]
    for axis, (title, (results, ks, _, num_classes)) in zip(axes, all_results.items()):
        width = 0.8 / len(results)
        for i, method in enumerate(results):
            means = [100 * np.mean(results[method][k]) for k in ks]
            stds = [100 * sample_std(results[method][k]) for k in ks]
            bars = axis.bar(np.arange(len(ks)) + (i - (len(results) - 1) / 2) * width, means, width, yerr=stds,
                            capsize=3, label=method)
            axis.bar_label(bars, labels=[f"{m:.0f}" for m in means], padding=2, fontsize=7)
        chance_line(axis, num_classes)
        axis.set(xticks=range(len(ks)), xticklabels=[f"k={k}" for k in ks], xlabel="labelled images per class",
                 ylabel=f"test accuracy (%), mean +- 1 std over {seeds} seed{'s' * (seeds > 1)}", ylim=(0, 135),
                 yticks=range(0, 101, 20), title=title)
        axis.grid(alpha=0.3, axis="y")
        axis.legend(loc="upper center", ncols=3, fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def validation_curves(histories, k):
    """method -> (epochs, mean, sample std over the seeds) of the validation accuracy in percent per epoch, of the
    runs with k images per class.

    `histories`: method -> k -> one fit history per seed (the same epochs in each), as run_experiment returns.
    """
    curves = {}
    for method, by_k in histories.items():
        runs = by_k[k]
        accuracy = 100 * np.array([[record["val_accuracy"] for record in history] for history in runs])  # seed x epoch
        curves[method] = ([record["epoch"] for record in runs[0]], accuracy.mean(axis=0),
                          np.array([sample_std(epoch) for epoch in accuracy.T]))
    return curves


def plot_validation_curves(all_curves, seeds, path):
    """One panel per experiment and k: the validation accuracy (%) of scratch, frozen and fine-tune per epoch on
    one axis, the mean over the seeds with a band of +- 1 sample std, and a line at chance.

    `all_curves`: experiment -> ({k: validation_curves(histories, k)}, number of classes)."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    columns = max(len(by_k) for by_k, _ in all_curves.values())
    figure = Figure(figsize=(4.5 * columns, 3.8 * len(all_curves)))
    axes = figure.subplots(len(all_curves), columns, squeeze=False)
    for row, (title, (by_k, num_classes)) in zip(axes, all_curves.items()):
        for axis, (k, curves) in zip(row, by_k.items()):
            for i, (method, (epochs, mean, std)) in enumerate(curves.items()):
                axis.plot(epochs, mean, color=f"C{i}", marker="o", markersize=3, label=method)  # the bar chart's colours
                axis.fill_between(epochs, mean - std, mean + std, color=f"C{i}", alpha=0.2, linewidth=0)
            chance_line(axis, num_classes)
            axis.set(title=f"{title}, k={k}", xlabel="epoch", ylabel="validation accuracy (%)", ylim=(0, 100))
            axis.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
            axis.grid(alpha=0.3)
            axis.legend(loc="lower right", fontsize=7)
        for axis in row[len(by_k):]:
            axis.set_visible(False)
    figure.suptitle(f"Validation accuracy per epoch (eval mode at each epoch's end), mean +- 1 sample std over "
                    f"{seeds} seed{'s' * (seeds > 1)}")
    figure.tight_layout()
    figure.savefig(path, dpi=90)


def plot_fine_tune_run(histories, lrs, path, experiment, num_classes):
    """Training and validation curves of one run: fine-tuning at the largest k, the last seed."""
    k = list(histories["fine-tune"])[-1]
    runs = histories["fine-tune"][k]
    return plot_history(runs[-1], path, chance=1 / num_classes,
                        title=f"{experiment}: fine-tuning, k={k} per class, seed {len(runs) - 1}, "
                              f"lr {lrs['fine-tune'][k]:g}")


def main():
    args = parse_args()
    check_files_or_exit()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    seeds = 1 if args.quick else args.seeds
    started = time.time()
    images, labels = mnist_test()
    all_results, all_curves, tables = {}, {}, []

    print("Experiment A: split MNIST, LeNet-5 pretrained on digits 0-4 -> digits 5-9")
    pool, targets, loaders = pretrain_split_mnist(images, labels, quick=args.quick)
    ks = [5, 10] if args.quick else [5, 10, 50]
    tasks = {cut: make_task(images=images, targets=targets, labels=labels, pool=pool, classes=range(5, 10),
                            pretrained=transfer.freeze(load()), load_pretrained=load, build=lenet_on_conv_features,
                            num_classes=5, test_size=200 if args.quick else 2000, val_size=100 if args.quick else 500)
             for cut, load in loaders.items()}
    methods = {**{method: (train, tasks["conv"]) for method, train in METHODS.items()},
               "frozen, usual head": (train_frozen, tasks["usual"]),
               "fine-tune, usual head": (train_fine_tune, tasks["usual"])}
    results, lrs, histories = run_experiment("A", methods, ks=ks, seeds=seeds,
                                             epochs_for=lambda n: 2 if args.quick else max(10, args.budget // n))
    plot_fine_tune_run(histories, lrs, out / "a_fine_tune_curves.png", "A", num_classes=5)
    all_results["A: LeNet-5, digits 0-4 -> 5-9"] = (results, ks, lrs, 5)
    all_curves["A"] = ({k: validation_curves(histories, k) for k in ks}, 5)
    tables.append(summary_table("A: split MNIST, test accuracy % (digits 5-9)", results, ks, lrs))

    print("Experiment B: ResNet-20 pretrained on CIFAR-10 (PyTorch checkpoint) -> MNIST at 32x32x3")
    subset = np.arange(600 if args.quick else 4000)
    print(f"  resizing {len(subset)} digits to 32x32x3 and caching the frozen ResNet-20's features of the "
          "validation and test images...", flush=True)
    rgb = as_cifar_input(images[subset])
    resnet = models.resnet20(weights="cifar10")
    transfer.freeze(resnet)
    ks = [10] if args.quick else [10, 50]
    task = make_task(images=rgb, targets=labels[subset], labels=labels[subset], pool=subset, classes=range(10),
                     pretrained=resnet, load_pretrained=lambda: models.resnet20(weights="cifar10"),
                     build=lambda: models.resnet20(), num_classes=10, test_size=100 if args.quick else 1000,
                     val_size=100 if args.quick else 500)
    methods = {**{method: (train, task) for method, train in METHODS.items()},
               **{method: (functools.partial(train_fine_tune, backbone_ratio=ratio), task)
                  for method, ratio in BACKBONE_RATIOS.items()}}
    results, lrs, histories = run_experiment("B", methods, ks=ks, seeds=seeds,
                                             epochs_for=lambda n: 1 if args.quick else max(3, args.budget // n))
    plot_fine_tune_run(histories, lrs, out / "b_fine_tune_curves.png", "B", num_classes=10)
    all_results["B: ResNet-20 CIFAR-10 -> MNIST"] = (results, ks, lrs, 10)
    all_curves["B"] = ({k: validation_curves(histories, k) for k in ks}, 10)
    tables.append(summary_table("B: ResNet-20 (CIFAR-10) -> MNIST 32x32x3, test accuracy %", results, ks, lrs))

    plot_results(all_results, seeds, out / "transfer_accuracy.png")
    plot_validation_curves(all_curves, seeds, out / "validation_curves.png")
    seconds, cpu_seconds = time.time() - started, time.process_time()
    (out / "results.json").write_text(json.dumps(
        {"seeds": seeds, "quick": args.quick, "seconds": round(seconds), "cpu_seconds": round(cpu_seconds),
         "experiments": {title: results_json(results, ks, lrs) for title, (results, ks, lrs, _) in all_results.items()},
         "validation_curves": curves_json(all_curves)}, indent=1))
    print(f"\n{tables[0]}\n\n{tables[1]}\n")
    print(f"mean +- sample std (ddof=1) over {seeds} seed(s); plots and results.json in {out}/; total {seconds:.0f} s "
          f"wall, {cpu_seconds:.0f} s CPU (both machine-dependent)")


if __name__ == "__main__":
    main()
