"""The main demo: transfer learning beats training from scratch when labelled data is scarce.

Take a network trained on one task, freeze it, replace its head, retrain on a
few labelled images of another task, and compare three ways of learning the
new task from k labelled images per class:

  scratch    a freshly initialised network, all of it trained on the k-shot set
  frozen     the pretrained network as a fixed feature extractor: its features are
             computed once (cached) and only a new linear head is trained on them
  fine-tune  the pretrained network with a new head, everything trained, the
             backbone at 1/10 of the head's learning rate

Experiment A (split MNIST): a LeNet-5 pretrained on digits 0-4 is transferred
to digits 5-9. Experiment B (real pretrained weights): the CIFAR-10 ResNet-20
converted from its PyTorch checkpoint is transferred to MNIST digits, resized
to 32x32 and copied into 3 channels. Accuracy is measured on held-out images
never used for training, as mean +- std over several seeds.

    python demos/transfer.py            # about 6 minutes on 2 CPU cores
    python demos/transfer.py --quick    # a smoke test in seconds

Data and weights come from $MINITL_DATA_DIR and $MINITL_WEIGHTS_DIR when set
(no network needed), else from the cache or their public URLs.
"""
import argparse
import pathlib
import time

import numpy as np

import minitl as tl
from minitl import models, nn, optim, transfer
from minitl.data import DataLoader, MNIST, TensorDataset, transforms
from minitl.train import evaluate, fit, plot_history

CIFAR_MEAN, CIFAR_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)  # what the ResNet-20 was trained with
METHODS = ("scratch", "frozen", "fine-tune")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test, not a result")
    parser.add_argument("--seeds", type=int, default=3, help="repetitions with different k-shot samples")
    parser.add_argument("--out", default="outputs/transfer", help="directory for the plots")
    return parser.parse_args()


# -- data ------------------------------------------------------------------------------------
def mnist_arrays():
    """The 10,000 MNIST test images as float32 (N, 1, 28, 28) in [0, 1], and their labels."""
    mnist = MNIST(train=False)
    return (np.asarray(mnist.data, dtype=np.float32) / 255)[:, None], np.asarray(mnist.targets, dtype=np.int64)


def as_cifar_input(images):
    """28x28 grey digits as the 32x32 RGB, CIFAR-normalised input the ResNet-20 expects."""
    prepare = transforms.Compose([transforms.Resize(32), transforms.GrayscaleToRGB(),
                                  transforms.Normalize(CIFAR_MEAN, CIFAR_STD)])
    return np.stack([prepare(image) for image in images])


def k_shot(labels, pool, classes, k, rng):
    """Indices of k random images of each class, drawn from `pool`."""
    chosen = [rng.choice(pool[labels[pool] == c], size=k, replace=False) for c in classes]
    return np.concatenate(chosen)


def loader(images, labels, batch_size, shuffle=False, seed=None):
    return DataLoader(TensorDataset(images, labels), batch_size=batch_size, shuffle=shuffle, seed=seed)


# -- the three methods -------------------------------------------------------------------------
def train_scratch(build, images, labels, test, epochs, lr, seed):
    tl.manual_seed(seed)
    model = build()
    fit(model, loader(images, labels, 50, shuffle=True, seed=seed), optim.Adam(model.parameters(), lr=lr),
        epochs, progress=False)
    return evaluate(model, test)[1]


def train_frozen(pretrained, images, labels, test_features, num_classes, epochs, lr, seed):
    """A linear head on cached features of the frozen network (the cheap CPU path)."""
    tl.manual_seed(seed)
    features, _ = transfer.extract_features(pretrained, loader(images, labels, 256))
    head = nn.Linear(features.shape[1], num_classes)
    fit(head, loader(features, labels, 50, shuffle=True, seed=seed), optim.Adam(head.parameters(), lr=lr),
        epochs, progress=False)
    return evaluate(head, test_features)[1]


def train_fine_tune(load_pretrained, images, labels, test, num_classes, epochs, lr, seed):
    """Everything trained; the backbone at lr / 10 (discriminative learning rates)."""
    tl.manual_seed(seed)
    model = load_pretrained()
    head = transfer.replace_head(model, num_classes)
    opt = optim.Adam(transfer.discriminative_param_groups(model, head, lr=lr))
    history = fit(model, loader(images, labels, 50, shuffle=True, seed=seed), opt, epochs, progress=False)
    return evaluate(model, test)[1], history


# -- experiments -------------------------------------------------------------------------------------
def run_experiment(name, setup, ks, seeds, epochs_for):
    """Accuracies[method][k] = list over seeds; prints one line per run."""
    results = {method: {k: [] for k in ks} for method in METHODS}
    for k in ks:
        for seed in range(seeds):
            rng = np.random.default_rng(seed)
            train_idx = k_shot(setup["labels"], setup["pool"], setup["classes"], k, rng)
            images, labels = setup["images"][train_idx], setup["targets"][train_idx]
            epochs = epochs_for(len(train_idx))
            start = time.time()
            results["scratch"][k].append(train_scratch(setup["build"], images, labels, setup["test"], epochs,
                                                       setup["lr"], seed))
            results["frozen"][k].append(train_frozen(setup["pretrained"], images, labels, setup["test_features"],
                                                     setup["num_classes"], 3 * epochs, 1e-2, seed))
            accuracy, history = train_fine_tune(setup["load_pretrained"], images, labels, setup["test"],
                                                setup["num_classes"], epochs, setup["lr"], seed)
            results["fine-tune"][k].append(accuracy)
            print(f"  {name} k={k:<3d} seed {seed}: " + ", ".join(
                f"{m} {results[m][k][-1]:.1%}" for m in METHODS) + f"  ({time.time() - start:.0f} s)", flush=True)
    setup["last_history"] = history
    return results


