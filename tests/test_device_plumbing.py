"""The GPU suite, run on a NumPy-backed stand-in for CuPy (tests/stand_in_cupy): device plumbing without a GPU.

Where no GPU is lent, this still runs every ``gpu``-marked test: tensors,
gradients, optimizer state, DataLoader batches and checkpoints must land on
and move between 'cpu' and 'cuda' exactly as on a real GPU. What it cannot
show (kernels, GPU numerics, speed) needs the real run: ``pytest -m gpu`` on
a machine with CuPy and an NVIDIA GPU.
"""
import os
import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent


def test_the_gpu_suite_passes_on_the_cupy_stand_in():
    path = os.pathsep.join(filter(None, [str(HERE / "stand_in_cupy"), os.environ.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider", str(HERE)],
                          capture_output=True, text=True, timeout=600, env=dict(os.environ, PYTHONPATH=path))
    summary = done.stdout.strip().splitlines()[-1]
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "passed" in summary and "skipped" not in summary and "failed" not in summary, summary
