"""The long fuzz run: thousands of mutants of small and real checkpoints, with live torch as the reference.

    PYTHONPATH=. python tests/fuzz_checkpoints.py --mutants 2000 [--weights DIR]

Mutates tests/fixtures/fuzz_*.pt, fuzz.safetensors and fuzz_checkpoint.minitl, and, with
--weights (default $MINITL_WEIGHTS_DIR), the real legacy ResNet-20
checkpoint and a zip re-save of it. References: torch.load(weights_only=True),
safetensors.torch.load_file, and the unmutated object for minitl's own
format. minitl loads the mutants in child processes (batches of 200, 2 GiB
address space, 10 s a file). Prints mutants tried / clean errors /
loaded-equal / bad outcomes per file, then the bad ones.
"""
import argparse
import os
import pathlib
import sys
import tempfile
import warnings

import torch

HERE = pathlib.Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE / "fixtures")]
from make_fuzz_fixtures import oracle  # noqa: E402
from test_checkpoint_fuzz import load_in_child  # noqa: E402

import minitl as tl  # noqa: E402

from checkpoint_fuzz import classify, mutants  # noqa: E402

BATCH = 200


def base_files(weights_dir, directory):
    files = {name: HERE / "fixtures" / name for name in ("fuzz_zip.pt", "fuzz_legacy.pt", "fuzz.safetensors",
                                                         "fuzz_checkpoint.minitl")}
    real = pathlib.Path(weights_dir or ".") / "resnet20-12fca82f.th"
    if weights_dir and real.exists():
        files["resnet20-legacy.pt"] = real
        files["resnet20-zip.pt"] = pathlib.Path(directory) / "resnet20-zip.pt"
        torch.save(torch.load(real, weights_only=True, map_location="cpu"), files["resnet20-zip.pt"])
    return files


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", type=int, default=2000, help="mutants per file")
    parser.add_argument("--weights", default=os.environ.get("MINITL_WEIGHTS_DIR"))
    parser.add_argument("--seed", type=int, default=1000)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")  # torch warns about the odd pickle protocols of mutants
    saved = tl.load(HERE / "fixtures" / "fuzz_checkpoint.minitl")
    totals, all_bad = [0, 0, 0, 0], []
    with tempfile.TemporaryDirectory() as directory:
        for offset, (name, path) in enumerate(base_files(args.weights, directory).items()):
            paths, expected = [], []
            for index, data in enumerate(mutants(path.read_bytes(), args.seed + offset, args.mutants)):
                paths.append(pathlib.Path(directory) / f"{index}-{name}")
                paths[-1].write_bytes(data)
                expected.append(oracle(name, paths[-1], saved))
            outcomes = []
            for start in range(0, len(paths), BATCH):
                batch = paths[start:start + BATCH]
                got, stderr = load_in_child("minitl" if name.endswith(".minitl") else "torch", batch)
                outcomes += got + [{"bad": f"child stopped: {stderr[-300:]}"}] * (len(batch) - len(got))
            clean, equal, bad = classify(outcomes, expected)
            print(f"{name:22} tried {len(paths):6}  clean errors {clean:6}  loaded equal {equal:6}  bad {len(bad)}")
            for count, total in enumerate((len(paths), clean, equal, len(bad))):
                totals[count] += total
            all_bad += [(name, *b) for b in bad]
            for path in paths:
                path.unlink()
    print(f"{'all':22} tried {totals[0]:6}  clean errors {totals[1]:6}  loaded equal {totals[2]:6}  bad {totals[3]}")
    for bad in all_bad[:30]:
        print("BAD", bad)
    return 1 if all_bad else 0


if __name__ == "__main__":
    sys.exit(main())
