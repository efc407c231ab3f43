"""conv_transpose2d cases shared by the test and its golden script: (name, options, (input, weight) shapes, bias)."""
import numpy as np

CASES = [
    ("basic", {}, ((2, 3, 4, 5), (3, 2, 3, 3), True)),
    ("stride2_pad1_output_padding1", {"stride": 2, "padding": 1, "output_padding": 1}, ((1, 2, 3, 4), (2, 3, 3, 3), True)),
    ("dilation2_no_bias", {"dilation": 2, "padding": 1}, ((2, 2, 4, 4), (2, 2, 3, 2), False)),
    ("groups2_rect_stride", {"groups": 2, "stride": (2, 1), "padding": (0, 1)}, ((2, 4, 3, 3), (4, 1, 2, 3), True)),
]


def output_shape(options, x_shape, w_shape):
    def pair(v):
        return (v, v) if isinstance(v, int) else tuple(v)
    stride, padding = pair(options.get("stride", 1)), pair(options.get("padding", 0))
    extra, dilation = pair(options.get("output_padding", 0)), pair(options.get("dilation", 1))
    groups = options.get("groups", 1)
    hw = [(x_shape[2 + d] - 1) * stride[d] - 2 * padding[d] + dilation[d] * (w_shape[2 + d] - 1) + extra[d] + 1
          for d in range(2)]
    return (x_shape[0], w_shape[1] * groups, *hw)


def make_arrays(options, shapes, seed):
    """Float64 (input, weight, bias or None, upstream gradient) of a case."""
    x_shape, w_shape, with_bias = shapes
    rng = np.random.default_rng(seed)
    y_shape = output_shape(options, x_shape, w_shape)
    bias = rng.normal(size=y_shape[1]) if with_bias else None
    return rng.normal(size=x_shape), rng.normal(size=w_shape), bias, rng.normal(size=y_shape)
