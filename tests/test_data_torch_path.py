"""minitl.utils.data at torch.utils.data's path: collated batches, loaders and splits as PyTorch makes them.

The cases are in tests/cases/data_cases.py; golden values always (tests/golden/data.npz, made by
make_data_golden.py), live torch when importable.
"""
import pathlib
import sys
import types
import warnings

import numpy as np
import pytest

import minitl as tl
from minitl.utils.data import ConcatDataset, DataLoader, Dataset, Subset, TensorDataset, default_collate, random_split

from cases.data_cases import COLLATE_CASES, LOADER_CASES, SPLIT_CASES, describe, describe_loader

GOLDEN = np.load(pathlib.Path(__file__).parent / "golden" / "data.npz")
MINITL_LIB = types.SimpleNamespace(tensor=tl.tensor, TensorDataset=TensorDataset)


def golden(name):
    arrays = [GOLDEN[f"{name}/{i}"] for i in range(sum(key.startswith(f"{name}/") for key in GOLDEN.files) - 1)]
    return str(GOLDEN[f"{name}/structure"]), arrays


def reference():
    pytest.importorskip("torch")
    sys.path.insert(0, str(pathlib.Path(__file__).parent / "golden"))
    import make_data_golden
    return make_data_golden


def minitl_collate(name):
    return describe(default_collate(COLLATE_CASES[name](MINITL_LIB)), tl.Tensor)


def minitl_loader(name):
    make, kwargs = LOADER_CASES[name]
    return describe_loader(DataLoader(make(MINITL_LIB), **kwargs), tl.Tensor)


MINITL_RUN = {"collate": minitl_collate, "loader": minitl_loader}
BATCH_CASES = [("collate", name) for name in COLLATE_CASES] + [("loader", name) for name in LOADER_CASES]


def assert_same(actual, expected):
    (structure, arrays), (expected_structure, expected_arrays) = actual, expected
    assert structure == str(expected_structure)
    assert len(arrays) == len(expected_arrays)
    for array, wanted in zip(arrays, expected_arrays):
        assert array.dtype == wanted.dtype and array.shape == wanted.shape
        np.testing.assert_array_equal(array, wanted)


# -- batches and splits against torch --------------------------------------------------------------------
@pytest.mark.parametrize("kind, name", BATCH_CASES)
def test_batches_match_recorded_pytorch(kind, name):
    assert_same(MINITL_RUN[kind](name), golden(name))


@pytest.mark.torch
@pytest.mark.parametrize("kind, name", BATCH_CASES)
def test_batches_match_live_pytorch(kind, name):
    assert_same(MINITL_RUN[kind](name), getattr(reference(), f"torch_{kind}")(name))


def split_lengths(name):
    size, lengths = SPLIT_CASES[name]
    parts = random_split(range(size), lengths, generator=np.random.default_rng(0))
    members = sorted(int(i) for part in parts for i in part.indices)
    assert members == list(range(size))  # the splits cover the dataset, none twice
    return [len(part) for part in parts]


@pytest.mark.parametrize("name", SPLIT_CASES)
def test_random_split_lengths_match_recorded_pytorch(name):
    assert split_lengths(name) == GOLDEN[f"{name}/lengths"].tolist()


@pytest.mark.torch
@pytest.mark.parametrize("name", SPLIT_CASES)
def test_random_split_lengths_match_live_pytorch(name):
    assert split_lengths(name) == reference().torch_split(name)


# -- what the cases do not show ----------------------------------------------------------------------------
def test_tensor_dataset_rows_are_tensors_with_0d_labels():
    dataset = TensorDataset(np.arange(6, dtype=np.float32).reshape(3, 2), np.array([4, 5, 6]))
    image, label = dataset[1]
    assert isinstance(label, tl.Tensor) and label.shape == () and label.dtype == np.int64 and label.item() == 5
    assert image.dtype == np.float32 and image.numpy().tolist() == [2.0, 3.0]


def test_default_collate_refuses_what_torch_refuses():
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([[1, 2], [1]])
    with pytest.raises(TypeError, match="found <class 'object'>"):
        default_collate([object(), object()])
    with pytest.raises(TypeError, match="found <U1"):
        default_collate([np.array(["a"]), np.array(["b"])])


def test_random_split_generator_repeats_and_errors_name_the_sum():
    first = random_split(range(20), [0.5, 0.5], generator=np.random.default_rng(3))
    again = random_split(range(20), [0.5, 0.5], generator=np.random.default_rng(3))
    assert [list(p.indices) for p in first] == [list(p.indices) for p in again]
    tl.manual_seed(1)
    shared = random_split(range(20), [10, 10])
    tl.manual_seed(1)
    assert [list(p.indices) for p in shared] == [list(p.indices) for p in random_split(range(20), [10, 10])]
    seeded = types.SimpleNamespace(initial_seed=lambda: 42)  # the part of torch.Generator it reads
    assert [list(p.indices) for p in random_split(range(9), [3, 6], generator=seeded)] == \
           [list(p.indices) for p in random_split(range(9), [3, 6], generator=seeded)]
    with pytest.raises(ValueError, match=r"sum to 6, not to len\(dataset\) = 10"):
        random_split(range(10), [3, 3])
    with pytest.raises(TypeError, match="generator must be None"):
        random_split(range(10), [5, 5], generator=7)
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        random_split(range(1), [0.5, 0.5])


