"""Fine-tune torchvision's ResNet-18 on your own images: one folder per class.

The setting of PyTorch's transfer-learning tutorial (e.g. its ants/bees set,
hymenoptera_data): DATA holds ``train/`` and ``val/``, each with one subfolder
per class. Two ways to reuse the ImageNet network, as in the tutorial:

  features   the network is a fixed feature extractor: its 512-d features are
             computed once for every image (cached), then only a new linear
             head is trained on them; fast on a CPU
  finetune   a new head, and the whole network trained: the backbone at 1/10
             of the head's learning rate, with random flips as augmentation

    python demos/finetune_imagefolder.py hymenoptera_data                  # both modes
    python demos/finetune_imagefolder.py DATA --mode features --weights my_resnet18.pth

``--weights`` is ``imagenet`` (torchvision's file, downloaded once and
cached; $MINITL_WEIGHTS_DIR is searched first) or the path of any checkpoint
with torchvision's ResNet-18 key names (.pth, .safetensors or minitl .npz).
Prints validation accuracy per mode, saves learning curves, the fine-tuned
model (minitl .npz) and a results.json in --out.

Everything is checked before any work (Pillow, the folders, the weights), and
--out is only created once training can start.
"""
import argparse
import json
import pathlib
import time

from common import IMAGENET_MEAN, IMAGENET_STD

import minitl as tl
from minitl import models, nn, optim
from minitl.data import DataLoader, ImageFolder, TensorDataset, transforms
from minitl.lab import transfer
from minitl.lab.train import fit, plot_history
from minitl.models.weights import WEIGHTS_ENV
from minitl.optim.lr_scheduler import StepLR

NEEDS = f"""needs:
  Pillow, to read the images: pip install "minitl[data]" (or pip install pillow)
  matplotlib, for the curves: pip install "minitl[demos]"
  the weights: --weights imagenet is torchvision's resnet18-f37072fd.pth, looked for in ${WEIGHTS_ENV}, then
  in the cache (~/.cache/minitl, or $MINITL_CACHE), else downloaded once (45 MB); or give a checkpoint path"""


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """--help shows each option's default and keeps the description's and epilog's line breaks."""


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, epilog=NEEDS, formatter_class=HelpFormatter)
    parser.add_argument("data", help="folder with train/ and val/, each holding one subfolder per class")
    parser.add_argument("--weights", default="imagenet", help="'imagenet' or a ResNet-18 checkpoint path")
    parser.add_argument("--mode", choices=("features", "finetune", "both"), default="both",
                        help="frozen features + linear head, full fine-tuning, or both")
    parser.add_argument("--epochs", type=int, default=10, help="training epochs per mode")
    parser.add_argument("--lr", type=float, default=1e-3, help="the head's learning rate (SGD, momentum 0.9)")
    parser.add_argument("--batch-size", type=int, default=16, help="images per batch")
    parser.add_argument("--image-size", type=int, default=224, help="images are resized to this square size")
    parser.add_argument("--seed", type=int, default=0, help="seeds the head's initialisation and the shuffling")
    parser.add_argument("--out", default="outputs/imagefolder", help="folder for curves, models, results.json")
    return parser.parse_args(argv)


def check_pillow():
    try:
        import PIL  # noqa: F401
    except ImportError:
        raise SystemExit('finetune_imagefolder.py reads images with Pillow, which is not installed: '
                         'pip install "minitl[data]"') from None


def pretrained_resnet18(weights):
    """ResNet-18 with `weights`; a short SystemExit when they cannot be found or are another architecture's."""
    try:
        return models.resnet18(weights=weights)
    except (ValueError, RuntimeError) as error:
        summary = str(error).splitlines()[0]
        if "loading state_dict" in summary:  # load_state_dict lists every mismatched key: too long to show
            summary = "its parameter names or shapes are not ResNet-18's (a checkpoint of another architecture?)"
        raise SystemExit(f"--weights {weights}: cannot load it into torchvision's ResNet-18 (resnet18): "
                         f"{summary}") from None


