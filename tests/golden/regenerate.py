"""Rebuild every golden file from PyTorch, or check that the committed ones are what the scripts make.

    python tests/golden/regenerate.py           # run every tests/golden/make_*.py and tests/fixtures/make_*.py
    python tests/golden/regenerate.py --check   # run them in a temporary copy of tests/ and compare

Needs torch (pip install -e ".[oracle]") and, for the pretrained-model goldens, MINITL_WEIGHTS_DIR.
Each make_*.py writes beside itself; --check therefore runs the scripts of a copy of tests/ and compares
each .npz they wrote with the committed file of the same name: the same keys, dtypes and shapes, and values
within a relative error of 1e-10 (float64) or 1e-5 (float32: PyTorch's float32 sums depend on its thread
count). Other outputs (the .pt fixtures) are not compared byte for byte: torch.save need not be
deterministic, and the tests check those files against the .npz written with them. CI runs --check when
torch is installed, so a change to a generator or a case table cannot leave stale goldens behind.
"""
import argparse
import pathlib
import shutil
import subprocess
import sys
import tempfile

import numpy as np

TESTS = pathlib.Path(__file__).resolve().parents[1]
TOLERANCE = {np.dtype(np.float64): 1e-10, np.dtype(np.float32): 1e-5}


def scripts(tests):
    return sorted([*tests.glob("golden/make_*.py"), *tests.glob("fixtures/make_*.py")])


def run_all(tests):
    for script in scripts(tests):
        print(f"running {script.relative_to(tests.parent)}", flush=True)
        subprocess.run([sys.executable, str(script)], check=True, cwd=tests.parent)


def array_difference(committed, rebuilt):
    """Why two arrays differ beyond the tolerance of their dtype, or None."""
    if committed.dtype != rebuilt.dtype or committed.shape != rebuilt.shape:
        return f"{committed.dtype}{committed.shape} committed, {rebuilt.dtype}{rebuilt.shape} rebuilt"
    tolerance = TOLERANCE.get(committed.dtype)
    if tolerance is None:
        return None if np.array_equal(committed, rebuilt) else "values differ"
    scale = np.max(np.abs(committed) + np.abs(rebuilt), initial=0.0)
    error = np.max(np.abs(committed - rebuilt), initial=0.0) / scale if scale > 0 else 0.0
    return None if error <= tolerance else f"relative error {error:.2e} > {tolerance:g}"


def npz_differences(committed_path, rebuilt_path):
    """A list of 'key: why' lines (empty when the files agree)."""
    if not committed_path.exists():
        return ["not committed (a generator writes it: add it to git)"]
    with np.load(committed_path) as committed, np.load(rebuilt_path) as rebuilt:
        missing, extra = set(committed.files) - set(rebuilt.files), set(rebuilt.files) - set(committed.files)
        lines = [f"{key}: no longer written" for key in sorted(missing)] + [f"{key}: new" for key in sorted(extra)]
        for key in sorted(set(committed.files) & set(rebuilt.files)):
            why = array_difference(committed[key], rebuilt[key])
            if why:
                lines.append(f"{key}: {why}")
    return lines


def check():
    with tempfile.TemporaryDirectory() as scratch:
        copy = pathlib.Path(scratch) / "tests"
        shutil.copytree(TESTS, copy, ignore=shutil.ignore_patterns("__pycache__"))
        for path in copy.rglob("*.npz"):
            path.unlink()  # every golden file must come from this run's scripts
        run_all(copy)
        stale = 0
        for rebuilt in sorted(copy.rglob("*.npz")):
            relative = rebuilt.relative_to(copy)
            lines = npz_differences(TESTS / relative, rebuilt)
            print(f"tests/{relative}: {'stale' if lines else 'matches'}")
            for line in lines[:10]:
                print(f"    {line}")
            stale += bool(lines)
    if stale:
        print(f"{stale} golden file(s) differ from what their scripts make: run python tests/golden/regenerate.py")
    return 1 if stale else 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed files instead of writing")
    args = parser.parse_args(argv)
    if args.check:
        return check()
    run_all(TESTS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
