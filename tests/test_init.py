"""nn.init against PyTorch's fans and gains (golden), and the statistics of what it draws."""
import math
import pathlib

import numpy as np
import pytest

import minitl as tl
from minitl import nn
from minitl.nn import init

from cases.module_cases import FAN_SHAPES, GAINS

GOLDEN = np.load(pathlib.Path(__file__).parent / "golden" / "module.npz")


def test_fans_match_pytorch():
    fans = [init.calculate_fan_in_and_fan_out(tl.zeros(shape)) for shape in FAN_SHAPES]
    assert np.array_equal(np.array(fans), GOLDEN["fans"])


def test_gains_match_pytorch():
    gains = [init.calculate_gain(name, param) for name, param in GAINS]
    np.testing.assert_allclose(gains, GOLDEN["gains"], rtol=1e-15)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match=r"at least 2 dimensions, got shape \(5,\)"):
        init.xavier_uniform_(tl.zeros(5))
    with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_out', got 'fan_avg'"):
        init.kaiming_normal_(tl.zeros(3, 3), mode="fan_avg")
    with pytest.raises(ValueError, match="unsupported nonlinearity 'gelu'"):
        init.calculate_gain("gelu")
    with pytest.raises(ValueError, match="not a valid number"):
        init.calculate_gain("leaky_relu", True)


def test_fills_are_in_place_keep_the_dtype_and_return_the_tensor():
    p = nn.Parameter(tl.zeros(3, 4, dtype=tl.float64))
    data = p.data
    for fill in (init.uniform_, init.normal_, init.xavier_uniform_, init.xavier_normal_, init.kaiming_uniform_,
                 init.kaiming_normal_, init.zeros_, init.ones_):
        assert fill(p) is p and p.data is data and p.dtype == tl.float64
    assert (init.constant_(p, 0.5).data == 0.5).all() and (init.ones_(p).data == 1).all()
    assert not init.zeros_(p).data.any()
    assert init.kaiming_uniform_(tl.zeros(0, 3)).shape == (0, 3)  # nothing to fill


def test_seed_makes_initialisation_repeatable():
    tl.manual_seed(3)
    a = init.kaiming_uniform_(tl.zeros(4, 5)).data.copy()
    tl.manual_seed(3)
    assert np.array_equal(init.kaiming_uniform_(tl.zeros(4, 5)).data, a)


def test_uniform_bounds_are_exact():
    # (out, in, k, k) = (64, 32, 3, 3): fan_in = 288, fan_out = 576
    w = tl.zeros(64, 32, 3, 3)
    bounds = {
        "uniform": (lambda: init.uniform_(w, -0.3, 0.7), -0.3, 0.7),
        "xavier": (lambda: init.xavier_uniform_(w, gain=2.0), -2 * math.sqrt(6 / (288 + 576)), None),
        "kaiming relu": (lambda: init.kaiming_uniform_(w, nonlinearity="relu"), -math.sqrt(6 / 288), None),
        "kaiming a=sqrt(5)": (lambda: init.kaiming_uniform_(w, a=math.sqrt(5)), -1 / math.sqrt(288), None),
        # the default a=0 with leaky_relu is ReLU's gain sqrt(2)
        "kaiming fan_out": (lambda: init.kaiming_uniform_(w, mode="fan_out"), -math.sqrt(6 / 576), None),
    }
    for name, (fill, low, high) in bounds.items():
        high = -low if high is None else high
        values = fill().data
        assert values.min() >= np.float32(low) and values.max() <= np.float32(high), name
        # 18k samples reach within 0.1% of the ends: the bound is the bound, not a smaller one
        assert values.min() < low + 1e-3 * (high - low) and values.max() > high - 1e-3 * (high - low), name


def test_normal_statistics():
    w = tl.zeros(256, 128, 3, 3)  # fan_in 1152, fan_out 2304, 295k samples: std within about 0.3%
    cases = {
        "normal": (lambda: init.normal_(w, 0.5, 2.0), 0.5, 2.0),
        "xavier": (lambda: init.xavier_normal_(w), 0.0, math.sqrt(2 / (1152 + 2304))),
        "kaiming": (lambda: init.kaiming_normal_(w, nonlinearity="relu"), 0.0, math.sqrt(2 / 1152)),
        "kaiming fan_out": (lambda: init.kaiming_normal_(w, mode="fan_out", nonlinearity="tanh"),
                            0.0, 5 / 3 / math.sqrt(2304)),
    }
    for name, (fill, mean, std) in cases.items():
        values = fill().data.astype(np.float64)
        assert abs(values.mean() - mean) < 0.01 * std, name
        assert abs(values.std() / std - 1) < 0.01, name


@pytest.mark.parametrize("shape", [(), (5,), (3, 70001)])  # 210003 values: several blocks and a partial one
def test_draws_in_blocks_equal_one_draw_from_the_seeded_generator(shape):
    """Drawing block by block into the destination keeps the stream a seed defines."""
    expected_uniform = np.random.default_rng(7).uniform(-0.5, 2.0, size=shape)
    expected_normal = np.random.default_rng(7).normal(0.25, 3.0, size=shape)
    for dtype in (np.float64, np.float32):
        tl.manual_seed(7)
        assert np.array_equal(tl.random.uniform(shape, -0.5, 2.0, dtype=dtype), expected_uniform.astype(dtype))
        tl.manual_seed(7)
        assert np.array_equal(tl.random.normal(shape, 0.25, 3.0, dtype=dtype), expected_normal.astype(dtype))


def test_fill_of_a_non_contiguous_parameter_reaches_its_data():
    weight = nn.Parameter(tl.zeros(4, 6).T)  # a transposed view
    init.normal_(weight)
    tl.manual_seed(3)
    init.uniform_(weight, 1.0, 2.0)
    values = weight.detach().numpy()
    assert values.min() >= 1.0 and values.max() < 2.0
    tl.manual_seed(3)
    assert np.array_equal(values, tl.random.uniform((6, 4), 1.0, 2.0))
