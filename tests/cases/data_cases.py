"""Batches that minitl.utils.data and torch.utils.data must make alike (tests/test_data_torch_path.py).

Each case builds its samples with `lib`, a namespace of the library's ``tensor`` and ``TensorDataset``
(minitl's or torch's), so the same lambda runs in both. ``describe`` turns a batch into a string of its
containers (with strings and numbers written out) and the list of its tensors as NumPy arrays, which
the test compares value for value and dtype for dtype (tests/golden/make_data_golden.py records torch's).
"""
import collections

import numpy as np

Pair = collections.namedtuple("Pair", "a b")

# default_collate on lists of samples: name -> lib -> samples
COLLATE_CASES = {
    "ints": lambda lib: [3, 1, 4],
    "floats": lambda lib: [1.5, 2.0],
    "bools": lambda lib: [True, False],
    "numpy_scalars_float32": lambda lib: [np.float32(1), np.float32(2.5)],
    "numpy_scalars_int32": lambda lib: [np.int32(1), np.int32(2)],
    "numpy_0d_arrays": lambda lib: [np.array(3), np.array(4)],
    "image_and_int_label": lambda lib: [(np.full((1, 2, 2), i, np.float32), i) for i in range(3)],
    "float64_rows_and_list": lambda lib: [[np.arange(3.0) + i, i % 2] for i in range(2)],
    "dict_nested": lambda lib: [{"x": np.zeros(2) + i, "y": [i, (float(i), "s")]} for i in range(2)],
    "named_tuple": lambda lib: [Pair(i, float(i)) for i in range(3)],
    "strings_and_ints": lambda lib: [("a", 1), ("b", 2)],
    "tensors_and_0d_labels": lambda lib: [(lib.tensor([1.0, 2.0]) * i, lib.tensor(i)) for i in range(3)],
}

def rows_and_labels(lib, labels):
    """A TensorDataset of float32 rows (0, 1), (2, 3)... and int64 `labels`."""
    rows = np.arange(2 * len(labels), dtype=np.float32).reshape(-1, 2)
    return lib.TensorDataset(lib.tensor(rows), lib.tensor(labels))


# DataLoader without shuffling: name -> (lib -> dataset, keyword arguments)
LOADER_CASES = {
    "ndarray_rows": (lambda lib: np.arange(14).reshape(7, 2), {"batch_size": 3}),
    "ndarray_rows_drop_last": (lambda lib: np.arange(14.0).reshape(7, 2), {"batch_size": 3, "drop_last": True}),
    "list_of_dicts": (lambda lib: [{"image": np.ones((2, 2), np.float32) * i, "label": i} for i in range(5)],
                      {"batch_size": 2}),
    "tensor_dataset": (lambda lib: rows_and_labels(lib, [0, 1, 2, 0, 1]), {"batch_size": 2}),
    "tensor_dataset_batch_of_one": (lambda lib: rows_and_labels(lib, [2, 0, 1]), {"batch_size": 1}),
    "identity_collate": (lambda lib: [(i, "x") for i in range(5)], {"batch_size": 2, "collate_fn": lambda samples: samples}),
}

# random_split: name -> (len(dataset), lengths)
SPLIT_CASES = {
    "counts": (10, [7, 3]),
    "fractions_even": (10, [0.8, 0.2]),
    "fractions_with_remainder": (11, [0.5, 0.5]),
    "fractions_thirds": (10, [0.33, 0.33, 0.34]),
    "fractions_remainder_round_robin": (7, [0.25, 0.25, 0.25, 0.25]),
}


def describe(batch, tensor_type):
    """(structure, arrays): the batch's containers as a string, each tensor an 'T' in it and an array in `arrays`."""
    arrays = []

    def walk(x):
        if isinstance(x, tensor_type):
            arrays.append(np.asarray(x.numpy()))
            return "T"
        if isinstance(x, dict):
            return "{" + ", ".join(f"{key!r}: {walk(value)}" for key, value in x.items()) + "}"
        if isinstance(x, tuple) and hasattr(x, "_fields"):
            return f"{type(x).__name__}(" + ", ".join(walk(value) for value in x) + ")"
        if isinstance(x, (list, tuple)):
            inner = ", ".join(walk(value) for value in x)
            return f"[{inner}]" if isinstance(x, list) else f"({inner})"
        if isinstance(x, (str, int, float)):
            return repr(x)
        raise TypeError(f"describe: unexpected {type(x).__name__} in a batch")

    return walk(batch), arrays


def describe_loader(loader, tensor_type):
    """(structure, arrays) of one epoch of `loader`: its batches' structures joined by ' | '."""
    structures, arrays = [], []
    for batch in loader:
        structure, leaves = describe(batch, tensor_type)
        structures.append(structure)
        arrays.extend(leaves)
    return " | ".join(structures), arrays
