"""RandomAffine and RandomResizedCrop: the affine matrix against torchvision's formula, where a marker lands,
and the crop's parameters.

torchvision is not installed here, so the reference matrices do not come from
running it. They come from two torch-free sources, both from torchvision's
documentation of ``_get_inverse_affine_matrix`` (torchvision/transforms/functional.py):
hand-derived values for pure rotations, scalings, translations and shears
(worked out in the comments below), and, for mixed parameters, the inverse of
the documented product M = T C R S SHy SHx C^-1 of its factor matrices,
multiplied out and inverted numerically, which the closed form must equal.
"""
import math

import numpy as np
import pytest

import minitl as tl
from minitl.data import transforms as T

# (angle, translate, scale, shear) -> torchvision's inverse matrix, derived by hand:
HAND_DERIVED = [
    # 90 degrees: R = [[0, -1], [1, 0]], inverse [[0, 1], [-1, 0]].
    ((90, (0, 0), 1.0, (0, 0)), [0, 1, 0, -1, 0, 0]),
    # scale 2 and shift (3, -1): x = (x' - 3) / 2, y = (y' + 1) / 2.
    ((0, (3, -1), 2.0, (0, 0)), [0.5, 0, -1.5, 0, 0.5, 0.5]),
    # x-shear 45 degrees: SHx = [[1, -1], [0, 1]], inverse [[1, 1], [0, 1]].
    ((0, (0, 0), 1.0, (45, 0)), [1, 1, 0, 0, 1, 0]),
    # y-shear 45 degrees: with sy = 45, a = 1, b = 0, c = -1, d = 1: inverse [[1, 0], [1, 1]].
    ((0, (0, 0), 1.0, (0, 45)), [1, 0, 0, 1, 1, 0]),
    # 180 degrees and shift (2, 0): x = -(x' - 2), y = -y'.
    ((180, (2, 0), 1.0, (0, 0)), [-1, 0, 2, 0, -1, 0]),
]


@pytest.mark.parametrize("params, expected", HAND_DERIVED)
def test_inverse_affine_matrix_equals_hand_derived_values(params, expected):
    np.testing.assert_allclose(T.inverse_affine_matrix(*params), expected, atol=1e-12)


def documented_product_inverse(angle, translate, scale, shear, center):
    """M^-1 for M = T C R(angle) S(scale) SHy(shear_y) SHx(shear_x) C^-1, as 3x3 matrices."""
    def homogeneous(linear=((1, 0), (0, 1)), shift=(0, 0)):
        return np.array([[*linear[0], shift[0]], [*linear[1], shift[1]], [0, 0, 1]], dtype=float)
    r, sx, sy = math.radians(angle), math.radians(shear[0]), math.radians(shear[1])
    product = (homogeneous(shift=translate) @ homogeneous(shift=center)
               @ homogeneous(((math.cos(r), -math.sin(r)), (math.sin(r), math.cos(r))))
               @ homogeneous(((scale, 0), (0, scale)))
               @ homogeneous(((1, 0), (-math.tan(sy), 1))) @ homogeneous(((1, -math.tan(sx)), (0, 1)))
               @ homogeneous(shift=(-center[0], -center[1])))
    return np.linalg.inv(product)[:2].ravel()


@pytest.mark.parametrize("angle, translate, scale, shear, center", [
    (30, (2, -3), 1.2, (10, 20), (0, 0)),
    (-75, (0, 5), 0.8, (-25, 5), (1.5, -2)),
    (123, (-4, 1), 1.0, (0, -30), (3, 3)),
])
def test_inverse_affine_matrix_inverts_the_documented_product(angle, translate, scale, shear, center):
    np.testing.assert_allclose(T.inverse_affine_matrix(angle, translate, scale, shear, center),
                               documented_product_inverse(angle, translate, scale, shear, center), atol=1e-12)


def forward_position(params, row, col, height, width):
    """Where the forward map sends the centre of pixel (row, col): the 2x3 inverse, inverted."""
    m = np.array(T.inverse_affine_matrix(*params) + [0, 0, 1]).reshape(3, 3)
    x, y, _ = np.linalg.inv(m) @ [col - (width - 1) / 2, row - (height - 1) / 2, 1]
    return y + (height - 1) / 2, x + (width - 1) / 2


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
@pytest.mark.parametrize("params", [
    (90, (0, 0), 1.0, (0, 0)),      # a quarter turn clockwise on screen (y points down)
    (-90, (2, 1), 1.0, (0, 0)),
    (180, (0, -2), 1.0, (0, 0)),
    (0, (-3, 2), 1.0, (0, 0)),
])
def test_a_marker_lands_where_the_matrix_says(params, interpolation):
    height, width, row, col = 11, 13, 2, 9
    image = np.zeros((2, height, width), np.float32)
    image[:, row, col] = 1
    out = T.warp_affine(image, T.inverse_affine_matrix(*params), interpolation)
    target = forward_position(params, row, col, height, width)
    assert out.dtype == np.float32 and out.shape == image.shape
    assert np.argwhere(out[0] > 0.99).tolist() == [[round(target[0]), round(target[1])]]
    assert out.sum() == pytest.approx(2)  # whole-pixel moves: the marker is neither lost nor smeared


