"""Each fast kernel of minitl.kernels against its plain reference, on arrays (no autograd).

float64 agrees to rounding (tight), float32 to its precision (loose); where a kernel only copies or
picks values (max pooling, unfold, ReLU) the two agree exactly. Shapes are odd on purpose: strides,
padding (also beyond the kernel), dilation, groups, windows that overlap, leave gaps or do not fit
the input exactly, non-square kernels and inputs. And every kernel gives the same bits on one thread
as on two (threads.MIN_PARALLEL_SIZE lowered so that the small cases are split too).
"""
import numpy as np
import pytest

import minitl as tl
from minitl import threads
from minitl.kernels import convolution, elementwise, normalization, pooling, unfold

TOLERANCE = {np.float64: dict(rtol=1e-12, atol=1e-12), np.float32: dict(rtol=2e-5, atol=2e-5)}
DTYPES = [np.float64, np.float32]


def normal(rng, shape, dtype):
    return rng.normal(size=shape).astype(dtype)


def assert_close(fast, reference, dtype, name=""):
    assert fast.shape == reference.shape and fast.dtype == dtype, name
    np.testing.assert_allclose(fast, reference, err_msg=name, **TOLERANCE[dtype])


# (x shape, weight shape, stride, padding, dilation, groups)
CONV_CASES = [
    ((2, 3, 7, 6), (4, 3, 3, 3), (1, 1), (1, 1), (1, 1), 1),   # stride 1: wide rows, the transposed path
    ((2, 3, 9, 8), (5, 3, 3, 2), (2, 1), (1, 0), (1, 1), 1),   # strided, non-square kernel: col2im
    ((1, 4, 8, 9), (6, 2, 3, 3), (1, 1), (2, 2), (2, 1), 2),   # groups and dilation
    ((2, 4, 7, 7), (4, 1, 3, 3), (2, 2), (1, 1), (1, 1), 4),   # depthwise, strided
    ((3, 2, 5, 6), (3, 2, 3, 3), (1, 1), (3, 2), (1, 1), 1),   # padding beyond the kernel: col2im at stride 1
    ((2, 3, 5, 5), (2, 3, 1, 1), (2, 2), (0, 0), (1, 1), 1),   # 1x1, strided (pixels left out)
    ((1, 2, 10, 7), (3, 2, 2, 3), (3, 2), (1, 2), (2, 2), 1),  # windows with gaps, ceil sizes cut off
]
CONV_IDS = ["stride1", "strided_rect", "groups_dilated", "depthwise", "pad_beyond_kernel", "1x1_strided", "gaps"]


def conv_arrays(case, dtype, seed=0):
    x_shape, w_shape, stride, padding, dilation, groups = case
    rng = np.random.default_rng(seed)
    x, w = normal(rng, x_shape, dtype), normal(rng, w_shape, dtype)
    out_hw = convolution.output_hw(x_shape[2:], w_shape[2:], stride, padding, dilation)
    gy = normal(rng, (x_shape[0], w_shape[0], *out_hw), dtype)
    return x, w, gy, (stride, padding, dilation, groups)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CONV_CASES, ids=CONV_IDS)
def test_convolution_kernels(case, dtype):
    x, w, gy, arguments = conv_arrays(case, dtype)
    kernel, hw = w.shape[2:], x.shape[2:]
    pairs = {"conv2d": (convolution.conv2d(x, w, *arguments), convolution.reference_conv2d(x, w, *arguments)),
             "conv2d_weight": (convolution.conv2d_weight(x, gy, kernel, *arguments),
                               convolution.reference_conv2d_weight(x, gy, kernel, *arguments)),
             "conv_transpose2d": (convolution.conv_transpose2d(gy, w, hw, *arguments),
                                  convolution.reference_conv_transpose2d(gy, w, hw, *arguments))}
    for name, (fast, reference) in pairs.items():
        assert_close(fast, reference, dtype, name)


@pytest.mark.parametrize("stride, dilation", [((1, 1), (2, 3)), ((2, 3), (1, 1))])
def test_conv_transpose2d_with_output_padding(stride, dilation):
    """An output taller and wider than the convolution reads (PyTorch's output_padding): extra zero rows and columns."""
    rng = np.random.default_rng(1)
    gy, w = rng.normal(size=(2, 4, 3, 4)), rng.normal(size=(4, 3, 2, 3))
    hw = [(gy.shape[2 + d] - 1) * stride[d] - 2 + dilation[d] * (w.shape[2 + d] - 1) + 1 + 1 for d in range(2)]
    arguments = (stride, (1, 1), dilation, 1)
    assert_close(convolution.conv_transpose2d(gy, w, hw, *arguments),
                 convolution.reference_conv_transpose2d(gy, w, hw, *arguments), np.float64)


