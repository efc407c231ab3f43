"""How much of a ResNet-20 train step is matrix products: the floor of im2col + GEMM convolutions.

Records the shape of every convolution GEMM in one train step (batch 64, on
minitl's threads), then times those products alone on random data, one after
another on one thread (minitl holds BLAS to one thread), and prints their sum
and that sum shared perfectly among minitl's threads, next to the whole step.
Used for docs/performance.md:

    python -m benchmarks.gemm_time            (threads: MINITL_NUM_THREADS, default all cores)

The products are the convolutions' forward (W_mat @ cols), their weight
gradients (dY @ cols^T) and the stride-1 input gradients (transposed
convolutions, W_flipped @ cols of dY); the two strided convolutions' input
gradients and the final linear layer are left out (under 2% of the FLOPs).
"""
import numpy as np

from minitl import threads
from minitl.kernels import convolution
from minitl.lab import bench

records = []  # (kind, groups, out_channels, cols shape)


def record_products():
    """Wrap the conv2d and conv2d_weight kernels so that each chunk's cols shape is recorded with its GEMM
    (the stride-1 input gradients are conv2d too, of the flipped kernel)."""
    cols_of = convolution.Layout.cols
    running = []  # (kind, out_channels) of the kernel now running

    def recording_cols(layout, x, images):
        cols = cols_of(layout, x, images)
        records.append((running[-1][0], layout.groups, running[-1][1], cols.shape))
        return cols

    def recording(kernel, kind, out_channels_of):
        def wrapped(*arguments):
            running.append((kind, out_channels_of(*arguments)))
            try:
                return kernel(*arguments)
            finally:
                running.pop()
        return wrapped

    convolution.Layout.cols = recording_cols
    convolution.conv2d = recording(convolution.conv2d, "product", lambda x, weight, *_: weight.shape[0])
    convolution.conv2d_weight = recording(convolution.conv2d_weight, "weight gradient", lambda x, gy, *_: gy.shape[1])


def main():
    step = bench.minitl_step("resnet20 train", "cpu")
    step_seconds = bench.median_time(step, warmup=1, repeats=7)
    record_products()
    step()
    rng = np.random.default_rng(0)
    seconds, flops = {}, 0
    for kind, _, out_channels, (g, k, length) in records:
        a = rng.standard_normal((g, out_channels // g, length if kind == "weight gradient" else k), dtype=np.float32)
        b = rng.standard_normal((g, k, length), dtype=np.float32)
        def product(a=a, b=b, kind=kind):  # this iteration's operands, bound now
            return a @ b.swapaxes(-1, -2) if kind == "weight gradient" else a @ b
        seconds[kind] = seconds.get(kind, 0.0) + bench.median_time(product, warmup=1, repeats=7)
        flops += 2 * out_channels * k * length
    total = sum(seconds.values())
    print(f"ResNet-20 train step (batch 64): {1000 * step_seconds:.0f} ms")
    print(f"its convolution GEMMs alone ({len(records)} products, {flops / 1e9:.1f} GFLOP): {1000 * total:.0f} ms "
          f"on one thread ({flops / total / 1e9:.0f} GFLOP/s), {1000 * total / threads.get_num_threads():.0f} ms "
          f"shared perfectly among {threads.get_num_threads()} threads")
    for kind, part in seconds.items():
        print(f"  {kind}: {1000 * part:.0f} ms")


if __name__ == "__main__":
    main()
