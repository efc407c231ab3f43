"""Regularization lab: which of the lecture's tricks close the gap between training and test accuracy?

A small-data task where overfitting is real: 1,000 MNIST training images, and
networks big enough to learn all of them. The MNIST test set (the 10,000
images the project has) is split once, with a fixed seed, into three disjoint
parts: 1,000 training images, 2,000 validation images (to choose learning
rates and draw the curves) and 7,000 test images (used for the results only).

Rows (the MLP is 784-256-256-10 with ReLUs; every change is one thing):

  none            the plain MLP
  L2              weight decay: Adam's weight_decay adds lambda * w to each gradient
  dropout         inverted dropout (p = 0.5) after each hidden layer
  DropConnect     the hidden Linear layers drop weights instead (p = 0.5, nn.DropConnectLinear)
  batch norm      BatchNorm1d after each hidden Linear
  augmentation    RandomAffine: +-10 degrees, +-2 pixels, scale 0.9-1.1, shear +-5 degrees. Digits
                  must not be flipped (a mirrored 2 or 3 is no digit) nor turned far (a 6 would
                  become a 9), so only small rotations, shifts, zooms and shears fit
  ensemble of 5   five plain MLPs from different seeds, softmax outputs averaged (5x the training)
  snapshot ens.   one plain MLP with a cosine schedule restarting every 3 epochs; the snapshots
                  at the 5 cycle ends, averaged
  EMA weights     one plain MLP evaluated with an exponential moving average of its weights
  CNN max pool    reference for the next row: conv(16)-pool-conv(32)-pool-linear, 2x2 max pooling
  CNN fractional  the same CNN with fractional max pooling (3x3 windows at pseudo-random strides of
                  1 or 2, random at every pass, also at test time as in PyTorch)
  ResNet          reference for the next row: a small ResNet (stem, 3 basic blocks of 8 channels at
                  14x14, one of 16 at 7x7)
  ResNet + s.d.   the same with stochastic depth, drop probability rising linearly to 0.5

One protocol for all: Adam, batches of 50, EPOCHS epochs, the learning rate
chosen per method as the best of LR_GRID on the validation images (after a
training run with seed 100, which no reported run uses), then 3 seeds
(mean +- sample std, ddof=1). Train accuracy is measured after training, in eval mode, on the
clean training images; the curves use the first 500 training and validation images.

    python demos/regularization.py            # 300 s of CPU time (15 min on a busy shared machine)
    python demos/regularization.py --quick    # a smoke test in seconds

MNIST comes from $MINITL_DATA_DIR when set (no network needed), else from the
cache or its public URL. Outputs (PNGs, results.json) go to outputs/regularization/.
"""
import argparse
import json
import os
import pathlib
import time

# The matrices here are small (batches of 50): a second BLAS thread gains little, and on a machine whose
# cores are busy with other work its spin-waiting made training steps 10-25x slower (measured while this
# demo was written). One thread, unless the caller says otherwise; this must precede importing NumPy.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
from common import chance_line, mean_std, mnist_test, sample_std

import minitl as tl
from minitl import nn, optim
from minitl.data import DataLoader, Dataset, TensorDataset, transforms
from minitl.lab import ensemble
from minitl.models.cifar_resnet import BasicBlock
from minitl.nn import functional as F
from minitl.nn.regularization import linear_decay

LR_GRID = (1e-3, 3e-3)
EPOCHS = 15
CURVE_IMAGES = 500  # the per-epoch curves use this many training and validation images
BATCH = 50
ENSEMBLE_SIZE = 5
SNAPSHOT_CYCLES = 5
EMA_DECAY = 0.99  # remembers about 100 steps: 5 epochs of 20 batches


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test, not a result")
    parser.add_argument("--seeds", type=int, default=3, help="repetitions with different initialisations")
    parser.add_argument("--out", default="outputs/regularization", help="directory for the plots and results.json")
    return parser.parse_args()


# -- data (the splits: common.mnist_test) ----------------------------------------------------------------
class Augmented(Dataset):
    """Images transformed anew each time they are read; labels unchanged."""

    def __init__(self, images, labels, transform):
        self.images, self.labels, self.transform = images, labels, transform

    def __getitem__(self, index):
        return self.transform(self.images[index]), self.labels[index]

    def __len__(self):
        return len(self.labels)


