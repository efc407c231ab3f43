"""Command line: ``python -m minitl convert CHECKPOINT -o OUT.npz [--arch NAME]``, ``python -m minitl export
CHECKPOINT -o OUT.pt`` and ``python -m minitl bench``.

convert: read a PyTorch checkpoint (.pt/.pth/.th, zip or legacy) or a
.safetensors file without torch, clean its names (``module.`` prefixes),
write the arrays to a minitl .npz, and — with --arch — verify them by
loading into that architecture, which fails naming every bad key.

export: the other way, a minitl checkpoint's state dict (a ``tl.save`` file
of ``model.state_dict()``, or a ``fit`` checkpoint's ``"model"``) written for
PyTorch: ``OUT.pt`` as ``torch.save`` writes it, ``OUT.safetensors`` as
safetensors; with --arch verified by loading into that architecture first.
"""
import argparse
import sys

import numpy as np


def convert(args):
    from minitl import models
    from minitl.io import save
    from minitl.io.formats import read_state_dict
    from minitl.models.weights import load_state, strip_prefixes

    original = read_state_dict(args.checkpoint)
    state = {key: value.astype(np.float32) if value.dtype.kind == "f" else value
             for key, value in strip_prefixes(original).items()}
    if args.arch:
        load_state(models.create(args.arch, num_classes=args.num_classes), state)
    save(state, args.output)
    parameters = sum(value.size for key, value in state.items()
                     if value.dtype.kind == "f" and not key.endswith(("running_mean", "running_var")))
    renamed = sum(key.startswith("module.") for key in original)
    print(f"read {len(state)} arrays from {args.checkpoint} ({renamed} 'module.' prefixes stripped)")
    print(f"{parameters:,} parameters (running statistics excluded), stored as float32")
    if args.arch:
        print(f"verified: every key and shape matches {args.arch}")
    print(f"wrote {args.output}")


def export(args):
    from minitl import models
    from minitl.io import load, save_for_torch, save_safetensors

    state = load(args.checkpoint)
    if isinstance(state, dict) and isinstance(state.get("model"), dict):  # a checkpoint of fit(): its model
        state = state["model"]
    if args.arch:
        models.create(args.arch, num_classes=args.num_classes).load_state_dict(state)
    write = save_safetensors if args.output.endswith(".safetensors") else save_for_torch
    write(state, args.output)
    print(f"wrote {len(state)} arrays from {args.checkpoint} to {args.output} "
          f"({'safetensors' if write is save_safetensors else 'torch.save zip format'})")
    if args.arch:
        print(f"verified: every key and shape matches {args.arch}")


def bench(argv):
    """The speed bench of minitl.lab.bench (imported only for this command)."""
    from minitl.lab import bench as benchmark
    return benchmark.main(argv)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m minitl", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    converter = commands.add_parser("convert", help="convert a PyTorch/safetensors checkpoint to .npz")
    converter.add_argument("checkpoint")
    converter.add_argument("-o", "--output", required=True, help="the .npz to write")
    converter.add_argument("--arch", help="verify by loading into this architecture (e.g. resnet20)")
    converter.add_argument("--num-classes", type=int, default=None, help="classes of the verifying model")
    exporter = commands.add_parser("export", help="write a minitl state dict for PyTorch (.pt or .safetensors)")
    exporter.add_argument("checkpoint")
    exporter.add_argument("-o", "--output", required=True, help="the .pt (torch.load) or .safetensors to write")
    exporter.add_argument("--arch", help="verify by loading into this architecture (e.g. resnet20)")
    exporter.add_argument("--num-classes", type=int, default=None, help="classes of the verifying model")
    commands.add_parser("bench", help="speed against PyTorch CPU (see python -m minitl bench --help)",
                        add_help=False)
    args, rest = parser.parse_known_args(argv)
    if args.command == "bench":
        return bench(rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    try:
        (convert if args.command == "convert" else export)(args)
    except (ValueError, RuntimeError, TypeError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
