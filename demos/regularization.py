"""Regularization lab: which of the lecture's tricks close the gap between training and test accuracy?

A small-data task where overfitting is real: 1,000 MNIST training images, and networks big enough to
learn all of them. The MNIST test set (the 10,000 images the project has) is split once, with a fixed
seed, into a pool of 3,000 training images, 2,000 validation images (to choose hyper-parameters, to
stop early and to draw the curves) and 5,000 test images (used for the results only). Every run draws
its own 1,000 training images from the pool with its seed, so the spreads include the choice of data.

Rows (the MLP is 784-256-256-10 with ReLUs; every change is one thing):

  none            the plain MLP
  L2 (Adam)       coupled weight decay: Adam's weight_decay adds lambda * w to each gradient, which Adam
                  then divides by its running gradient scale
  AdamW           decoupled weight decay: w <- w - lr * wd * w beside the Adam step (Loshchilov & Hutter)
  dropout         inverted dropout (p chosen) after each hidden layer
  DropConnect     the hidden Linear layers drop weights instead (p chosen, nn.DropConnectLinear)
  batch norm      BatchNorm1d after each hidden Linear
  augmentation    RandomAffine: +-10 degrees, +-2 pixels, scale 0.9-1.1, shear +-5 degrees. Digits
                  must not be flipped (a mirrored 2 or 3 is no digit) nor turned far (a 6 would
                  become a 9), so only small rotations, shifts, zooms and shears fit
  early stopping  the plain MLP, stopped after PATIENCE epochs without a better validation accuracy,
                  with its best epoch's weights (lab.train.EarlyStopping)
  MLP ensemble    five plain MLPs on the same images from different initialisations, softmax outputs
                  averaged (5x the training; the members use the plain MLP's lr)
  snapshot ens.   one plain MLP with a cosine schedule restarting every EPOCHS / 5 epochs; the snapshots
                  at the 5 cycle ends, averaged
  EMA weights     one plain MLP evaluated with an exponential moving average of its weights
  CNN max pool    conv(16)-pool-conv(32)-pool-linear, 2x2 max pooling
  CNN ensemble    five of those, averaged as the MLP ensemble
  CNN fractional  the same CNN with fractional max pooling (3x3 windows at pseudo-random strides of
                  1 or 2, random at every pass, also at test time as in PyTorch)
  ResNet          a small ResNet (stem, 3 basic blocks of 8 channels at 14x14, one of 16 at 7x7)
  ResNet + s.d.   the same with stochastic depth, drop probability rising linearly to 0.5

One protocol for all: Adam (AdamW for its row), batches of 50, EPOCHS epochs (early stopping: at
most), and one rule for every hyper-parameter: the learning rate of LR_GRID, jointly with the
strength where the method has one (lambda, weight_decay or p from its grid in METHODS), that gives
the best validation accuracy averaged over two runs, with the TUNE_SEEDS (each its own training
images and initialisation; no reported run uses them); the ensembles take their members' choice. Then
--seeds seeds (mean +- sample std, ddof=1). Train accuracy is measured after training, in eval mode,
on the run's clean training images; the curves use 500 of them and 500 validation images.

    python demos/regularization.py            # about 8 minutes of CPU time (467 s measured)
    python demos/regularization.py --long     # about 6 minutes: the decay, dropout and early-stopping rows over
                                              # LONG_EPOCHS epochs, into outputs/regularization/long/
    python demos/regularization.py --quick    # a smoke test in seconds

MNIST comes from $MINITL_DATA_DIR when set (no network needed), else from the
cache or its public URL. Outputs (PNGs, results.json) go to outputs/regularization/.
"""
import argparse
import collections
import functools
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
from minitl.lab import ensemble, tune
from minitl.lab.train import EarlyStopping
from minitl.models.cifar_resnet import BasicBlock
from minitl.nn import functional as F
from minitl.nn.regularization import linear_decay