DIGIT_AUGMENTATION = transforms.RandomAffine(degrees=10, translate=(2 / 28, 2 / 28), scale=(0.9, 1.1), shear=5)


# -- networks ------------------------------------------------------------------------------------------
def mlp(hidden=lambda i, o: nn.Linear(i, o), after=lambda width: []):
    """784-256-256-10 with ReLUs; `hidden` makes the hidden Linears, `after` adds layers behind each."""
    layers = [nn.Flatten()]
    for width_in, width in ((784, 256), (256, 256)):
        layers += [hidden(width_in, width), *after(width), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(256, 10))


def dropout_mlp():
    layers = [nn.Flatten()]
    for width_in in (784, 256):
        layers += [nn.Linear(width_in, 256), nn.ReLU(), nn.Dropout(0.5)]
    return nn.Sequential(*layers, nn.Linear(256, 10))


def cnn(pool):
    """conv(1->16)-relu-pool to 14x14, conv(16->32)-relu-pool to 7x7, linear(1568->10); `pool(size)`."""
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), pool(14),
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), pool(7), nn.Flatten(), nn.Linear(32 * 49, 10))


class SmallResNet(nn.Module):
    """A stem to 8 channels at 14x14, three basic blocks there and one to 16 channels at 7x7, then average
    pooling and a linear layer. Block l of 4 skips its residual branch with probability (l / 4) p_L."""

    def __init__(self, stochastic_depth_prob=0.0):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                                  nn.MaxPool2d(2))
        drop = linear_decay(stochastic_depth_prob, 4)
        self.blocks = nn.Sequential(*[BasicBlock(8, 8, drop_prob=p) for p in drop[:3]],
                                    BasicBlock(8, 16, stride=2, drop_prob=drop[3]))
        self.linear = nn.Linear(16, 10)

    def forward(self, x):
        return self.linear(F.adaptive_avg_pool2d(self.blocks(self.stem(x)), 1).flatten(1))


# name -> how to build and train it. kind: how its predictions are made (plain, ensemble, snapshot, ema).
METHODS = {
    "none": dict(build=mlp),
    "L2 weight decay": dict(build=mlp, weight_decay=1e-3),
    "dropout": dict(build=dropout_mlp),
    "DropConnect": dict(build=lambda: mlp(hidden=lambda i, o: nn.DropConnectLinear(i, o, p=0.5))),
    "batch norm": dict(build=lambda: mlp(after=lambda width: [nn.BatchNorm1d(width)])),
    "augmentation": dict(build=mlp, augment=DIGIT_AUGMENTATION),
    "ensemble of 5": dict(build=mlp, kind="ensemble"),
    "snapshot ensemble": dict(build=mlp, kind="snapshot"),
    "EMA weights": dict(build=mlp, kind="ema"),
    "CNN, max pooling": dict(build=lambda: cnn(lambda size: nn.MaxPool2d(2))),
    "CNN, fractional max pool": dict(build=lambda: cnn(lambda size: nn.FractionalMaxPool2d(3, output_size=size))),
    "ResNet": dict(build=SmallResNet),
    "ResNet, stochastic depth": dict(build=lambda: SmallResNet(stochastic_depth_prob=0.5)),
}


