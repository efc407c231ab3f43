"""A student's PyTorch tensor code runs unchanged: the idioms of tests/cases/tensor_idioms.py give torch's
values, dtypes, (values, indices) pairs and errors, compared with recorded values (tests/golden/
tensor_idioms.npz) and live with torch when it is installed; then what minitl adds or keeps on purpose."""
import pathlib

import numpy as np
import pytest

import minitl as tl

from cases.tensor_idioms import IDIOMS, SCORES, results

GOLDEN = np.load(pathlib.Path(__file__).parent / "golden" / "tensor_idioms.npz")


def assert_same_results(actual, expected):
    assert sorted(actual) == sorted(expected), "different results (or one raised: see 'raises')"
    for key, want in expected.items():
        got = actual[key]
        if want.dtype.kind == "f":
            assert got.dtype.kind == "f" and got.shape == want.shape, key
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=key)
        else:
            assert got.shape == want.shape and np.array_equal(got, want), f"{key}: {got} != {want}"


@pytest.mark.parametrize("name", list(IDIOMS))
def test_matches_recorded_pytorch(name):
    expected = {key.removeprefix(f"{name}/"): GOLDEN[key] for key in GOLDEN.files if key.startswith(f"{name}/")}
    assert_same_results(results(IDIOMS[name], tl), expected)


@pytest.mark.torch
@pytest.mark.parametrize("name", list(IDIOMS))
def test_matches_live_pytorch(name):
    torch = pytest.importorskip("torch")
    assert_same_results(results(IDIOMS[name], tl), results(IDIOMS[name], torch))


# -- what the comparisons above cannot see ------------------------------------------------------------
def test_max_with_dim_is_a_named_pair_that_unpacks():
    out = tl.tensor(SCORES)
    pair = out.max(1)
    values, indices = pair
    assert pair.values is values and pair.indices is indices and pair[1] is indices
    assert type(pair) is tl.return_types.max and "values=" in repr(pair)
    assert indices.dtype == tl.int64 and not indices.requires_grad
    with pytest.raises(TypeError, match="amax"):
        out.max(dim=(0, 1))  # several dimensions: amax, as torch says


def test_tensor_refuses_non_numeric_data_naming_it():
    with pytest.raises(ValueError, match=r"expected numbers .* got data of dtype <U5 \('hello'\)"):
        tl.tensor([["hello", "world"]])
    with pytest.raises(ValueError, match="dtype object"):
        tl.tensor([{"a": 1}])


def test_device_objects_are_also_the_strings_code_compares_with():
    x = tl.zeros(2)
    assert x.device == "cpu" and x.device == tl.device("cpu") and f"{x.device}" == "cpu"  # minitl keeps == 'cpu'
    assert {x.device: 1}["cpu"] == 1 and tl.device("cuda:0") == "cuda" and tl.device("cuda:0").index == 0
    with pytest.raises(ValueError, match="unknown device"):
        tl.device("tpu")


def test_a_generator_leaves_the_shared_stream_alone_and_repeats_itself():
    tl.manual_seed(5)
    expected = tl.rand(4)
    tl.manual_seed(5)
    g = tl.Generator().manual_seed(1)
    first = tl.randn(3, generator=g)
    assert tl.equal(tl.rand(4), expected)
    g.manual_seed(1)
    assert tl.equal(tl.randn(3, generator=g), first)
    assert tl.equal(tl.zeros(3).normal_(generator=g.manual_seed(1)), first)


def test_set_printoptions_changes_how_tensors_print_and_not_numpy():
    x = tl.tensor([1 / 3, 2 / 3])
    try:
        tl.set_printoptions(precision=2)
        assert repr(x) == "tensor([0.33, 0.67])" and repr(np.array([1 / 3])) == "array([0.33333333])"
        tl.set_printoptions(sci_mode=True)
        assert "3.33e-01" in repr(x)
        tl.set_printoptions(threshold=5, edgeitems=1, sci_mode=False)
        assert "..." in repr(tl.arange(10))
    finally:
        tl.printing.OPTIONS.clear()
    assert repr(x) == "tensor([0.33333334, 0.6666667 ])"
    with pytest.raises(ValueError, match="unknown profile"):
        tl.set_printoptions(profile="long")


def test_the_data_loader_keeps_the_arrays_dtypes_as_torchs_default_collate():
    from minitl.data import DataLoader, TensorDataset

    images, labels = np.zeros((4, 2)), np.arange(4)
    batch, targets = next(iter(DataLoader(TensorDataset(images, labels), batch_size=2)))
    assert batch.dtype == tl.float64 and targets.dtype == tl.int64


def test_mode_and_median_of_integers_keep_their_dtype_and_sort_is_stable_both_ways():
    x = tl.tensor([[3, 1, 3, 1, 2]])
    assert x.mode(1).values.dtype == tl.int64 and x.mode(1).values.tolist() == [1]
    assert x.sort(descending=True).indices.tolist() == [[0, 2, 4, 1, 3]]
    assert x.sort().indices.tolist() == [[1, 3, 4, 0, 2]]
    assert x.median().item() == 2