def image_folders(root, size, augment):
    """(train, val) ImageFolders, resized and ImageNet-normalised; with `augment`, train has random flips."""
    root = pathlib.Path(root)
    missing = [name for name in ("train", "val") if not (root / name).is_dir()]
    if missing:
        raise SystemExit(f"{root} needs the subfolders train/ and val/ (each with one folder per class); "
                         f"missing: {', '.join(missing)}")
    prepare = [transforms.ToTensor(), transforms.Resize((size, size))]
    normalize = transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)
    flip = [transforms.RandomHorizontalFlip()] if augment else []
    train = ImageFolder(root / "train", transforms.Compose(prepare + flip + [normalize]))
    val = ImageFolder(root / "val", transforms.Compose(prepare + [normalize]))
    if train.classes != val.classes:
        raise SystemExit(f"train/ and val/ must hold the same classes, got {train.classes} and {val.classes}")
    return train, val


def train_features(args, train, val):
    """Frozen ResNet-18: cache its features once, train a linear head on them.

    `train` comes without augmentation: the cache holds one view of each image.
    """
    model = transfer.freeze(pretrained_resnet18(args.weights))
    train_features = transfer.extract_features(model, DataLoader(train, batch_size=args.batch_size))
    val_features = transfer.extract_features(model, DataLoader(val, batch_size=args.batch_size))
    head = nn.Linear(train_features[0].shape[1], len(train.classes))
    loader = DataLoader(TensorDataset(*train_features), batch_size=args.batch_size, shuffle=True,
                        seed=args.seed)
    history = fit(head, loader, optim.SGD(head.parameters(), lr=args.lr, momentum=0.9), args.epochs,
                  val_loader=DataLoader(TensorDataset(*val_features), batch_size=256), progress=False)
    return head, history


def train_finetune(args, train, val):
    """Everything trained, the backbone at lr / 10; the learning rate drops 10x after 70% of the epochs."""
    model = pretrained_resnet18(args.weights)
    head = transfer.replace_head(model, len(train.classes))
    optimizer = optim.SGD(transfer.discriminative_param_groups(model, head, lr=args.lr), momentum=0.9)
    loader = DataLoader(train, batch_size=args.batch_size, shuffle=True, seed=args.seed)
    history = fit(model, loader, optimizer, args.epochs, val_loader=DataLoader(val, batch_size=args.batch_size),
                  scheduler=StepLR(optimizer, step_size=max(1, int(0.7 * args.epochs)), gamma=0.1))
    return model, history


def main(argv=None):
    args = parse_args(argv)
    check_pillow()
    image_folders(args.data, args.image_size, augment=False)  # the folders and their classes
    pretrained_resnet18(args.weights)  # the weights: found, and ResNet-18's
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    modes = ("features", "finetune") if args.mode == "both" else (args.mode,)
    results = {}
    for mode in modes:
        train, val = image_folders(args.data, args.image_size, augment=mode == "finetune")
        print(f"{mode}: {len(train)} training and {len(val)} validation images, classes {train.classes}")
        tl.manual_seed(args.seed)
        started = time.time()
        model, history = (train_features if mode == "features" else train_finetune)(args, train, val)
        seconds = time.time() - started
        plot_history(history, out / f"{mode}_curves.png", title=f"ResNet-18, {mode}", chance=1 / len(train.classes))
        tl.save(model.state_dict(), out / f"{mode}.npz")
        results[mode] = {"val_accuracy": history[-1]["val_accuracy"], "seconds": round(seconds, 1),
                         "history": history}
        print(f"{mode:<9} validation accuracy {history[-1]['val_accuracy']:.1%} after {args.epochs} epochs "
              f"({seconds:.0f} s)", flush=True)
    (out / "results.json").write_text(json.dumps({"classes": train.classes, "args": vars(args), **results},
                                                 indent=1))
    print(f"curves, models and results.json in {out}/")


if __name__ == "__main__":
    main()