@pytest.mark.torch
def test_random_split_takes_a_torch_generator():
    torch = pytest.importorskip("torch")
    parts = random_split(range(10), [0.7, 0.3], generator=torch.Generator().manual_seed(42))
    again = random_split(range(10), [0.7, 0.3], generator=torch.Generator().manual_seed(42))
    assert [len(p) for p in parts] == [7, 3] and [list(p.indices) for p in parts] == [list(p.indices) for p in again]


def test_concat_dataset_indexes_across_its_parts():
    first, second = TensorDataset(np.arange(3)), TensorDataset(np.arange(10, 15))
    both = ConcatDataset([first, second])
    assert len(both) == 8 and both.cumulative_sizes == [3, 8]
    assert [int(both[i][0].item()) for i in range(8)] == [0, 1, 2, 10, 11, 12, 13, 14]
    assert both[-1][0].item() == 14 and (first + second)[3][0].item() == 10
    batches = [labels.numpy().tolist() for (labels,) in DataLoader(both, batch_size=3)]
    assert batches == [[0, 1, 2], [10, 11, 12], [13, 14]]
    with pytest.raises(IndexError, match="out of range"):
        both[8]
    with pytest.raises(ValueError, match="out of range"):
        both[-9]
    with pytest.raises(ValueError, match="at least one dataset"):
        ConcatDataset([])


def test_loader_generator_seed_and_shared_shuffles_repeat():
    dataset = list(range(30))
    orders = [[b.numpy().tolist() for b in DataLoader(dataset, 10, shuffle=True, generator=np.random.default_rng(4))]
              for _ in range(2)]
    assert orders[0] == orders[1] and sorted(sum(orders[0], [])) == dataset
    loader = DataLoader(dataset, 10, shuffle=True, generator=types.SimpleNamespace(initial_seed=lambda: 4))
    epoch1, epoch2 = [[b.numpy().tolist() for b in loader] for _ in range(2)]
    assert epoch1 != epoch2  # one generator for the loader: each epoch draws a new order
    with pytest.raises(ValueError, match="a seed or a generator, not both"):
        DataLoader(dataset, 10, seed=1, generator=np.random.default_rng(1))


def test_num_workers_gives_the_batches_of_zero_and_negative_is_refused():
    dataset = TensorDataset(np.arange(10.0, dtype=np.float32), np.arange(10))
    plain = [[t.numpy().tolist() for t in batch] for batch in DataLoader(dataset, 4)]
    assert plain == [[t.numpy().tolist() for t in batch] for batch in DataLoader(dataset, 4, num_workers=2)]
    with pytest.raises(ValueError, match="num_workers option should be non-negative"):
        DataLoader(dataset, 4, num_workers=-1)


def test_fast_path_and_sample_by_sample_give_the_same_batch():
    """TensorDataset's __getitems__ and default_collate of its rows: same list, dtypes and values."""
    dataset = TensorDataset(np.arange(12, dtype=np.float32).reshape(6, 2), np.arange(6, dtype=np.int32))
    by_rows = ConcatDataset([dataset])  # no __getitems__: read row by row and collated
    for other in (by_rows, Subset(by_rows, range(6)), Subset(dataset, range(6))):
        for fast, slow in zip(DataLoader(dataset, 4), DataLoader(other, 4), strict=True):
            assert isinstance(fast, list) and isinstance(slow, list)
            for a, b in zip(fast, slow, strict=True):
                assert a.dtype == b.dtype and np.array_equal(a.numpy(), b.numpy())


def test_a_dataset_subclass_with_dict_samples_and_a_custom_collate():
    class Pairs(Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, index):
            return {"x": np.full(2, index, np.float32), "y": index}

    batch = next(iter(DataLoader(Pairs(), batch_size=5)))
    assert batch["x"].shape == (5, 2) and batch["y"].numpy().tolist() == [0, 1, 2, 3, 4]
    train, _ = random_split(Pairs(), [3, 2], generator=np.random.default_rng(0))  # Subsets of it: collated too
    batch = next(iter(DataLoader(train, batch_size=3)))
    assert batch["x"].shape == (3, 2) and sorted(batch["y"].numpy().tolist()) == sorted(train.indices.tolist())
    sums = [float(b) for b in DataLoader(Pairs(), batch_size=2, collate_fn=lambda s: sum(x["y"] for x in s))]
    assert sums == [1.0, 5.0, 4.0]


def test_from_minitl_utils_data_is_tl_utils_data():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tl.utils.data.DataLoader is DataLoader and tl.data.random_split is random_split