LR_GRID = (1e-3, 3e-3, 1e-2, 3e-2)
EPOCHS, LONG_EPOCHS = 15, 60
POOL, VAL, TEST, TRAIN = 3000, 2000, 5000, 1000
TUNE_SEEDS = (100, 101)  # no reported run uses them
PATIENCE = 3  # early stopping: epochs without a better validation accuracy
CURVE_IMAGES = 500  # the per-epoch curves use this many training and validation images
BATCH = 50
ENSEMBLE_SIZE = 5
SNAPSHOT_CYCLES = 5
EMA_DECAY = 0.99  # remembers about 100 steps: 5 epochs of 20 batches


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test, not a result")
    parser.add_argument("--long", action="store_true",
                        help=f"{LONG_EPOCHS} epochs instead of {EPOCHS}, for the rows of LONG_METHODS only")
    parser.add_argument("--seeds", type=int, default=3, help="repetitions, each with its own training images")
    parser.add_argument("--out", help="directory for the plots and results.json (default outputs/regularization, "
                                      "with --long its subfolder long)")
    return parser.parse_args()


# -- data (the splits: common.mnist_test) ----------------------------------------------------------------
def draw_training_set(pool, seed, size):
    """`size` images of the pool (images, labels), drawn without replacement by `seed`."""
    images, labels = pool
    chosen = np.random.default_rng(seed).choice(len(labels), size=size, replace=False)
    return images[chosen], labels[chosen]


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


def dropout_mlp(p, layer=nn.Dropout):
    """The MLP with `layer(p)` after each hidden ReLU."""
    layers = [nn.Flatten()]
    for width_in in (784, 256):
        layers += [nn.Linear(width_in, 256), nn.ReLU(), layer(p)]
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


# name -> how to build and train it. build(): the network (build(p=...) when the strength is "p");
# strength: (its name, the grid it is chosen from with the lr), "weight_decay" going to the optimizer;
# kind: how predictions are made (plain, snapshot, ema); members_of: an ensemble of that row's networks.
P_GRID = (0.1, 0.3, 0.5)
METHODS = {
    "none": dict(build=mlp),
    "L2, coupled (Adam)": dict(build=mlp, strength=("weight_decay", (1e-4, 1e-3, 1e-2))),
    "decoupled (AdamW)": dict(build=mlp, optimizer=optim.AdamW, strength=("weight_decay", (0.01, 0.1, 1.0))),
    "dropout": dict(build=dropout_mlp, strength=("p", P_GRID)),
    "DropConnect": dict(build=lambda p: mlp(hidden=lambda i, o: nn.DropConnectLinear(i, o, p=p)),
                        strength=("p", P_GRID)),
    "batch norm": dict(build=lambda: mlp(after=lambda width: [nn.BatchNorm1d(width)])),
    "augmentation": dict(build=mlp, augment=DIGIT_AUGMENTATION),
    "early stopping": dict(build=mlp, early_stopping=True),
    "MLP ensemble of 5": dict(members_of="none"),
    "snapshot ensemble": dict(build=mlp, kind="snapshot"),
    "EMA weights": dict(build=mlp, kind="ema"),
    "CNN, max pooling": dict(build=lambda: cnn(lambda size: nn.MaxPool2d(2))),
    "CNN ensemble of 5": dict(members_of="CNN, max pooling"),
    "CNN, fractional max pool": dict(build=lambda: cnn(lambda size: nn.FractionalMaxPool2d(3, output_size=size))),
    "ResNet": dict(build=SmallResNet),
    "ResNet, stochastic depth": dict(build=lambda: SmallResNet(stochastic_depth_prob=0.5)),
}
LONG_METHODS = ("none", "L2, coupled (Adam)", "decoupled (AdamW)", "dropout", "DropConnect", "early stopping")
QUICK_METHODS = ("none", "L2, coupled (Adam)", "decoupled (AdamW)", "dropout", "early stopping", "MLP ensemble of 5",
                 "snapshot ensemble", "CNN, max pooling", "CNN ensemble of 5", "CNN, fractional max pool",
                 "ResNet, stochastic depth")


