"""Two levers of the performance issue, as NumPy prototypes timed against minitl's kernels (round 3).

    python -m benchmarks.layout_prototypes [--repeats 8]

Both change the order of float32 sums, so adopting either means regenerating every golden and
study table; these prototypes measure what that would buy (docs/performance.md, change 21).

  channels-last convolution   a 3x3 stride-1 convolution on NHWC arrays: cols (P, 9C) as a strided
                              view plus one copy per cache-sized chunk, the output written in place
                              by cols @ W^T, the weight gradient cols^T @ dY, the input gradient the
                              convolution of dY with the flipped kernel
  fused batch norm + ReLU     training-mode batch norm with per-channel sums as two matrix-vector
                              products, the centred variance, the affine map in place, ReLU in
                              place; backward dx = a g + b x + c per channel

Each is first checked against minitl's kernels (``check``), then timed on one thread at the shapes
of ResNet-20's three stages (batch 64), as CPU time per call: the ratio prototype / kernels.
"""
import argparse
import time

import numpy as np

from minitl import threads
from minitl.kernels import convolution, elementwise, normalization
from minitl.lab.bench import median_time

STAGES = ((16, 32), (32, 16), (64, 8))  # ResNet-20's (channels, height = width), 7, 6 and 6 layers each
CHUNK_BYTES = convolution.CPU_CHUNK_BYTES


# -- channels-last convolution (3x3, stride 1, padding 1) --------------------------------------
def _cols_nhwc(x):
    """The (N OH OW, 3 3 C) im2col matrix of an NHWC batch padded by 1: one strided view, one copy."""
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    (n, h, w, c), s = x.shape, padded.strides
    view = np.lib.stride_tricks.as_strided(padded, (n, h, w, 3, 3, c), (s[0], s[1], s[2], s[1], s[2], s[3]))
    return np.ascontiguousarray(view).reshape(n * h * w, 9 * c)


def _chunks(x, out_channels):
    n, h, w, c = x.shape
    step = max(1, CHUNK_BYTES // ((9 * c + out_channels) * h * w * x.itemsize))
    return [slice(start, min(start + step, n)) for start in range(0, n, step)]


def conv_nhwc(x, weight):
    """y (N, H, W, O) of x (N, H, W, C) and an NCHW-style weight (O, C, 3, 3)."""
    out_channels = weight.shape[0]
    weight_mat = np.ascontiguousarray(weight.transpose(2, 3, 1, 0)).reshape(-1, out_channels)  # ((i, j, c), o)
    y = np.empty(x.shape[:3] + (out_channels,), x.dtype)
    for images in _chunks(x, out_channels):
        np.matmul(_cols_nhwc(x[images]), weight_mat, out=y[images].reshape(-1, out_channels))
    return y


def conv_nhwc_weight(x, gy):
    """dW (O, C, 3, 3): the chunks' cols^T @ dY, added in chunk order."""
    out_channels = gy.shape[3]
    parts = [_cols_nhwc(x[images]).T @ gy[images].reshape(-1, out_channels) for images in _chunks(x, out_channels)]
    grad = sum(parts[1:], parts[0])
    return grad.reshape(3, 3, x.shape[3], out_channels).transpose(3, 2, 0, 1)


def conv_nhwc_input(gy, weight):
    """dx (N, H, W, C): the convolution of gy with the flipped kernel, channel axes swapped."""
    return conv_nhwc(gy, np.ascontiguousarray(weight[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)))


# -- fused batch norm + ReLU (training) ---------------------------------------------------------
def _channel_sums(a):
    """Per-channel sums of a (N, C, M) array: two matrix-vector products."""
    n, c, m = a.shape
    return (np.ones(n, a.dtype) @ a.reshape(n, c * m)).reshape(c, m) @ np.ones(m, a.dtype)


def batch_norm_relu(x, weight, bias, eps=1e-5):
    """(relu(batch_norm(x)), mean, inv_std)."""
    n, c = x.shape[:2]
    a = x.reshape(n, c, -1)
    count = a.size // c
    mean = _channel_sums(a) / count
    centred = a - mean[:, None]
    inv_std = 1 / np.sqrt(_channel_sums(centred * centred) / count + eps)
    y = centred
    y *= (weight * inv_std)[:, None]
    y += bias[:, None]
    np.maximum(y, 0, out=y)
    return y.reshape(x.shape), mean, inv_std


def batch_norm_relu_backward(gy, y, x, mean, inv_std, weight):
    """(dx, dgamma, dbeta), with dx = a g + b x + c per channel, g = gy where y > 0."""
    n, c = x.shape[:2]
    g, xs = (gy * (y > 0)).reshape(n, c, -1), x.reshape(n, c, -1)
    count = g.size // c
    sum_g = _channel_sums(g)
    sum_g_xhat = (_channel_sums(g * xs) - mean * sum_g) * inv_std
    k = weight * inv_std / count
    b = -k * sum_g_xhat * inv_std
    dx = g * (k * count)[:, None]
    dx += xs * b[:, None]
    dx += (-k * sum_g - b * mean)[:, None]
    return dx.reshape(x.shape), sum_g_xhat, sum_g


# -- minitl's kernels, the same work -----------------------------------------------------------
def kernels_conv(x, weight, gy):
    hw = x.shape[2:]
    return (convolution.conv2d(x, weight, (1, 1), (1, 1), (1, 1), 1),
            convolution.conv2d_weight(x, gy, (3, 3), (1, 1), (1, 1), (1, 1), 1),
            convolution.conv_transpose2d(gy, weight, hw, (1, 1), (1, 1), (1, 1), 1))


def prototype_conv(x_nhwc, weight, gy_nhwc):
    return conv_nhwc(x_nhwc, weight), conv_nhwc_weight(x_nhwc, gy_nhwc), conv_nhwc_input(gy_nhwc, weight)


def kernels_bn_relu(x, weight, bias, gy):
    y, xhat, _, _, inv_std = normalization.batch_norm(x, weight, bias, 1e-5)
    out, positive = elementwise.relu(y)
    grads = normalization.batch_norm_backward(elementwise.relu_backward(gy, positive), xhat, weight, inv_std,
                                              True, True)
    return (out, *grads)


def prototype_bn_relu(x, weight, bias, gy):
    y, mean, inv_std = batch_norm_relu(x, weight, bias)
    return (y, *batch_norm_relu_backward(gy, y, x, mean, inv_std, weight))


def inputs(channels, size, batch=64, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((batch, channels, size, size)) * 2 + 1).astype(np.float32)
    gy = rng.standard_normal(x.shape).astype(np.float32)
    weight = rng.standard_normal((channels, channels, 3, 3)).astype(np.float32) / 12
    gamma, beta = (rng.random(channels) + 0.5).astype(np.float32), rng.standard_normal(channels).astype(np.float32)
    return x, gy, weight, gamma, beta


def nhwc(a):
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1))


