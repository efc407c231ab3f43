"""demos/common.py, the helpers the demos share: the MNIST splits every MNIST demo trains and tests on."""
import importlib.util
import pathlib

import numpy as np
import pytest

import local_files


def load_common():
    path = pathlib.Path(__file__).resolve().parents[1] / "demos" / "common.py"
    spec = importlib.util.spec_from_file_location("demos_common", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_splits_are_disjoint_fixed_and_of_the_asked_sizes():
    common = load_common()
    train, val, test = common.split_indices(10_000, (1000, 2000, 7000))
    assert (len(train), len(val), len(test)) == (1000, 2000, 7000)
    assert len(np.unique(np.concatenate([train, val, test]))) == 10_000
    np.testing.assert_array_equal(common.split_indices(10_000, (1000, 2000, 7000))[0], train)
    with pytest.raises(ValueError, match="need 10001 images, there are 10000"):
        common.split_indices(10_000, (1000, 2000, 7001))


@local_files.needs_mnist
def test_mnist_test_scales_shapes_and_splits_the_same_images():
    common = load_common()
    images, labels = common.mnist_test()
    assert images.shape == (10_000, 1, 28, 28) and images.dtype == np.float32 and images.max() == 1.0
    raw = common.mnist_test((600, 200, 200), shape=(784,), scale=1)
    chosen = common.split_indices(10_000, (600, 200, 200))
    for (name, (part, part_labels)), indices in zip(raw.items(), chosen):
        assert name in ("train", "val", "test") and part.shape == (len(indices), 784) and part.max() == 255
        np.testing.assert_array_equal(part / 255, images[indices].reshape(len(indices), -1))
        np.testing.assert_array_equal(part_labels, labels[indices])


def test_the_spread_over_seeds_is_the_sample_std():
    common = load_common()
    assert common.sample_std([1.0, 2.0, 6.0]) == pytest.approx(np.sqrt(((1 - 3) ** 2 + (2 - 3) ** 2 + 3 ** 2) / 2))
    assert np.isnan(common.sample_std([0.5]))  # one seed says nothing about the spread
    assert common.mean_std([0.1, 0.2, 0.6], scale=100) == "30.0 +- 26.5"