# -- training --------------------------------------------------------------------------------------------
class Run:
    """One trained network: `probabilities(images)` predicts as its method does. The training images are
    drawn by `seed`; the initialisation and batch order come from `init_seed`."""

    def __init__(self, spec, data, lr, strength, seed, init_seed, epochs, curves):
        tl.manual_seed(init_seed)
        self.train_set = draw_training_set(data["pool"], seed, data["train_size"])
        train_x, train_y = self.train_set
        name = spec.get("strength", (None,))[0]
        self.model = spec["build"](p=strength) if name == "p" else spec["build"]()
        opt = spec.get("optimizer", optim.Adam)(self.model.parameters(), lr=lr,
                                                 weight_decay=strength if name == "weight_decay" else 0.0)
        source = (Augmented(train_x, train_y, spec["augment"]) if "augment" in spec
                  else TensorDataset(train_x, train_y))
        loader = DataLoader(source, batch_size=BATCH, shuffle=True, seed=init_seed)
        kind = spec.get("kind", "plain")
        self.ema = optim.EMA(self.model, EMA_DECAY) if kind == "ema" else None
        self.schedule = None
        if kind == "snapshot":
            self.schedule = ensemble.SnapshotSchedule(self.model, opt, max(1, epochs // SNAPSHOT_CYCLES), len(loader))
        stopper = EarlyStopping(PATIENCE) if spec.get("early_stopping") else None
        self.curves = {"train": [], "val": []} if curves else None
        self.seconds = 0.0  # CPU seconds: comparable between runs on a machine shared with other work
        for epoch in range(1, epochs + 1):
            self.epochs = self.best_epoch = epoch  # epochs trained; early stopping keeps an earlier one's weights
            started = time.process_time()
            self.train_epoch(loader, opt)
            stop = stopper is not None and stopper.step(self.accuracy(*data["val"]), self.model)
            self.seconds += time.process_time() - started  # training, and early stopping's validation passes
            if curves:  # a measurement for the figure, not part of the method's cost
                self.curves["train"].append(self.accuracy(train_x[:CURVE_IMAGES], train_y[:CURVE_IMAGES]))
                self.curves["val"].append(self.accuracy(*(part[:CURVE_IMAGES] for part in data["val"])))
            if stop:
                break
        if stopper is not None:
            self.best_epoch = stopper.best_epoch
            stopper.restore(self.model)

    def train_epoch(self, loader, opt):
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

    def probabilities(self, images):
        if self.ema is not None:
            return ensemble.ema_probabilities(self.ema, self.model, images)
        if self.schedule is not None and self.schedule.snapshots:
            return self.schedule.predict_probabilities(self.model, images)
        return ensemble.predict_probabilities(self.model, images)

    def accuracy(self, images, labels):
        return ensemble.accuracy(self.probabilities(tl.tensor(images, dtype=tl.float32)), labels)


class Lab:
    """Trains each (method, lr, strength, seed, init seed) once and keeps it: an ensemble reuses its members'
    runs, and its first member is the single network of the same seed."""

    def __init__(self, data, epochs):
        self.data, self.epochs, self.runs = data, epochs, {}

    def run(self, method, lr, strength, seed, init_seed=None):
        init_seed = seed if init_seed is None else init_seed
        key = (method, lr, strength, seed, init_seed)
        if key not in self.runs:  # seed 0's own network draws the curves
            self.runs[key] = Run(METHODS[method], self.data, lr, strength, seed, init_seed, self.epochs,
                                 curves=seed == init_seed == 0)
        return self.runs[key]

    def members(self, method, lr, strength, seed):
        """The networks behind one result: five for an ensemble (on the seed's images), else one."""
        base = METHODS[method].get("members_of")
        if base is None:
            return [self.run(method, lr, strength, seed)]
        return [self.run(base, lr, strength, seed)] + [
            self.run(base, lr, strength, seed, 1000 + ENSEMBLE_SIZE * seed + k) for k in range(1, ENSEMBLE_SIZE)]

    def score(self, method, lr, strength, seed, split):
        """Accuracy on `split` ('train': the seed's own images, 'val' or 'test') and the members' CPU seconds."""
        members = self.members(method, lr, strength, seed)
        images, labels = members[0].train_set if split == "train" else self.data[split]
        probabilities = sum(m.probabilities(tl.tensor(images, dtype=tl.float32)) for m in members) / len(members)
        return ensemble.accuracy(probabilities, labels), sum(m.seconds for m in members)


def choose(lab, method):
    """(lr, strength): the combination of LR_GRID and the method's strength grid with the best validation
    accuracy, averaged over a run with each of the TUNE_SEEDS (ties: the first in grid order); and every trial."""
    name, values = METHODS[method].get("strength", (None, (None,)))

    def validation_accuracy(lr, strength):
        return np.mean([lab.score(method, lr, strength, seed, "val")[0] for seed in TUNE_SEEDS])

    search = tune.grid_search(validation_accuracy, {"strength": values, "lr": LR_GRID})
    failed = [trial for trial in search if trial["status"] != "ok"]
    if failed:
        raise RuntimeError(f"{method}: tuning run failed: {failed[0]['error']}")
    best = search.best()["params"]
    for value in values:
        scores = [t["score"] for t in search if t["params"]["strength"] == value]
        print(f"  {method:<26} mean validation accuracy by lr{'' if name is None else f' ({name} {value:g})'}: "
              + ", ".join(f"{lr:g} {score:.1%}" for lr, score in zip(LR_GRID, scores)), flush=True)
    trials = [{"lr": t["params"]["lr"], "strength": t["params"]["strength"], "val": t["score"]} for t in search]
    return best["lr"], best["strength"], trials


def measure(lab, method, lr, strength, seeds):
    """Per seed: train and test accuracy, CPU seconds, epochs trained and the epoch whose weights are kept."""
    rows = []
    for seed in range(seeds):
        train_accuracy, seconds = lab.score(method, lr, strength, seed, "train")
        test_accuracy, _ = lab.score(method, lr, strength, seed, "test")
        network = lab.members(method, lr, strength, seed)[0]
        rows.append({"train": train_accuracy, "test": test_accuracy, "gap": train_accuracy - test_accuracy,
                     "seconds": seconds, "epochs": network.epochs, "best_epoch": network.best_epoch})
    return rows


# -- the dropout test-time check -------------------------------------------------------------------------
class UnscaledDropout(nn.Dropout):
    """Dropout without the rescaling: training keeps each unit with probability 1 - p and does not divide
    by it, so the next layer learns on (1 - p) a on average; evaluation passes a times `test_scale` (1:
    rescaling forgotten; 1 - p: the weight scaling at test time of Srivastava et al., 2014)."""

    test_scale = 1.0

    def forward(self, x):
        if self.training:
            return F.dropout(x, self.p, True) * (1 - self.p)  # inverted dropout's mask * a / (1 - p), times 1 - p
        return x * self.test_scale


def dropout_check(inverted, unscaled, images, labels, passes=20):
    """Two trained networks, one with inverted dropout and one with UnscaledDropout (same p, lr, seed and
    images): the mean activation after their first dropout layer in training mode (averaged over
    `passes` draws of the masks) and in eval mode, all measured; and their test accuracy and loss,
    the unscaled network evaluated as it is and with its activations times 1 - p at test time.

    Inverted dropout gives the same mean in both modes. Without the rescaling training sees
    (1 - p) E[a] and evaluation E[a]: later layers get inputs 1 / (1 - p) times larger than those they
    learnt on, unless evaluation multiplies by 1 - p.
    """
    x = tl.tensor(images, dtype=tl.float32)
    labels_t = tl.tensor(labels)

    def mean_activations(model):
        first = next(i for i, layer in enumerate(model) if isinstance(layer, nn.Dropout))
        prefix = nn.Sequential(*list(model)[:first + 1])
        with tl.no_grad():
            train_mean = float(np.mean([prefix.train()(x).numpy().mean() for _ in range(passes)]))
            return {"train": train_mean, "eval": float(prefix.eval()(x).numpy().mean())}

    def effect(model):
        with tl.no_grad():
            logits = model.eval()(x)
        return {"accuracy": ensemble.accuracy(logits.numpy(), labels), "loss": F.cross_entropy(logits, labels_t).item()}

    check = {"inverted": mean_activations(inverted.model),
             "not rescaled": mean_activations(unscaled.model)}
    check["test"] = {"inverted": effect(inverted.model), "not rescaled": effect(unscaled.model)}
    for layer in unscaled.model:
        if isinstance(layer, UnscaledDropout):
            layer.test_scale = 1 - layer.p
    check["test"]["not rescaled, x (1 - p) at test"] = effect(unscaled.model)
    return check


# -- report ------------------------------------------------------------------------------------------------
def strength_text(method, strength):
    name = METHODS[METHODS[method].get("members_of", method)].get("strength", (None,))[0]
    return "-" if name is None else f"{'wd' if name == 'weight_decay' else name} {strength:g}"


def summary(results):
    """One line per method: mean +- sample std of train and test accuracy (%) and the gap, the epochs trained,
    CPU seconds per result, and the chosen lr and strength."""
    def cell(rows, key, scale=100):
        values = [r[key] for r in rows]
        return f"{values[0]}" if key == "epochs" and len(set(values)) == 1 else mean_std(values, scale)
    lines = [f"{'method':<26}{'train acc %':>15}{'test acc %':>15}{'gap':>15}{'epochs':>13}{'CPU s':>8}"
             f"{'lr':>8}   strength"]
    for method, entry in results.items():
        rows = entry["runs"]
        lines.append(f"{method:<26}{cell(rows, 'train'):>15}{cell(rows, 'test'):>15}{cell(rows, 'gap'):>15}"
                     f"{cell(rows, 'epochs', 1):>13}{np.mean([r['seconds'] for r in rows]):8.1f}"
                     f"{entry['lr']:>8g}   {strength_text(method, entry['strength'])}")
    return "\n".join(lines)


def choices(results):
    """How often each lr of LR_GRID was chosen, and which strengths sit at an edge of their grid."""
    tuned = [method for method in results if "members_of" not in METHODS[method]]
    counts = collections.Counter(results[method]["lr"] for method in tuned)
    lines = [f"lr chosen over {len(tuned)} tuned rows: " + ", ".join(f"{lr:g} x {counts[lr]}" for lr in LR_GRID)
             + f" (lowest value {counts[LR_GRID[0]]} of {len(tuned)}, highest {counts[LR_GRID[-1]]} of {len(tuned)})"]
    for method in tuned:
        if "strength" in METHODS[method]:
            name, values = METHODS[method]["strength"]
            chosen = results[method]["strength"]
            where = "lowest" if chosen == values[0] else "highest" if chosen == values[-1] else "inside"
            lines.append(f"  {method}: {name} {chosen:g} of {', '.join(f'{v:g}' for v in values)} ({where})")
    return "\n".join(lines)


def ensemble_gains(results):
    """Each ensemble's test accuracy minus its single network's, paired by seed (the first member is that network)."""
    lines = []
    for method, entry in results.items():
        single = METHODS[method].get("members_of")
        if single in results:
            gains = [e["test"] - s["test"] for e, s in zip(entry["runs"], results[single]["runs"])]
            lines.append(f"{method} minus {single}: {mean_std(gains, 100)} points of test accuracy "
                         "(paired by seed)")
    return "\n".join(lines)


def dropout_report(check):
    inverted, unscaled, test = check["inverted"], check["not rescaled"], check["test"]
    return (f"dropout check (p {check['p']:g}; mean activation after the first dropout layer, training mode vs eval): "
            f"inverted {inverted['train']:.4f} vs {inverted['eval']:.4f}; not rescaled {unscaled['train']:.4f} vs "
            f"{unscaled['eval']:.4f} (ratio {unscaled['train'] / unscaled['eval']:.3f}, 1 - p = {1 - check['p']:g})\n"
            "  test accuracy (loss): " + "; ".join(f"{name} {v['accuracy']:.1%} ({v['loss']:.3f})"
                                                   for name, v in test.items()))


def save_figures(results, curves, check, out):
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    columns = 4
    rows_count = -(-len(curves) // columns)
    figure = Figure(figsize=(4 * columns, 3 * rows_count))
    axes = figure.subplots(rows_count, columns, squeeze=False).ravel()
    for axis, (method, curve) in zip(axes, curves.items()):
        epochs = range(1, len(curve["train"]) + 1)
        axis.plot(epochs, [100 * a for a in curve["train"]], label="train")
        axis.plot(epochs, [100 * a for a in curve["val"]], label="validation")
        if METHODS[method].get("early_stopping"):
            axis.axvline(curve["best_epoch"], color="grey", linestyle="--", label="kept epoch")
        lowest = min(min(curve["train"]), min(curve["val"]))
        axis.set(title=method, xlabel="epoch", ylabel="accuracy %", ylim=(max(0, 100 * lowest - 5), 101))
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))  # whole epochs only
        axis.grid(alpha=0.3)
        axis.legend(loc="lower right")
    for axis in axes[len(curves):]:
        axis.set_visible(False)
    figure.suptitle("Train vs validation accuracy per epoch (seed 0, eval mode at each epoch's end): the gap is "
                    "overfitting (the ensembles have no panel: their first members are the single networks' runs)")
    figure.tight_layout()
    figure.savefig(out / "curves.png", dpi=80)

    tuned = [m for m in results if "strength" in METHODS[m]]
    figure = Figure(figsize=(4 * len(tuned), 3.5))
    for axis, method in zip(figure.subplots(1, len(tuned), squeeze=False).ravel(), tuned):
        name, values = METHODS[method]["strength"]
        for value in values:
            trials = [t for t in results[method]["tuning"] if t["strength"] == value]
            axis.plot([t["lr"] for t in trials], [100 * t["val"] for t in trials], marker="o", label=f"{name} {value:g}")
        if "none" in results:
            axis.plot(LR_GRID, [100 * t["val"] for t in results["none"]["tuning"]], "k--", label="none")
        axis.set(xscale="log", title=method, xlabel="learning rate", ylabel="validation accuracy %")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.suptitle("Choosing the strength with the lr: validation accuracy, the mean of runs with seeds "
                    + " and ".join(map(str, TUNE_SEEDS)))
    figure.tight_layout()
    figure.savefig(out / "tuning.png", dpi=80)

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

    figure = Figure(figsize=(12, 4))
    left, right = figure.subplots(1, 2)
    labels = ["inverted\ntrain", "inverted\neval", "not rescaled\ntrain", "not rescaled\neval"]
    values = [check["inverted"]["train"], check["inverted"]["eval"], check["not rescaled"]["train"],
              check["not rescaled"]["eval"]]
    left.bar(labels, values, color=["C0", "C0", "C3", "C3"])
    left.set(ylabel="mean activation after dropout", title=f"First dropout layer (p {check['p']:g}): train vs eval")
    names = list(check["test"])
    right.bar([n.replace(", ", ",\n") for n in names], [100 * check["test"][n]["accuracy"] for n in names],
              color=["C0", "C3", "C2"])
    for i, n in enumerate(names):
        right.text(i, 5, f"loss {check['test'][n]['loss']:.2f}", ha="center", color="white")
    chance_line(right, 10)
    right.legend(fontsize=8)
    right.set(ylabel="test accuracy %", title="Two trained networks, evaluated")
    figure.tight_layout()
    figure.savefig(out / "dropout_check.png", dpi=80)


def main():
    args = parse_args()
    out = pathlib.Path(args.out or ("outputs/regularization/long" if args.long else "outputs/regularization"))
    out.mkdir(parents=True, exist_ok=True)
    started, cpu_started = time.time(), time.process_time()
    sizes, train_size = ((300, 200, 300), 150) if args.quick else ((POOL, VAL, TEST), TRAIN)
    splits = mnist_test(sizes)
    data = {"pool": splits["train"], "val": splits["val"], "test": splits["test"], "train_size": train_size}
    epochs = 2 if args.quick else LONG_EPOCHS if args.long else EPOCHS
    seeds = 1 if args.quick else args.seeds
    chosen = LONG_METHODS if args.long else QUICK_METHODS if args.quick else METHODS
    methods = [method for method in METHODS if method in chosen]
    lab = Lab(data, epochs)
    print(f"{train_size} training images per run from a pool of {sizes[0]}, {sizes[1]} validation, {sizes[2]} test "
          f"images; {epochs} epochs; {seeds} seed(s)")
    results, curves = {}, {}
    for method in methods:
        single = METHODS[method].get("members_of")
        if single is None:
            lr, strength, trials = choose(lab, method)
        else:  # the members' choice: tuning the ensemble itself would cost 5 runs per grid point
            lr, strength, trials = results[single]["lr"], results[single]["strength"], None
        results[method] = {"lr": lr, "strength": strength, "tuning": trials,
                           "runs": measure(lab, method, lr, strength, seeds)}
        if single is None:
            run = lab.run(method, lr, strength, 0)
            curves[method] = {**run.curves, "best_epoch": run.best_epoch}
        print(f"  {method:<26} test accuracy by seed: "
              + ", ".join(f"{r['test']:.1%} (epoch {r['best_epoch']} of {r['epochs']})"
                          if METHODS[method].get("early_stopping") else f"{r['test']:.1%}"
                          for r in results[method]["runs"]), flush=True)
    p, lr = results["dropout"]["strength"], results["dropout"]["lr"]
    unscaled = Run({"build": functools.partial(dropout_mlp, layer=UnscaledDropout), "strength": ("p", ())}, data, lr,
                   p, 0, 0, epochs, curves=False)
    check = {"p": p, **dropout_check(lab.run("dropout", lr, p, 0), unscaled, *data["test"])}
    save_figures(results, curves, check, out)
    seconds, cpu_seconds = time.time() - started, time.process_time() - cpu_started
    report = [summary(results), choices(results), ensemble_gains(results), dropout_report(check)]
    (out / "results.json").write_text(json.dumps(
        {"quick": args.quick, "long": args.long, "seeds": seeds, "epochs": epochs, "patience": PATIENCE,
         "sizes": {"pool": sizes[0], "train": train_size, "val": sizes[1], "test": sizes[2]}, "lr_grid": LR_GRID,
         "tune_seeds": TUNE_SEEDS, "seconds": round(seconds), "cpu_seconds": round(cpu_seconds), "methods": results,
         "curves_seed0": curves, "dropout_check": check}, indent=1))
    print("\n" + "\n\n".join(part for part in report if part) + "\n")
    print(f"mean +- sample std (ddof=1) over {seeds} seed(s), each with its own training images; epochs: trained "
          "(early stopping: until it stopped); CPU s: training CPU seconds per result (an ensemble: its 5 networks); "
          f"plots and results.json in {out}/; total {seconds:.0f} s ({cpu_seconds:.0f} s of CPU time)")


if __name__ == "__main__":
    main()