def test_the_references_are_adjoint():
    """<conv2d(x, W), gy> = <x, conv_transpose2d(gy, W)> = <W, conv2d_weight(x, gy)>: the three references
    are one bilinear form, so a mistake in one shows against the others."""
    x, w, gy, arguments = conv_arrays(CONV_CASES[2], np.float64)
    forms = [np.sum(convolution.reference_conv2d(x, w, *arguments) * gy),
             np.sum(x * convolution.reference_conv_transpose2d(gy, w, x.shape[2:], *arguments)),
             np.sum(w * convolution.reference_conv2d_weight(x, gy, w.shape[2:], *arguments))]
    np.testing.assert_allclose(forms, forms[0], rtol=1e-12)


@pytest.mark.parametrize("case", CONV_CASES[:3], ids=CONV_IDS[:3])
def test_conv_chunks_of_one_image_equal_one_piece(monkeypatch, case):
    """The batch is cut into chunks of CPU_CHUNK_BYTES; a chunk of one image each gives the same values."""
    x, w, gy, arguments = conv_arrays(case, np.float64)
    whole = [convolution.conv2d(x, w, *arguments), convolution.conv2d_weight(x, gy, w.shape[2:], *arguments)]
    monkeypatch.setattr(convolution, "CPU_CHUNK_BYTES", 1)
    chunked = [convolution.conv2d(x, w, *arguments), convolution.conv2d_weight(x, gy, w.shape[2:], *arguments)]
    for one_image_at_a_time, expected in zip(chunked, whole):
        np.testing.assert_allclose(one_image_at_a_time, expected, rtol=1e-12, atol=1e-12)


# (kernel, stride, padding)
POOL_CASES = [((2, 2), (2, 2), (0, 0)), ((3, 3), (1, 1), (1, 1)), ((3, 2), (2, 1), (1, 0)), ((2, 3), (3, 3), (1, 1)),
              ((5, 5), (2, 3), (2, 2)), ((2, 2), (2, 2), (1, 1))]
POOL_IDS = ["tiled", "overlapping", "rect_overlapping", "gaps", "big_window", "tiled_with_padding"]


def pool_arrays(case, dtype, seed=0):
    """x rounded to a few values, so that windows often hold ties; gy of the output's shape."""
    kernel, stride, padding = case
    rng = np.random.default_rng(seed)
    x = rng.integers(-3, 4, size=(2, 3, 11, 10)).astype(dtype)
    gy = normal(rng, (2, 3, *convolution.output_hw(x.shape[2:], kernel, stride, padding)), dtype)
    return x, gy


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", POOL_CASES, ids=POOL_IDS)
def test_max_pool2d(case, dtype):
    """Values and argmax exactly: ties go to the first maximum in row-major window order, as np.argmax's."""
    x, _ = pool_arrays(case, dtype)
    (y, argmax), (expected_y, expected_argmax) = pooling.max_pool2d(x, *case), pooling.reference_max_pool2d(x, *case)
    np.testing.assert_array_equal(y, expected_y)
    np.testing.assert_array_equal(argmax, expected_argmax)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", POOL_CASES, ids=POOL_IDS)
def test_max_pool2d_backward_and_gather(case, dtype):
    x, gy = pool_arrays(case, dtype)
    _, argmax = pooling.reference_max_pool2d(x, *case)
    hw = x.shape[2:]
    assert_close(pooling.max_pool2d_backward(gy, argmax, hw, *case),
                 pooling.reference_max_pool2d_backward(gy, argmax, hw, *case), dtype)
    g = normal(np.random.default_rng(1), x.shape, dtype)
    np.testing.assert_array_equal(pooling.max_pool2d_gather(g, argmax, *case),
                                  pooling.reference_max_pool2d_gather(g, argmax, *case))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", POOL_CASES, ids=POOL_IDS)
