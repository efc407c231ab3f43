"""Does NumPy release the GIL in the loops minitl shares out? Each operation timed on one thread and
on minitl's threads: if a loop held the GIL, two threads would take as long as one.

    python -m benchmarks.thread_scaling [--threads N]

Every operation is one that minitl runs on its threads (minitl/threads.py), on an array the size of
a ResNet-20 first-stage activation (64 x 16 x 32 x 32 float32, 4 MiB): the im2col copy, the
elementwise loops of batch norm, ReLU and pooling, the per-channel sums, and a convolution's GEMM
with BLAS on one thread. Prints the time on one thread, on N threads (the work split into N
blocks, run by minitl.threads.parallel_map) and their ratio, median of 50 runs each.
"""
import argparse

import numpy as np

from minitl import threads
from minitl.lab.bench import median_time


def operations(rng):
    """(name, function of a slice of the batch) for each operation; each writes to its own output."""
    x = rng.standard_normal((64, 16, 32, 32), dtype=np.float32)
    y, out = rng.standard_normal(x.shape, dtype=np.float32), np.empty_like(x)
    weight = rng.standard_normal((16, 144), dtype=np.float32)
    cols = rng.standard_normal((144, 64 * 32 * 34), dtype=np.float32)
    product = np.empty((16, cols.shape[1]), dtype=np.float32)
    per_image = cols.shape[1] // 64
    return [
        ("copy of a strided view", lambda s: np.copyto(out[s], x[s, :, :, ::-1])),
        ("multiply", lambda s: np.multiply(x[s], y[s], out=out[s])),
        ("maximum with 0 (ReLU)", lambda s: np.maximum(x[s], 0, out=out[s])),
        ("greater (pooling mask)", lambda s: np.greater(x[s], y[s], out=out[s].view(np.int32))),
        ("sum over (N, H, W)", lambda s: x[s].sum(axis=(0, 2, 3))),
        ("GEMM 16x144 @ 144x(m*1088)",
         lambda s: np.matmul(weight, cols[:, s.start * per_image:s.stop * per_image],
                             out=product[:, s.start * per_image:s.stop * per_image])),
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=threads.get_num_threads())
    args = parser.parse_args(argv)
    threads.set_num_threads(args.threads)  # also holds BLAS to one thread
    print(f"{'operation':<30}{'1 thread ms':>13}{f'{args.threads} threads ms':>15}{'speed-up':>10}")
    for name, operation in operations(np.random.default_rng(0)):
        whole = median_time(lambda operation=operation: operation(slice(0, 64)), warmup=1, repeats=50)
        shared = median_time(lambda operation=operation: threads.parallel_map(operation, threads.split(64, args.threads)),
                             warmup=1, repeats=50)
        print(f"{name:<30}{1000 * whole:>13.2f}{1000 * shared:>15.2f}{whole / shared:>9.2f}x")


if __name__ == "__main__":
    main()
