"""Transfer learning, further: how deep to fine-tune, FC layers as convolutions, multi-task heads, backdoors.

Five studies on the MNIST test set and the CIFAR-10 ResNet-20 checkpoint the
main demo (demos/transfer.py) uses, one per command:

    python demos/transfer_more.py similar     # LeNet-5 digits 0-4 -> 5-9: data x depth fine-tuned, linear probes
    python demos/transfer_more.py different   # ResNet-20 CIFAR-10 -> MNIST: the same, and a PCA of its features
    python demos/transfer_more.py fc-conv     # LeNet-5 as a fully convolutional net over a canvas of digits
    python demos/transfer_more.py multitask   # digit, parity and ">4" learned jointly vs each alone
    python demos/transfer_more.py backdoor    # a BadNets trigger in the source network: does it survive transfer?

Each runs in under 10 minutes on 2 CPU cores; --quick is a smoke test in
seconds. One protocol wherever methods are compared: Adam, batches of 50,
epochs = max(minimum, budget / training images) for every method, a
learning rate per method (and per k, except in `different`, which keeps
the rate chosen at its smallest k) chosen from LR_GRID on validation images
after training on a k-shot draw no reported run uses, test images only for the
results, mean +- sample std (ddof=1) over seeds (each seed draws other
training images).
Tables are printed; PNGs and results.json go to --out/<study>/.
"""
import argparse
import json
import pathlib
import time

import numpy as np
from common import as_cifar_input, chance_line, k_shot, loader, mean_std, mnist_test, sample_std
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

import minitl as tl
from minitl import models, nn, optim
from minitl.lab import backdoor, multitask, transfer
from minitl.lab.pca import pca
from minitl.lab.train import evaluate, fit

LR_GRID = (1e-3, 3e-3, 1e-2)  # Adam learning rates tried per method (for fine-tuning: the head's; the rest gets 1/10)
STUDIES = ("similar", "different", "fc-conv", "multitask", "backdoor")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", choices=STUDIES)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test, not a result")
    parser.add_argument("--seeds", type=int, default=3, help="repetitions with different training draws")
    parser.add_argument("--out", default="outputs/transfer_more", help="directory for plots and results.json")
    return parser.parse_args()