def test_avg_pool2d_and_backward(case, dtype):
    x, gy = pool_arrays(case, dtype)
    assert_close(pooling.avg_pool2d(x, *case), pooling.reference_avg_pool2d(x, *case), dtype)
    assert_close(pooling.avg_pool2d_backward(gy, x.shape[2:], *case),
                 pooling.reference_avg_pool2d_backward(gy, x.shape[2:], *case), dtype)


def test_max_pool2d_counts_past_255_window_offsets():
    """17 x 17 = 289 offsets: more than uint8 can number."""
    x = np.random.default_rng(5).permutation(289).reshape(1, 1, 17, 17).astype(np.float64)
    y, argmax = pooling.max_pool2d(x, (17, 17), (17, 17), (0, 0))
    assert y.item() == 288 and argmax.item() == int(np.argmax(x)) and argmax.dtype == np.uint16


BATCH_NORM_SHAPES = [(6, 3), (4, 3, 5), (2, 3, 4, 5)]


def batch_norm_arrays(shape, dtype, seed=2):
    rng = np.random.default_rng(seed)
    channels = shape[1]
    return (normal(rng, shape, dtype), normal(rng, channels, dtype), normal(rng, channels, dtype),
            normal(rng, shape, dtype), normal(rng, channels, dtype), rng.uniform(0.5, 2, channels).astype(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", BATCH_NORM_SHAPES)
def test_batch_norm(shape, dtype):
    x, weight, bias, g, _, _ = batch_norm_arrays(shape, dtype)
    fast, reference = normalization.batch_norm(x, weight, bias, 1e-5), normalization.reference_batch_norm(x, weight, bias, 1e-5)
    for value, expected in zip(fast, reference):  # y, xhat, mean, var, inv_std
        assert_close(value, expected, dtype)
    xhat, inv_std = fast[1], fast[4]
    for need_dx in (True, False):
        fast = normalization.batch_norm_backward(g, xhat, weight, inv_std, True, need_dx)
        reference = normalization.reference_batch_norm_backward(g, xhat, weight, inv_std, True, need_dx)
        assert (fast[0] is None) == (not need_dx)
        for value, expected in zip(fast, reference):  # dx, dgamma, dbeta
            if expected is not None:
                assert_close(value, expected, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", BATCH_NORM_SHAPES)
def test_batch_norm_eval(shape, dtype):
    x, weight, bias, g, mean, var = batch_norm_arrays(shape, dtype)
    y, inv_std = normalization.batch_norm_eval(x, weight, bias, mean, var, 1e-5)
    expected_y, expected_inv_std = normalization.reference_batch_norm_eval(x, weight, bias, mean, var, 1e-5)
    assert_close(y, expected_y, dtype)
    assert_close(inv_std, expected_inv_std, dtype)
    xhat = (x - mean.reshape(inv_std.shape)) * inv_std
    for given_xhat in (xhat, None):  # None: dgamma is not wanted
        fast = normalization.batch_norm_backward(g, given_xhat, weight, inv_std, False, True)
        reference = normalization.reference_batch_norm_backward(g, given_xhat, weight, inv_std, False, True)
        assert (fast[1] is None) == (given_xhat is None)
        for value, expected in zip(fast, reference):
            if expected is not None:
                assert_close(value, expected, dtype)


# (input shape, kernel, stride, padding, dilation)
UNFOLD_CASES = [((2, 3, 6, 5), (3, 3), (1, 1), (0, 0), (1, 1)), ((2, 2, 7, 6), (2, 3), (2, 2), (1, 1), (2, 1)),
                ((1, 2, 5, 5), (2, 2), (3, 3), (0, 0), (1, 1)), ((1, 2, 6, 5), (3, 2), (2, 1), (1, 1), (1, 2))]
UNFOLD_IDS = ["plain", "rect_strided_dilated", "gaps", "padded_dilated"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", UNFOLD_CASES, ids=UNFOLD_IDS)
def test_unfold_and_fold(case, dtype):
    shape, *arguments = case
    rng = np.random.default_rng(3)
    x = normal(rng, shape, dtype)
    cols = unfold.unfold(x, *arguments)
    np.testing.assert_array_equal(cols, unfold.reference_unfold(x, *arguments))  # a copy: exact
    gcols = normal(rng, cols.shape, dtype)
    assert_close(unfold.fold(gcols, shape[2:], *arguments), unfold.reference_fold(gcols, shape[2:], *arguments), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu(dtype):
    rng = np.random.default_rng(4)
    x, gy = normal(rng, (5, 7), dtype), normal(rng, (5, 7), dtype)
    (y, positive), (expected_y, expected_positive) = elementwise.relu(x), elementwise.reference_relu(x)
    np.testing.assert_array_equal(y, expected_y)
    np.testing.assert_array_equal(positive, expected_positive)
    np.testing.assert_array_equal(elementwise.relu_backward(gy, positive),
                                  elementwise.reference_relu_backward(gy, positive))


def every_kernel(dtype):
    """(name, call) for every fast kernel on arrays big enough to be split among threads and chunks."""
    x, w, gy, arguments = conv_arrays(((6, 4, 12, 11), (8, 2, 3, 3), (1, 1), (1, 1), (1, 1), 2), dtype)
    xs, ws, gys, strided = conv_arrays(((6, 4, 12, 11), (8, 4, 3, 2), (2, 1), (1, 0), (1, 2), 1), dtype)
    pool_x, pool_gy = pool_arrays(((3, 3), (2, 2), (1, 1)), dtype)
    pool = ((3, 3), (2, 2), (1, 1))
    _, argmax = pooling.max_pool2d(pool_x, *pool)
    bn_x, weight, bias, bn_g, mean, var = batch_norm_arrays((6, 5, 4, 3), dtype)
    _, xhat, _, _, inv_std = normalization.batch_norm(bn_x, weight, bias, 1e-5)
    window = ((2, 3), (2, 1), (1, 1), (1, 2))
    cols = unfold.unfold(x, *window)
    return [
        ("conv2d", lambda: convolution.conv2d(x, w, *arguments)),
        ("conv2d_weight", lambda: convolution.conv2d_weight(x, gy, w.shape[2:], *arguments)),
        ("conv_transpose2d", lambda: convolution.conv_transpose2d(gy, w, x.shape[2:], *arguments)),
        ("conv2d strided", lambda: convolution.conv2d(xs, ws, *strided)),
        ("conv2d_weight strided", lambda: convolution.conv2d_weight(xs, gys, ws.shape[2:], *strided)),
        ("conv_transpose2d strided", lambda: convolution.conv_transpose2d(gys, ws, xs.shape[2:], *strided)),
        ("max_pool2d", lambda: pooling.max_pool2d(pool_x, *pool)),
        ("max_pool2d_backward", lambda: pooling.max_pool2d_backward(pool_gy, argmax, pool_x.shape[2:], *pool)),
        ("max_pool2d_gather", lambda: pooling.max_pool2d_gather(pool_x, argmax, *pool)),
        ("avg_pool2d", lambda: pooling.avg_pool2d(pool_x, *pool)),
        ("avg_pool2d_backward", lambda: pooling.avg_pool2d_backward(pool_gy, pool_x.shape[2:], *pool)),
        ("batch_norm", lambda: normalization.batch_norm(bn_x, weight, bias, 1e-5)),
        ("batch_norm_eval", lambda: normalization.batch_norm_eval(bn_x, weight, bias, mean, var, 1e-5)),
        ("batch_norm_backward", lambda: normalization.batch_norm_backward(bn_g, xhat, weight, inv_std, True, True)),
        ("unfold", lambda: unfold.unfold(x, *window)),
        ("fold", lambda: unfold.fold(cols, x.shape[2:], *window)),
        ("relu", lambda: elementwise.relu(x)),
        ("relu_backward", lambda: elementwise.relu_backward(x, x > 0)),
    ]


@pytest.mark.parametrize("dtype", DTYPES)
def test_one_thread_and_two_give_the_same_bits(monkeypatch, dtype):
    monkeypatch.setattr(threads, "MIN_PARALLEL_SIZE", 1)
    monkeypatch.setattr(convolution, "CPU_CHUNK_BYTES", 20_000)  # several chunks of images to share out
    before = tl.get_num_threads()
    try:
        results = {}
        for count in (1, 2):
            tl.set_num_threads(count)
            results[count] = [(name, call()) for name, call in every_kernel(dtype)]
    finally:
        tl.set_num_threads(before)
    for (name, one), (_, two) in zip(results[1], results[2]):
        for a, b in zip(one if isinstance(one, tuple) else (one,), two if isinstance(two, tuple) else (two,)):
            assert a.tobytes() == b.tobytes(), name