def split_mnist_setup(images, labels, quick):
    """Pretrain LeNet-5 on digits 0-4 (first half of the set); the task is digits 5-9 (second half)."""
    half = len(labels) // 2
    source = np.flatnonzero(labels[:half] < 5)[: 500 if quick else None]
    tl.manual_seed(0)
    pretrained = models.lenet5(num_classes=5)
    history = fit(pretrained, loader(images[source], labels[source], 64, shuffle=True, seed=0),
                  optim.Adam(pretrained.parameters(), lr=2e-3), 1 if quick else 3, progress=not quick)
    print(f"  LeNet-5 pretrained on digits 0-4: train accuracy {history[-1]['accuracy']:.1%}")
    state = pretrained.state_dict()
    transfer.freeze(pretrained)

    def load_pretrained():
        model = models.lenet5(num_classes=5)
        model.load_state_dict(state)
        return model

    pool = half + np.flatnonzero(labels[half:] >= 5)
    targets = labels - 5  # digits 5-9 as classes 0-4
    return pool, targets, pretrained, load_pretrained


def build_setup(images, targets, labels, pool, classes, pretrained, load_pretrained, build, num_classes,
                test_size, lr):
    """Everything run_experiment needs; the test images are the pool minus any possible k-shot draw."""
    test_idx = pool[-test_size:]
    train_pool = pool[:-test_size]
    test = loader(images[test_idx], targets[test_idx], 256)
    test_features = loader(*transfer.extract_features(pretrained, test), 256)
    return dict(images=images, targets=targets, labels=labels, pool=train_pool, classes=classes,
                pretrained=pretrained, load_pretrained=load_pretrained, build=build, num_classes=num_classes,
                test=test, test_features=test_features, lr=lr)


def summary_table(title, results, ks):
    lines = [title, f"{'method':<10}" + "".join(f"{f'k={k}':>18}" for k in ks)]
    for method in METHODS:
        lines.append(f"{method:<10}" + "".join(
            f"{100 * np.mean(results[method][k]):>11.1f} +- {100 * np.std(results[method][k]):4.1f}" for k in ks))
    return "\n".join(lines)


def plot_results(all_results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(all_results), figsize=(6 * len(all_results), 4), squeeze=False)
    for axis, (title, (results, ks)) in zip(axes[0], all_results.items()):
        for method in METHODS:
            means = [100 * np.mean(results[method][k]) for k in ks]
            stds = [100 * np.std(results[method][k]) for k in ks]
            axis.errorbar(ks, means, yerr=stds, marker="o", capsize=4, label=method)
        axis.set(xscale="log", xticks=ks, xticklabels=ks, xlabel="labelled images per class",
                 ylabel="test accuracy (%)", title=title)
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main():
    args = parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    seeds = 1 if args.quick else args.seeds
    started = time.time()
    images, labels = mnist_arrays()
    all_results, tables = {}, []

    print("Experiment A: split MNIST, LeNet-5 pretrained on digits 0-4 -> digits 5-9")
    pool, targets, pretrained, load_pretrained = split_mnist_setup(images, labels, args.quick)
    ks = [5, 10] if args.quick else [5, 10, 50]
    setup = build_setup(images, targets, labels, pool, range(5, 10), pretrained, load_pretrained,
                        lambda: models.lenet5(num_classes=5), 5, 200 if args.quick else 2000, 2e-3)
    results = run_experiment("A", setup, ks, seeds, lambda n: 2 if args.quick else max(10, 1500 // n))
    plot_history(setup["last_history"], out / "a_fine_tune_curves.png", title="A: fine-tune, last run")
    all_results["A: LeNet-5, digits 0-4 -> 5-9"] = (results, ks)
    tables.append(summary_table("A: split MNIST, test accuracy % (digits 5-9)", results, ks))

    print("Experiment B: ResNet-20 pretrained on CIFAR-10 (PyTorch checkpoint) -> MNIST at 32x32x3")
    subset = np.arange(600 if args.quick else 4000)
    rgb = as_cifar_input(images[subset])
    resnet = models.resnet20(weights="cifar10")
    transfer.freeze(resnet)
    ks = [10] if args.quick else [10, 50]
    setup = build_setup(rgb, labels[subset], labels[subset], subset, range(10), resnet,
                        lambda: models.resnet20(weights="cifar10"), lambda: models.resnet20(), 10,
                        100 if args.quick else 1000, 1e-3)
    results = run_experiment("B", setup, ks, seeds, lambda n: 1 if args.quick else max(3, 1500 // n))
    plot_history(setup["last_history"], out / "b_fine_tune_curves.png", title="B: fine-tune, last run")
    all_results["B: ResNet-20 CIFAR-10 -> MNIST"] = (results, ks)
    tables.append(summary_table("B: ResNet-20 (CIFAR-10) -> MNIST 32x32x3, test accuracy %", results, ks))

    plot_results(all_results, out / "transfer_accuracy.png")
    print(f"\n{tables[0]}\n\n{tables[1]}\n")
    print(f"mean +- std over {seeds} seed(s); plots in {out}/; total {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