# -- training --------------------------------------------------------------------------------------------
class Run:
    """One trained network: `probabilities(images)` predicts as its method does; `curves` per epoch."""

    def __init__(self, spec, data, lr, seed, epochs):
        tl.manual_seed(seed)
        (train_x, train_y), (val_x, val_y) = data["train"], data["val"]
        self.model = spec["build"]()
        opt = optim.Adam(self.model.parameters(), lr=lr, weight_decay=spec.get("weight_decay", 0.0))
        source = (Augmented(train_x, train_y, spec["augment"]) if "augment" in spec
                  else TensorDataset(train_x, train_y))
        loader = DataLoader(source, batch_size=BATCH, shuffle=True, seed=seed)
        kind = spec.get("kind", "plain")
        self.ema = optim.EMA(self.model, EMA_DECAY) if kind == "ema" else None
        self.schedule = None
        if kind == "snapshot":
            self.schedule = ensemble.SnapshotSchedule(self.model, opt, max(1, epochs // SNAPSHOT_CYCLES), len(loader))
        self.curves = {"train": [], "val": []}
        started = time.process_time()  # CPU seconds: comparable between runs on a machine shared with other work
        for _ in range(epochs):
            self.model.train()
            for images, labels in loader:
                loss = F.cross_entropy(self.model(images), labels)
                opt.zero_grad()
                loss.backward()
                opt.step()
                if self.ema is not None:
                    self.ema.update()
                if self.schedule is not None:
                    self.schedule.step()
            self.curves["train"].append(self.accuracy(train_x[:CURVE_IMAGES], train_y[:CURVE_IMAGES]))
            self.curves["val"].append(self.accuracy(val_x[:CURVE_IMAGES], val_y[:CURVE_IMAGES]))
        self.seconds = time.process_time() - started

    def probabilities(self, images):
        if self.ema is not None:
            return ensemble.ema_probabilities(self.ema, self.model, images)
        if self.schedule is not None and self.schedule.snapshots:
            return self.schedule.predict_probabilities(self.model, images)
        return ensemble.predict_probabilities(self.model, images)

    def accuracy(self, images, labels):
        return ensemble.accuracy(self.probabilities(tl.tensor(images, dtype=tl.float32)), labels)


class Lab:
    """Trains each (method, lr, seed) once and keeps it: the ensemble reuses the plain MLPs it is made of."""

    def __init__(self, data, epochs):
        self.data, self.epochs, self.runs = data, epochs, {}

    def run(self, method, lr, seed):
        spec = METHODS[method]
        key = ("none" if spec.get("kind") == "ensemble" else method, lr, seed)
        if key not in self.runs:
            self.runs[key] = Run(METHODS[key[0]], self.data, lr, seed, self.epochs)
        return self.runs[key]

    def members(self, method, lr, seed):
        """The networks behind one result: five seeds for the ensemble (the first is `seed`), else one."""
        if METHODS[method].get("kind") != "ensemble":
            return [self.run(method, lr, seed)]
        return [self.run(method, lr, seed)] + [self.run(method, lr, 1000 + ENSEMBLE_SIZE * seed + k)
                                               for k in range(1, ENSEMBLE_SIZE)]

    def score(self, method, lr, seed, split):
        """Accuracy on `split` ('train', 'val' or 'test') and the training seconds of one result."""
        members = self.members(method, lr, seed)
        images, labels = self.data[split]
        probabilities = sum(m.probabilities(tl.tensor(images, dtype=tl.float32)) for m in members) / len(members)
        return ensemble.accuracy(probabilities, labels), sum(m.seconds for m in members)


def choose_lr(lab, method):
    """The best of LR_GRID on the validation images, after training with seed 100."""
    scores = {lr: lab.score(method, lr, 100, "val")[0] for lr in LR_GRID}
    best = max(scores, key=scores.get)
    print(f"  {method:<26} validation accuracy by lr: " + ", ".join(f"{lr:g} {acc:.1%}" for lr, acc in scores.items())
          + f" -> lr {best:g}", flush=True)
    return best


def measure(lab, method, lr, seeds):
    """Per seed: train and test accuracy, and seconds."""
    rows = []
    for seed in range(seeds):
        train_accuracy, seconds = lab.score(method, lr, seed, "train")
        test_accuracy, _ = lab.score(method, lr, seed, "test")
        rows.append({"train": train_accuracy, "test": test_accuracy, "gap": train_accuracy - test_accuracy,
                     "seconds": seconds})
    return rows


# -- the dropout test-time check -------------------------------------------------------------------------
class Scale(nn.Module):
    """Multiplies by a constant (here: what a network trained without dropout's rescaling sees at test)."""

    def __init__(self, factor):
        super().__init__()
        self.factor = factor

    def forward(self, x):
        return x * self.factor


def dropout_check(run, images, labels, passes=20):
    """Mean activation after the first dropout layer, in training mode (averaged over passes) and in eval
    mode, with inverted dropout and without the rescaling; and what the missing rescaling does to the
    test accuracy and loss.

    Without rescaling, training sees mask * a, of mean (1 - p) E[a], and evaluation a: the next layer gets
    inputs 1 / (1 - p) = 2x larger than those it was trained on. Both training-mode means are measured:
    inverted dropout by the layer itself, the unscaled kind by drawing its masks (keep probability 1 - p)
    over the same activations a. A network trained so is the network
    trained with inverted dropout with its weights multiplied by 1 / (1 - p), so evaluating the trained
    network with every dropout layer replaced by x -> x / (1 - p) shows that mistake exactly.
    """
    model, x = run.model, tl.tensor(images, dtype=tl.float32)
    first_dropout = next(i for i, layer in enumerate(model) if isinstance(layer, nn.Dropout))
    keep = 1 - model[first_dropout].p
    prefix = nn.Sequential(*list(model)[:first_dropout + 1])
    rng = np.random.default_rng(0)
    with tl.no_grad():
        train_mean = float(np.mean([prefix.train()(x).numpy().mean() for _ in range(passes)]))
        eval_mean = float(prefix.eval()(x).numpy().mean())
        activations = nn.Sequential(*list(model)[:first_dropout]).eval()(x).numpy()  # a, before the dropout
        unscaled_train_mean = float(np.mean([(activations * (rng.random(activations.shape) < keep)).mean()
                                             for _ in range(passes)]))
        unscaled = nn.Sequential(*[Scale(1 / keep) if isinstance(layer, nn.Dropout) else layer for layer in model])
        logits = {"rescaled": model.eval()(x), "not rescaled": unscaled.eval()(x)}
    labels_t = tl.tensor(labels)
    effect = {name: {"accuracy": ensemble.accuracy(out.numpy(), labels), "loss": F.cross_entropy(out, labels_t).item()}
              for name, out in logits.items()}
    return {"inverted": {"train": train_mean, "eval": eval_mean},
            "not rescaled": {"train": unscaled_train_mean, "eval": eval_mean}, "test": effect}


# -- report ------------------------------------------------------------------------------------------------
def summary(results):
    """One line per method: mean +- sample std of train and test accuracy (%), the gap, and CPU seconds per result."""
    def cell(rows, key):
        return mean_std([r[key] for r in rows], 100)
    lines = [f"{'method':<26}{'train acc %':>15}{'test acc %':>15}{'gap':>15}{'CPU s':>9}   lr"]
    for method, entry in results.items():
        rows = entry["runs"]
        lines.append(f"{method:<26}{cell(rows, 'train'):>15}{cell(rows, 'test'):>15}{cell(rows, 'gap'):>15}"
                     f"{np.mean([r['seconds'] for r in rows]):9.1f}   {entry['lr']:g}")
    return "\n".join(lines)


def save_figures(results, curves, check, out):
    from matplotlib.figure import Figure

    columns = 4
    rows_count = -(-len(curves) // columns)
    figure = Figure(figsize=(4 * columns, 3 * rows_count))
    axes = figure.subplots(rows_count, columns, squeeze=False).ravel()
    for axis, (method, curve) in zip(axes, curves.items()):
        epochs = range(1, len(curve["train"]) + 1)
        axis.plot(epochs, [100 * a for a in curve["train"]], label="train")
        axis.plot(epochs, [100 * a for a in curve["val"]], label="validation")
        lowest = min(min(curve["train"]), min(curve["val"]))
        axis.set(title=method, xlabel="epoch", ylabel="accuracy %", ylim=(max(0, 100 * lowest - 5), 101))
        axis.grid(alpha=0.3)
        axis.legend(loc="lower right")
    for axis in axes[len(curves):]:
        axis.set_visible(False)
    figure.suptitle("Train vs validation accuracy per epoch (seed 0, eval mode at each epoch's end): the gap is "
                    "overfitting (the ensemble of 5 has no panel: its members are the plain MLP's runs)")
    figure.tight_layout()
    figure.savefig(out / "curves.png", dpi=80)

    figure = Figure(figsize=(12, 4.5))
    axis = figure.subplots()
    names = list(results)
    position = np.arange(len(names))
    test = [100 * np.mean([r["test"] for r in results[m]["runs"]]) for m in names]
    test_std = [100 * sample_std([r["test"] for r in results[m]["runs"]]) for m in names]
    gap = [100 * np.mean([r["gap"] for r in results[m]["runs"]]) for m in names]
    axis.bar(position - 0.2, test, 0.4, yerr=test_std, capsize=3, label="test accuracy %")
    axis.bar(position + 0.2, gap, 0.4, label="train - test gap (points)")
    chance_line(axis, 10)
    axis.set_xticks(position, names, rotation=35, ha="right")
    axis.set(ylabel="%", title="Test accuracy and generalisation gap (mean +- sample std over seeds)")
    axis.grid(alpha=0.3, axis="y")
    axis.legend()
    figure.tight_layout()
    figure.savefig(out / "accuracy_gap.png", dpi=80)

    figure = Figure(figsize=(10, 4))
    left, right = figure.subplots(1, 2)
    labels = ["inverted\ntrain", "inverted\neval", "not rescaled\ntrain", "not rescaled\neval"]
    values = [check["inverted"]["train"], check["inverted"]["eval"], check["not rescaled"]["train"],
              check["not rescaled"]["eval"]]
    left.bar(labels, values, color=["C0", "C0", "C3", "C3"])
    left.set(ylabel="mean activation after dropout", title="First dropout layer: train vs eval")
    names = list(check["test"])
    right.bar(names, [100 * check["test"][n]["accuracy"] for n in names], color=["C0", "C3"])
    for i, n in enumerate(names):
        right.text(i, 5, f"loss {check['test'][n]['loss']:.2f}", ha="center", color="white")
    chance_line(right, 10)
    right.legend(fontsize=8)
    right.set(ylabel="test accuracy %", title="Evaluating with and without the rescaling")
    figure.tight_layout()
    figure.savefig(out / "dropout_check.png", dpi=80)


def main():
    args = parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started, cpu_started = time.time(), time.process_time()
    sizes = (200, 200, 300) if args.quick else (1000, 2000, 7000)
    data = mnist_test(sizes)
    epochs, seeds = (2, 1) if args.quick else (EPOCHS, args.seeds)
    lab = Lab(data, epochs)
    methods = list(METHODS)[:3] + ["ensemble of 5", "snapshot ensemble", "CNN, fractional max pool",
                                   "ResNet, stochastic depth"] if args.quick else list(METHODS)
    print(f"{sizes[0]} training, {sizes[1]} validation, {sizes[2]} test images; {epochs} epochs; {seeds} seed(s)")
    results, curves = {}, {}
    for method in methods:
        lr = choose_lr(lab, method)
        results[method] = {"lr": lr, "runs": measure(lab, method, lr, seeds)}
        if METHODS[method].get("kind") != "ensemble":  # lab.run would give its first member: the plain MLP
            curves[method] = lab.run(method, lr, 0).curves
        print(f"  {method:<26} test accuracy by seed: "
              + ", ".join(f"{r['test']:.1%}" for r in results[method]["runs"]), flush=True)
    check = dropout_check(lab.run("dropout", results["dropout"]["lr"], 0), *data["test"])
    save_figures(results, curves, check, out)
    seconds, cpu_seconds = time.time() - started, time.process_time() - cpu_started
    (out / "results.json").write_text(json.dumps(
        {"quick": args.quick, "seeds": seeds, "epochs": epochs, "sizes": dict(zip(("train", "val", "test"), sizes)),
         "lr_grid": LR_GRID, "seconds": round(seconds), "cpu_seconds": round(cpu_seconds), "methods": results,
         "curves_seed0": curves, "dropout_check": check}, indent=1))
    table = summary(results)
    print(f"\n{table}\n")
    print("dropout check (first dropout layer, mean activation): inverted dropout train "
          f"{check['inverted']['train']:.4f} vs eval {check['inverted']['eval']:.4f}; without rescaling train "
          f"{check['not rescaled']['train']:.4f} vs eval {check['not rescaled']['eval']:.4f}; test accuracy "
          f"{check['test']['rescaled']['accuracy']:.1%} rescaled, {check['test']['not rescaled']['accuracy']:.1%} not "
          f"(loss {check['test']['rescaled']['loss']:.3f} vs {check['test']['not rescaled']['loss']:.3f})")
    print(f"mean +- sample std (ddof=1) over {seeds} seed(s); CPU s: training CPU seconds per result (the ensemble: "
          "its 5 networks); "
          f"plots and results.json in {out}/; total {seconds:.0f} s ({cpu_seconds:.0f} s of CPU time)")


if __name__ == "__main__":
    main()