def test_quarter_turn_is_clockwise_on_screen():
    image = np.zeros((1, 5, 5), np.float32)
    image[0, 0, 4] = 1  # top right
    out = T.warp_affine(image, T.inverse_affine_matrix(90, (0, 0), 1.0, (0, 0)))
    assert out[0, 4, 4] == 1  # bottom right


def test_scaling_by_two_about_the_centre_and_fill_outside():
    image = np.arange(64, dtype=np.float64).reshape(1, 8, 8)
    out = T.warp_affine(image, T.inverse_affine_matrix(0, (0, 0), 0.5, (0, 0)), "bilinear", fill=-1.0)
    # Shrunk to half: output pixel (3.5 + 2 k) about the centre reads input at centre + 2 k, and the border
    # beyond the shrunk image is fill.
    assert out[0, 0, 0] == -1 and out[0, 7, 7] == -1
    np.testing.assert_allclose(out[0, 3:5, 3:5], image[0, 2:6:2, 2:6:2] * 0.25 + image[0, 3:7:2, 3:7:2] * 0.25
                               + image[0, 2:6:2, 3:7:2] * 0.25 + image[0, 3:7:2, 2:6:2] * 0.25)


def test_random_affine_draws_torchvision_ranges_and_repeats_when_seeded():
    transform = T.RandomAffine(degrees=10, translate=(0.1, 0.2), scale=(0.9, 1.1), shear=(-5, 5, -3, 3))
    tl.manual_seed(0)
    draws = [transform.get_params(28, 30) for _ in range(300)]
    angles, shifts, scales, shears = zip(*draws)
    assert all(-10 <= a <= 10 for a in angles) and all(0.9 <= s <= 1.1 for s in scales)
    assert all(abs(tx) <= 3 and abs(ty) <= 6 and isinstance(tx, int) for tx, ty in shifts)  # 0.1 * 30, 0.2 * 28
    assert all(-5 <= x <= 5 and -3 <= y <= 3 for x, y in shears)
    assert max(abs(tx) for tx, _ in shifts) == 3
    image = np.random.default_rng(0).uniform(size=(1, 28, 30)).astype(np.float32)
    tl.manual_seed(1)
    first = transform(image)
    tl.manual_seed(1)
    np.testing.assert_array_equal(transform(image), first)
    assert first.dtype == np.float32 and first.shape == image.shape
    assert T.RandomAffine(0, shear=7).get_params(5, 5)[3][1] == 0  # one number: x-shear only


def test_random_affine_identity_parameters_change_nothing():
    image = np.random.default_rng(0).uniform(size=(3, 9, 7)).astype(np.float32)
    for interpolation in ("nearest", "bilinear"):
        np.testing.assert_array_equal(T.RandomAffine(0, interpolation=interpolation)(image), image)


@pytest.mark.parametrize("kwargs, message", [
    ({"degrees": -5}, "degrees: a single number must be non-negative"),
    ({"degrees": 5, "translate": (0.1, 1.5)}, "translate must be a pair of fractions"),
    ({"degrees": 5, "scale": (1.2, 0.8)}, "scale must be a pair"),
    ({"degrees": 5, "interpolation": "bicubic"}, "interpolation must be 'nearest' or 'bilinear'"),
])
def test_random_affine_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        T.RandomAffine(**kwargs)


def test_random_resized_crop_draws_areas_and_ratios_in_range():
    crop = T.RandomResizedCrop(16, scale=(0.3, 0.9), ratio=(0.5, 2.0))
    tl.manual_seed(0)
    for _ in range(200):
        top, left, h, w = crop.get_params(40, 50)
        assert 0 <= top and top + h <= 40 and 0 <= left and left + w <= 50
        # The rounding of w and h moves area and ratio slightly off their draws.
        assert 0.3 * 2000 * 0.85 <= h * w <= 0.9 * 2000 * 1.15
        assert 0.5 * 0.8 <= w / h <= 2.0 * 1.25
    image = np.random.default_rng(0).uniform(size=(3, 40, 50)).astype(np.float32)
    out = crop(image)
    assert out.shape == (3, 16, 16) and out.dtype == np.float32


def test_random_resized_crop_falls_back_to_the_centre_crop():
    # No crop of at least the whole area fits a 10 x 40 image at ratio <= 2 but the fallback: 20 x 10 centred.
    crop = T.RandomResizedCrop((4, 8), scale=(1.0, 1.0), ratio=(1.0, 2.0))
    assert crop.get_params(10, 40) == (0, 10, 10, 20)
    assert T.RandomResizedCrop(4, scale=(1.0, 1.0), ratio=(1.0, 1.0)).get_params(6, 6) == (0, 0, 6, 6)


def test_random_resized_crop_of_the_whole_image_is_a_resize():
    image = np.random.default_rng(0).uniform(size=(1, 12, 12)).astype(np.float32)
    crop = T.RandomResizedCrop(6, scale=(1.0, 1.0), ratio=(1.0, 1.0))
    np.testing.assert_array_equal(crop(image), T.Resize(6)(image))