def check(channels, size, batch=64):
    """The largest relative difference of each prototype's results from the kernels' (float32)."""
    x, gy, weight, gamma, beta = inputs(channels, size, batch)
    conv = prototype_conv(nhwc(x), weight, nhwc(gy))
    conv = (conv[0].transpose(0, 3, 1, 2), conv[1], conv[2].transpose(0, 3, 1, 2))
    pairs = list(zip(kernels_conv(x, weight, gy), conv, strict=True))
    pairs += zip(kernels_bn_relu(x, gamma, beta, gy), prototype_bn_relu(x, gamma, beta, gy), strict=True)
    return [float(np.abs(a - b).max() / np.abs(a).max()) for a, b in pairs]


def cpu_ms(function, repeats):
    """Median CPU time of one call, in ms, after one untimed call."""
    return 1000 * median_time(function, 1, repeats, clock=time.process_time)


def time_stage(channels, size, repeats):
    """CPU ms per call: (conv kernels, conv prototype, bn+relu kernels, bn+relu prototype)."""
    x, gy, weight, gamma, beta = inputs(channels, size)
    x_nhwc, gy_nhwc = nhwc(x), nhwc(gy)
    with threads.blas_held:
        return (cpu_ms(lambda: kernels_conv(x, weight, gy), repeats),
                cpu_ms(lambda: prototype_conv(x_nhwc, weight, gy_nhwc), repeats),
                cpu_ms(lambda: kernels_bn_relu(x, gamma, beta, gy), repeats),
                cpu_ms(lambda: prototype_bn_relu(x, gamma, beta, gy), repeats))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=8)
    args = parser.parse_args(argv)
    print("stage        conv: kernels  prototype  ratio    bn+relu: kernels  prototype  ratio   (CPU ms per call)")
    previous = threads.get_num_threads()
    threads.set_num_threads(1)  # the prototypes are single-threaded: compare like with like
    try:
        for channels, size in STAGES:
            worst = max(check(channels, size))
            assert worst < 1e-4, f"a prototype disagrees with the kernels: {worst:.1e}"
            conv, conv_new, bn, bn_new = time_stage(channels, size, args.repeats)
            print(f"{channels:3d} x {size:2d}x{size:<2d}  {conv:12.2f} {conv_new:10.2f} {conv_new / conv:6.2f}x"
                  f"   {bn:15.2f} {bn_new:10.2f} {bn_new / bn:6.2f}x")
    finally:
        threads.set_num_threads(previous)


if __name__ == "__main__":
    main()