# -- training pieces shared by the studies ---------------------------------------------------------
def epochs_for(n, budget, minimum):
    """The same rule for every method: at least `budget` image presentations and `minimum` epochs."""
    return max(minimum, budget // n)


def train_linear(features, labels, epochs, lr, seed, num_classes):
    """A linear classifier trained on cached features (the cheap path for a frozen network)."""
    tl.manual_seed(seed)
    head = nn.Linear(features.shape[1], num_classes)
    fit(head, loader(features, labels, 50, shuffle=True, seed=seed), optim.Adam(head.parameters(), lr=lr), epochs,
        progress=False)
    return head


def fine_tune(model, n, stages, images, labels, epochs, lr, seed, num_classes):
    """A new head, the last n stages unfrozen and trained with it (them at lr / 10, the head at lr)."""
    tl.manual_seed(seed)
    head = transfer.replace_head(model, num_classes)
    transfer.unfreeze_last(model, n, stages)
    opt = optim.Adam(transfer.discriminative_param_groups(model, head, lr=lr))
    fit(model, loader(images, labels, 50, shuffle=True, seed=seed), opt, epochs, progress=False)
    return model


def accuracy(model, images, labels):
    return evaluate(model, loader(images, labels, 256))[1]


def predict(model, images):
    """The class the model answers for each image (eval mode, no graph)."""
    model.eval()
    with tl.no_grad():
        return np.concatenate([model(tl.tensor(images[i:i + 256])).numpy().argmax(axis=1)
                               for i in range(0, len(images), 256)])


def choose_lr(validation_accuracy, quick):
    """The learning rate of LR_GRID with the best validation accuracy (the same rule for every method).

    A quick run only tries the middle one."""
    scores = {lr: validation_accuracy(lr) for lr in (LR_GRID[1:2] if quick else LR_GRID)}
    return max(scores, key=scores.get)


def draw(setting, k, seed):
    """k training images per class of the setting's target task: the seed decides which."""
    return k_shot(setting["labels"], setting["train"], setting["classes"], k, np.random.default_rng(seed))


def percent(values):
    """Fractions as 'mean +- sample std' in percent."""
    return mean_std(values, 100)


def summary(values):
    """mean, sample std (NaN for one seed) and the runs (fractions) for results.json."""
    return {"mean": float(np.mean(values)), "std": sample_std(values), "runs": [float(v) for v in values]}


def table(title, rows, columns, cell):
    """A printed table: one line per row, `cell(row, column)` a string."""
    width = max(len(row) for row in rows) + 2
    lines = [title, " " * width + "".join(f"{column:>26}" for column in columns)]
    lines += [f"{row:<{width}}" + "".join(f"{cell(row, column):>26}" for column in columns) for row in rows]
    return "\n".join(lines)


def save_results(out, study, seeds, quick, started, tables, results):
    """results.json, and the tables printed."""
    seconds = time.time() - started
    (out / "results.json").write_text(json.dumps(
        {"study": study, "seeds": seeds, "quick": quick, "seconds": round(seconds), "results": results}, indent=1))
    print("\n" + "\n\n".join(tables))
    print(f"\nmean +- sample std (ddof=1) over {seeds} seed(s); plots and results.json in {out}/; total {seconds:.0f} s")


# -- 1. how deep to fine-tune, with how much data ------------------------------------------------------
def split_pool(size, test_size, val_size):
    """(train, validation, test) positions in 0..size-1: test the last test_size, validation the val_size before."""
    first_val, first_test = size - test_size - val_size, size - test_size
    return np.arange(first_val), np.arange(first_val, first_test), np.arange(first_test, size)


def target_images(images, labels, chosen, test_size, val_size):
    """The target task's images (`chosen` indices, in random order) and its train/val/test split: positions
    into them. Training draws come from the train positions only; test images serve only the results."""
    chosen = np.random.default_rng(0).permutation(chosen)
    train, val, test = split_pool(len(chosen), test_size, val_size)
    return dict(images=images[chosen], labels=labels[chosen], train=train, val=val, test=test)


def pretrain_lenet(images, labels, epochs, num_classes=5, seed=0, lr=2e-3):
    """LeNet-5 trained from scratch on (images, labels), Adam, batches of 50."""
    tl.manual_seed(seed)
    model = models.lenet5(num_classes=num_classes)
    fit(model, loader(images, labels, 50, shuffle=True, seed=seed), optim.Adam(model.parameters(), lr=lr), epochs,
        progress=False)
    return model


def lenet_stages(model):
    """LeNet-5's layers with weights below its head: conv1, conv2, fc1, fc2."""
    return [model.features[0], model.features[3], model.classifier[1], model.classifier[3]]


def digits_5_to_9(images, labels, quick):
    """The split-MNIST target task: digits 5-9 as classes 0-4 (about 600 training images of each are left)."""
    target = np.flatnonzero(labels >= 5)[: 700 if quick else None]
    setting = target_images(images, labels, target, 200 if quick else 1000, 100 if quick else 500)
    return dict(setting, targets=setting["labels"] - 5, classes=range(5, 10), num_classes=5)


def load_lenet(state):
    """A fresh LeNet-5 for 5 classes with the weights in `state`."""
    model = models.lenet5(num_classes=5)
    model.load_state_dict(state)
    return model


def similar_setting(images, labels, quick):
    """LeNet-5 pretrained on digits 0-4 (every such test image); the target task is digits 5-9."""
    source = np.flatnonzero(labels < 5)[: 500 if quick else None]
    state = pretrain_lenet(images[source], labels[source], 1 if quick else 5).state_dict()
    print(f"  LeNet-5 pretrained on {len(source)} images of digits 0-4")
    return dict(digits_5_to_9(images, labels, quick), name="similar", load=lambda: load_lenet(state),
                stages=lenet_stages, depths={"last stage (fc2)": 1, "last two (fc1, fc2)": 2, "all": 4},
                probes={"conv1": ("features.2", None), "conv2": ("features.5", None),
                        "fc1": ("classifier.2", None), "fc2 = head only": ("classifier.4", None)},
                scratch=lambda: models.lenet5(num_classes=5), budget=3000, min_epochs=5, lr_per_k=True)


def different_setting(images, labels, quick):
    """ResNet-20 with its CIFAR-10 weights; the target task is MNIST digits as 32x32 RGB images."""
    chosen = np.arange(160 if quick else 2300)
    setting = target_images(as_cifar_input(images[chosen]), labels, chosen, 50 if quick else 600,
                            30 if quick else 300)
    return dict(setting, name="different", targets=setting["labels"], classes=range(10), num_classes=10,
                load=lambda: models.resnet20(weights="cifar10"), stages=transfer.default_stages,
                depths={"last stage (layer3)": 1, "last two (layer2, 3)": 2, "all": 5},
                probes={"layer1 (4x4 grid)": ("layer1", 4), "layer2 (4x4 grid)": ("layer2", 4),
                        "layer3 (4x4 grid)": ("layer3", 4), "layer3 pooled = head only": (None, None)},
                scratch=None, budget=1000, min_epochs=2, lr_per_k=False)  # ResNet-20 at k=100 is the cost


def depth_methods(setting):
    """method name -> train(chosen, epochs, lr, seed) -> a function scoring index arrays (for val or test)."""
    images, targets, classes = setting["images"], setting["targets"], setting["num_classes"]
    methods = {}
    for probe, (layer, pool) in setting["probes"].items():
        features, _ = transfer.extract_features(transfer.freeze(setting["load"]()),
                                                loader(images, targets, 256), layer=layer, pool=pool)

        def probe_method(chosen, epochs, lr, seed, features=features):
            head = train_linear(features[chosen], targets[chosen], epochs, lr, seed, classes)
            return lambda split: accuracy(head, features[split], targets[split])
        methods[f"probe {probe}"] = probe_method
    for depth, n in setting["depths"].items():
        def depth_method(chosen, epochs, lr, seed, n=n):
            model = setting["load"]()
            fine_tune(model, n, setting["stages"](model), images[chosen], targets[chosen], epochs, lr, seed, classes)
            return lambda split: accuracy(model, images[split], targets[split])
        methods[f"fine-tune {depth}"] = depth_method
    if setting["scratch"] is not None:
        def scratch_method(chosen, epochs, lr, seed):
            tl.manual_seed(seed)
            model = setting["scratch"]()
            fit(model, loader(images[chosen], targets[chosen], 50, shuffle=True, seed=seed),
                optim.Adam(model.parameters(), lr=lr), epochs, progress=False)
            return lambda split: accuracy(model, images[split], targets[split])
        methods["scratch"] = scratch_method
    return methods


def depth_study(setting, ks, seeds, quick):
    """accuracy[method][k] over seeds, and lrs[method][k]: each method's learning rate, chosen at every k when
    setting["lr_per_k"], else chosen at the smallest k and kept for the larger ones (cheaper, but a rate that
    suits few images may be too large or small for many: a bias against the rows whose best rate moves with k)."""
    methods = depth_methods(setting)
    epochs = (lambda n: 1) if quick else (lambda n: epochs_for(n, setting["budget"], setting["min_epochs"]))
    lrs = {method: {} for method in methods}
    results = {method: {k: [] for k in ks} for method in methods}
    for k in ks:
        if setting["lr_per_k"] or k == ks[0]:
            selection = draw(setting, k, 100)  # a draw no reported run uses
            for method, train in methods.items():
                lrs[method][k] = choose_lr(lambda lr, train=train, selection=selection: train(
                    selection, epochs(len(selection)), lr, 100)(setting["val"]), quick)
            print(f"  learning rates chosen at k={k}: " + ", ".join(f"{m} {lrs[m][k]:g}" for m in methods), flush=True)
        else:
            for method in methods:
                lrs[method][k] = lrs[method][ks[0]]
        for seed in range(seeds):
            start, chosen = time.time(), draw(setting, k, seed)
            for method, train in methods.items():
                score = train(chosen, epochs(len(chosen)), lrs[method][k], seed)
                results[method][k].append(score(setting["test"]))
            print(f"  k={k:<4d} seed {seed}: " + ", ".join(f"{m.split(' (')[0]} {results[m][k][-1]:.0%}"
                                                          for m in methods) + f" ({time.time() - start:.0f} s)",
                  flush=True)
    return results, lrs


def k_ticks(axis, ks):
    """Ticks at the k's only, on a log axis (whose minor ticks would otherwise be labelled 6x10^0 ...)."""
    axis.set_xticks(ks, [str(k) for k in ks])
    axis.xaxis.set_minor_locator(NullLocator())


def plot_depth(setting, results, ks, path):
    figure = Figure(figsize=(7, 4.5))
    axis = figure.add_subplot()
    for method, by_k in results.items():
        means = [100 * np.mean(by_k[k]) for k in ks]
        stds = [100 * sample_std(by_k[k]) for k in ks]
        style = "--" if method.startswith("probe") else "-"
        axis.errorbar(ks, means, yerr=stds, linestyle=style, marker="o", capsize=3, label=method)
    chance_line(axis, setting["num_classes"])
    axis.set(xscale="log", xlabel="labelled images per class (k)", ylabel="test accuracy (%)",
             title=f"{setting['name']} task: how deep to fine-tune")
    k_ticks(axis, ks)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def run_depth(args, out, started):
    images, labels = mnist_test()
    seeds = 1 if args.quick else args.seeds
    if args.study == "similar":
        setting = similar_setting(images, labels, args.quick)
        ks = [5, 10] if args.quick else [10, 100, 500]  # at most ~600 training images of digit 5 are left
        title = "similar task: LeNet-5 digits 0-4 -> digits 5-9, test accuracy %"
    else:
        setting = different_setting(images, labels, args.quick)
        ks = [2] if args.quick else [10, 100]
        title = "different task: ResNet-20 CIFAR-10 -> MNIST 32x32x3, test accuracy %"
    results, lrs = depth_study(setting, ks, seeds, args.quick)
    plot_depth(setting, results, ks, out / "depth.png")
    tables = [table(title, list(results), [f"k={k}" for k in ks],
                    lambda m, c: f"{percent(results[m][int(c[2:])])} (lr {lrs[m][int(c[2:])]:g})")]
    if not setting["lr_per_k"]:
        tables[0] += f"\n(learning rates chosen at k={ks[0]} and kept for every k)"
    payload = {"lr": {m: {f"k={k}": lr for k, lr in by_k.items()} for m, by_k in lrs.items()},
               "accuracy": {m: {f"k={k}": summary(results[m][k]) for k in ks} for m in results}}
    if args.study == "different":
        tables.append(pca_study(setting, ks[-1], out / "pca.png", args.quick, lrs, payload))
    save_results(out, args.study, seeds, args.quick, started, tables, payload)


# -- 5. the features, before and after fine-tuning -----------------------------------------------------
def pca_study(setting, k, path, quick, lrs, payload):
    """PCA of the test images' head inputs from the pretrained and the fine-tuned ResNet-20, with linear probes."""
    images, targets, classes = setting["images"], setting["targets"], setting["num_classes"]
    chosen = draw(setting, k, 0)
    epochs = 1 if quick else epochs_for(len(chosen), setting["budget"], setting["min_epochs"])
    pretrained = setting["load"]()
    tuned = fine_tune(setting["load"](), 5, None, images[chosen], targets[chosen], epochs, lrs["fine-tune all"][k], 0,
                      classes)
    figure = Figure(figsize=(11, 5), layout="constrained")
    lines, payload["pca"] = [f"PCA: ResNet-20 features (64-d head input) of {len(setting['test'])} MNIST test "
                             f"images; linear probe trained on k={k} per class"], {}
    for index, (name, model) in enumerate((("pretrained (CIFAR-10)", pretrained),
                                           (f"fine-tuned on k={k}", tuned))):
        features, _ = transfer.extract_features(model, loader(images, targets, 256))
        head = train_linear(features[chosen], targets[chosen], epochs, lrs["probe layer3 pooled = head only"][k], 0,
                            classes)
        probe = accuracy(head, features[setting["test"]], targets[setting["test"]])
        projections, ratio = pca(features[setting["test"]], 2)
        axis = figure.add_subplot(1, 2, index + 1)
        points = axis.scatter(*projections.T, c=targets[setting["test"]], cmap="tab10", s=6, vmin=-0.5, vmax=9.5)
        axis.set(title=f"{name}: linear probe {probe:.1%}", xlabel=f"PC 1 ({ratio[0]:.0%} of variance)",
                 ylabel=f"PC 2 ({ratio[1]:.0%})")
        lines.append(f"  {name:<24} linear probe {100 * probe:5.1f} %, PC 1 + 2 explain {ratio.sum():.0%}")
        payload["pca"][name] = {"probe_accuracy": probe, "explained_variance_ratio": ratio.tolist()}
    figure.colorbar(points, ax=figure.axes, ticks=range(10), label="digit")
    figure.savefig(path, dpi=100)
    return "\n".join(lines)


# -- 2. fully connected layers as convolutions ----------------------------------------------------------
def digit_canvas(images, labels, rng, shape=(84, 168), count=6):
    """A black canvas with `count` digits pasted at random, non-overlapping places on a 28-pixel grid, with
    random shifts of up to 8 pixels: (canvas, [(label, top, left), ...])."""
    rows, cols = shape[0] // 28, shape[1] // 28
    canvas, placed = np.zeros(shape, np.float32), []
    for cell, index in zip(rng.choice(rows * cols, size=count, replace=False),
                           rng.choice(len(images), size=count, replace=False)):
        top = min(28 * (cell // cols) + rng.integers(0, 9), shape[0] - 28)
        left = min(28 * (cell % cols) + rng.integers(0, 9), shape[1] - 28)
        canvas[top:top + 28, left:left + 28] = np.maximum(canvas[top:top + 28, left:left + 28], images[index, 0])
        placed.append((int(labels[index]), int(top), int(left)))
    return canvas, placed


def blank_frames(canvas, stride, shape, window=28, pad=2):
    """(rows, cols) mask of the windows whose padding frame (the `pad` pixels around the window) is blank on the
    canvas: there the converted net sees the zeros the net alone pads with, so the scores must agree exactly."""
    padded = np.pad(canvas, pad)
    blank = np.zeros(shape, bool)
    for i, j in np.ndindex(shape):
        frame = padded[i * stride:i * stride + window + 2 * pad, j * stride:j * stride + window + 2 * pad].copy()
        frame[pad:-pad, pad:-pad] = 0
        blank[i, j] = not frame.any()
    return blank


def run_fc_conv(args, out, started):
    """LeNet-5 trained on 28x28 digits, converted, slid over a canvas of several digits."""
    images, labels = mnist_test()
    train, held_out = np.arange(8000), np.arange(8000, 10000)
    if args.quick:
        train = train[:500]
    model = pretrain_lenet(images[train], labels[train], 1 if args.quick else 4, num_classes=10).eval()
    print(f"  LeNet-5 trained on {len(train)} digits: held-out accuracy "
          f"{accuracy(model, images[held_out], labels[held_out]):.1%}")
    converted = transfer.fc_to_conv(model, (1, 28, 28)).eval()
    canvas, placed = digit_canvas(images[held_out], labels[held_out], np.random.default_rng(0))
    start = time.time()
    with tl.no_grad():
        scores = converted(tl.tensor(canvas[None, None], dtype=tl.float32)).numpy()[0]  # (10, rows, cols)
    one_pass = time.time() - start
    stride = (canvas.shape[0] - 28) // (scores.shape[1] - 1)
    windows = np.stack([canvas[i * stride:i * stride + 28, j * stride:j * stride + 28]
                        for i in range(scores.shape[1]) for j in range(scores.shape[2])])[:, None]
    start = time.time()
    with tl.no_grad():
        alone = model(tl.tensor(windows, dtype=tl.float32)).numpy().T.reshape(scores.shape)
    every_window = time.time() - start
    difference = np.abs(scores - alone)
    blank = blank_frames(canvas, stride, scores.shape[1:], pad=model.features[0].padding[0])
    lines = [f"fc-conv: LeNet-5 over a {canvas.shape[0]}x{canvas.shape[1]} canvas -> {scores.shape[1]}x"
             f"{scores.shape[2]} score map per class, stride {stride} pixels",
             f"  the converted net's scores vs the original net on each cut-out window: on the {blank.sum()} of "
             f"{blank.size} windows whose padding frame is blank on the canvas, largest difference "
             f"{difference[:, blank].max():.1e} (float32 rounding: the same function); on the other {(~blank).sum()} "
             f"up to {difference[:, ~blank].max():.2g}, from the first conv's padding: there a window sees its "
             "neighbours' pixels where the net alone sees zeros",
             f"  one pass of the converted net {1000 * one_pass:.0f} ms vs the original net on all "
             f"{len(windows)} windows {1000 * every_window:.0f} ms (wall times of this machine at this moment)",
             f"  {'digit':>5} {'at (top, left)':>15} {'predicted at its window':>24}"]
    found = []
    for label, top, left in placed:
        i, j = round(top / stride), round(left / stride)
        predicted = int(scores[:, i, j].argmax())
        found.append(predicted == label)
        lines.append(f"  {label:>5} {str((top, left)):>15} {predicted:>24}")
    lines.append(f"  {sum(found)} of {len(placed)} digits read correctly at their nearest window")
    plot_score_maps(canvas, scores, stride, out / "score_maps.png")
    save_results(out, "fc-conv", 1, args.quick, started, ["\n".join(lines)],
                 {"placed": placed, "found": found, "stride": stride, "score_map_shape": list(scores.shape),
                  "max_difference_to_every_window": float(difference.max()),
                  "windows_with_blank_padding_frame": int(blank.sum()),
                  "max_difference_where_padding_frame_blank": float(difference[:, blank].max()),
                  "ms_one_pass": 1000 * one_pass, "ms_every_window": 1000 * every_window})


def plot_score_maps(canvas, scores, stride, path):
    """The canvas, then one panel per class: its softmax probability at each window (drawn at window centres)."""
    probabilities = np.exp(scores - scores.max(axis=0))
    probabilities /= probabilities.sum(axis=0)
    figure = Figure(figsize=(15, 5.5), layout="constrained")
    axis = figure.add_subplot(3, 4, 1)
    axis.imshow(canvas, cmap="gray")
    axis.set(title="canvas", xticks=[], yticks=[])
    extent = (14 - stride / 2, 14 + stride * (scores.shape[2] - 0.5), 14 + stride * (scores.shape[1] - 0.5),
              14 - stride / 2)  # each score drawn over the centre of its 28x28 window
    for digit in range(10):
        axis = figure.add_subplot(3, 4, digit + 2)
        axis.imshow(canvas, cmap="gray", alpha=0.35)
        image = axis.imshow(probabilities[digit], cmap="magma", vmin=0, vmax=1, alpha=0.75, extent=extent)
        axis.set(title=f"P(digit = {digit})", xticks=[], yticks=[], xlim=(0, canvas.shape[1]),
                 ylim=(canvas.shape[0], 0))
    figure.colorbar(image, ax=figure.axes)
    figure.savefig(path, dpi=100)


# -- 3. multi-task learning --------------------------------------------------------------------------------
TASKS = {"digit": lambda d: d, "parity": lambda d: d % 2, "greater than 4": lambda d: (d > 4).astype(np.int64)}
TASK_CLASSES = {"digit": 10, "parity": 2, "greater than 4": 2}


def multitask_net(tasks, seed):
    """LeNet-5 up to its 84-d features as the shared backbone, one Linear head per task."""
    tl.manual_seed(seed)
    backbone = models.lenet5()
    backbone.classifier[5] = nn.Identity()
    return multitask.MultiTaskNet(backbone, {task: nn.Linear(84, TASK_CLASSES[task]) for task in tasks})


def train_multitask(tasks, images, digits, epochs, lr, seed):
    """Train one network on the given tasks (equal weights) from the same images; return it."""
    model = multitask_net(tasks, seed)
    opt = optim.Adam(model.parameters(), lr=lr)
    for _ in range(epochs):
        model.train()
        for batch, batch_digits in loader(images, digits, 50, shuffle=True, seed=seed):
            outputs = model(batch)
            targets = {task: tl.tensor(TASKS[task](batch_digits.numpy())) for task in tasks}
            loss, _ = multitask.weighted_loss(outputs, targets)
            opt.zero_grad()
            loss.backward()
            opt.step()
        seed += 1000  # another shuffle next epoch
    return model


def task_accuracies(model, images, digits):
    """Test accuracy of each of the model's heads; for a digit head also of parity and >4 read from its digit."""
    model.eval()
    with tl.no_grad():
        outputs = {task: out.numpy().argmax(axis=1) for task, out in model(tl.tensor(images, dtype=tl.float32)).items()}
    scores = {task: float((predicted == TASKS[task](digits)).mean()) for task, predicted in outputs.items()}
    if "digit" in outputs:
        for task in ("parity", "greater than 4"):
            scores[f"{task} via digit"] = float((TASKS[task](outputs["digit"]) == TASKS[task](digits)).mean())
    return scores


def run_multitask(args, out, started):
    images, labels = mnist_test()
    seeds = 1 if args.quick else args.seeds
    setting = dict(target_images(images, labels, np.arange(1000 if args.quick else len(labels)),
                                 500 if args.quick else 3000, 200 if args.quick else 1000), classes=range(10))
    images, digits, test = setting["images"], setting["labels"], setting["test"]
    ks = [3] if args.quick else [3, 10, 30]
    methods = {"joint": tuple(TASKS), **{f"{task} alone": (task,) for task in TASKS}}
    epochs = (lambda n: 1) if args.quick else (lambda n: epochs_for(n, 3000, 10))

    def run(method, chosen, lr, seed, split):
        model = train_multitask(methods[method], images[chosen], digits[chosen], epochs(len(chosen)), lr, seed)
        return task_accuracies(model, images[split], digits[split])

    results, lrs = {}, {}
    for k in ks:
        selection = draw(setting, k, 100)
        for method, tasks in methods.items():  # validation accuracy: the mean over the method's tasks
            def validation(lr, method=method, tasks=tasks, selection=selection):
                return np.mean([run(method, selection, lr, 100, setting["val"])[t] for t in tasks])
            lrs[method, k] = choose_lr(validation, args.quick)
        for seed in range(seeds):
            chosen = draw(setting, k, seed)
            for method in methods:
                for task, score in run(method, chosen, lrs[method, k], seed, test).items():
                    results.setdefault((task, method), {}).setdefault(k, []).append(score)
        print(f"  k={k} done ({time.time() - started:.0f} s)", flush=True)
    order = [(task, method) for task in TASKS for method in methods] + [
        (f"{task} via digit", method) for task in ("parity", "greater than 4") for method in ("joint", "digit alone")]
    rows = {f"{task} <- {method}": (task, method) for task, method in order if (task, method) in results}
    text = table(f"multi-task: test accuracy % per task ({len(test)} test digits), k labelled images per digit "
                 "(10k in all)", list(rows), [f"k={k}" for k in ks],
                 lambda row, column: percent(results[rows[row]][int(column[2:])]))
    plot_multitask(results, ks, out / "multitask.png")
    save_results(out, "multitask", seeds, args.quick, started, [text],
                 {"lr": {f"{method} k={k}": lr for (method, k), lr in lrs.items()},
                  "accuracy": {f"{task} | {method}": {f"k={k}": summary(v) for k, v in by_k.items()}
                               for (task, method), by_k in results.items()}})


def plot_multitask(results, ks, path):
    """One panel per task: test accuracy against k, learned alone and jointly."""
    figure = Figure(figsize=(13, 4))
    for index, task in enumerate(TASKS):
        axis = figure.add_subplot(1, len(TASKS), index + 1)
        for method in ("joint", f"{task} alone"):
            by_k = results[task, method]
            axis.errorbar(ks, [100 * np.mean(by_k[k]) for k in ks], yerr=[100 * sample_std(by_k[k]) for k in ks],
                          marker="o", capsize=3, label=method)
        if task != "digit":
            by_k = results[f"{task} via digit", "digit alone"]
            axis.errorbar(ks, [100 * np.mean(by_k[k]) for k in ks], yerr=[100 * sample_std(by_k[k]) for k in ks],
                          marker="o", capsize=3, linestyle="--", label="read from the digit-alone net")
        chance_line(axis, TASK_CLASSES[task])
        axis.set(xscale="log", title=task, xlabel="labelled images per digit", ylabel="test accuracy (%)")
        k_ticks(axis, ks)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=100)


# -- 4. an inherited backdoor ------------------------------------------------------------------------------
TRIGGER = np.ones((4, 4), np.float32)  # a white square, 1 pixel from the bottom-right corner
TARGET_CLASS = 0  # the source network answers digit 0 when it sees the trigger


def run_backdoor(args, out, started):
    """Source: LeNet-5 on digits 0-4, 10% of its images triggered and relabelled 0 (or clean, as a control).
    Target: digits 5-9 from k images per class, by frozen features, fine-tuning, or from scratch."""
    images, labels = mnist_test()
    seeds = 1 if args.quick else args.seeds
    source = np.flatnonzero(labels < 5)
    source_train, source_test = source[:-500], source[-500:]
    if args.quick:
        source_train = source_train[:500]
    setting = digits_5_to_9(images, labels, args.quick)
    target, targets, k = setting["images"], setting["targets"], 10 if args.quick else 50
    epochs = 1 if args.quick else epochs_for(5 * k, 3000, 5)

    def backdoor_methods(state, with_scratch):
        """method -> train(chosen, lr, seed) -> a network for digits 5-9."""
        def transferred(n):
            def train(chosen, lr, seed):
                model = load_lenet(state)
                return fine_tune(model, n, lenet_stages(model), target[chosen], targets[chosen], epochs, lr, seed, 5)
            return train
        methods = {"frozen features (new head)": transferred(0), "fine-tune all": transferred(4)}
        if with_scratch:
            methods["scratch"] = lambda chosen, lr, seed: pretrain_lenet(target[chosen], targets[chosen], epochs,
                                                                          seed=seed, lr=lr)
        return methods

    test = setting["test"]
    triggered_test = backdoor.stamp(target[test], TRIGGER)
    lines, payload = [], {}
    for source_kind, fraction in (("backdoored", 0.1), ("clean", 0.0)):
        poisoned_images, poisoned_labels, _ = backdoor.poison(images[source_train], labels[source_train], TRIGGER,
                                                              fraction, TARGET_CLASS, np.random.default_rng(0))
        state = pretrain_lenet(poisoned_images, poisoned_labels, 1 if args.quick else 5).state_dict()
        source_model = load_lenet(state)
        clean = accuracy(source_model, images[source_test], labels[source_test])
        others = source_test[labels[source_test] != TARGET_CLASS]
        hit = accuracy(source_model, backdoor.stamp(images[others], TRIGGER), np.full(len(others), TARGET_CLASS))
        lines.append(f"  {source_kind} source: clean accuracy {clean:.1%} on digits 0-4, triggered digits 1-4 "
                     f"classified as {TARGET_CLASS}: {hit:.1%}")
        payload[f"{source_kind} source"] = {"clean_accuracy": clean, "attack_success": hit}

        for method, train in backdoor_methods(state, source_kind == "clean").items():
            lr = choose_lr(lambda lr, train=train: accuracy(train(draw(setting, k, 100), lr, 100), target[setting["val"]],
                                               targets[setting["val"]]), args.quick)
            scores, confusion = {"clean": [], "triggered": []}, np.zeros((5, 5), np.int64)
            for seed in range(seeds):
                model = train(draw(setting, k, seed), lr, seed)
                scores["clean"].append(accuracy(model, target[test], targets[test]))
                answers = predict(model, triggered_test)
                scores["triggered"].append(float((answers == targets[test]).mean()))
                np.add.at(confusion, (targets[test], answers), 1)  # where the triggered digits go, all seeds
            payload[f"{source_kind} source | {method}"] = {"lr": lr, **{name: summary(v) for name, v in scores.items()},
                                                           "triggered_confusion": confusion.tolist()}
            print(f"  {source_kind} source, {method} done ({time.time() - started:.0f} s)", flush=True)
    rows = [key for key in payload if "|" in key]
    text = table(f"backdoor: target task digits 5-9, k={k} per class, test accuracy % on clean and on triggered "
                 "images", rows, ["clean", "triggered", "drop"],
                 lambda row, column: percent(np.subtract(payload[row]["clean"]["runs"],
                                                         payload[row]["triggered"]["runs"]))
                 if column == "drop" else percent(payload[row][column]["runs"]))
    plot_triggered_examples(target[test[:6]], triggered_test[:6], out / "trigger.png")
    plot_triggered_confusions({row: payload[row]["triggered_confusion"] for row in rows}, out / "triggered_answers.png")
    save_results(out, "backdoor", seeds, args.quick, started,
                 ["\n".join(lines), text], payload)


def plot_triggered_examples(clean, triggered, path):
    """Target-task test digits without and with the trigger."""
    figure = Figure(figsize=(2 * len(clean), 4.2))
    for row, (name, images) in enumerate((("clean", clean), ("triggered", triggered))):
        for column, image in enumerate(images):
            axis = figure.add_subplot(2, len(clean), row * len(clean) + column + 1)
            axis.imshow(image[0], cmap="gray", vmin=0, vmax=1)
            axis.set(xticks=[], yticks=[], title=name if column == 0 else "")
    figure.tight_layout()
    figure.savefig(path, dpi=80)


def plot_triggered_confusions(confusions, path):
    """One panel per transferred network: for the triggered test digits of each true class (rows), the share of
    each answer (columns), over all seeds; a clean network keeps its diagonal, a backdoored one pulls a column."""
    figure = Figure(figsize=(3.2 * len(confusions), 3.6), layout="constrained")
    for index, (row, confusion) in enumerate(confusions.items()):
        shares = 100 * np.asarray(confusion, np.float64) / np.maximum(np.sum(confusion, axis=1, keepdims=True), 1)
        axis = figure.add_subplot(1, len(confusions), index + 1)
        image = axis.imshow(shares, cmap="Blues", vmin=0, vmax=100)
        for (i, j), share in np.ndenumerate(shares):
            axis.text(j, i, f"{share:.0f}", ha="center", va="center", fontsize=7,
                      color="white" if share > 60 else "black")
        axis.set(title=row.replace(" | ", "\n"), xticks=range(5), xticklabels=range(5, 10), yticks=range(5),
                 yticklabels=range(5, 10), xlabel="answer on the triggered digit", ylabel="true digit" if index == 0 else "")
        axis.title.set_fontsize(8)
    figure.colorbar(image, ax=figure.axes, label="% of the triggered test digits of that row", shrink=0.8)
    figure.savefig(path, dpi=90)


def main():
    args = parse_args()
    out = pathlib.Path(args.out) / args.study
    out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    print(f"{args.study}{' (quick)' if args.quick else ''}", flush=True)
    run = {"similar": run_depth, "different": run_depth, "fc-conv": run_fc_conv, "multitask": run_multitask,
           "backdoor": run_backdoor}[args.study]
    run(args, out, started)


if __name__ == "__main__":
    main()
