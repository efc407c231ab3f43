"""Command line: ``python -m minitl convert CHECKPOINT -o OUT.npz [--arch NAME]`` and ``python -m minitl bench``.

convert: read a PyTorch checkpoint (.pt/.pth/.th, zip or legacy) or a
.safetensors file without torch, clean its names (``module.`` prefixes),
write the arrays to a minitl .npz, and — with --arch — verify them by
loading into that architecture, which fails naming every bad key.
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
    commands.add_parser("bench", help="speed against PyTorch CPU (see python -m minitl bench --help)",
                        add_help=False)
    args, rest = parser.parse_known_args(argv)
    if args.command == "bench":
        return bench(rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    try:
        convert(args)
    except (ValueError, RuntimeError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
