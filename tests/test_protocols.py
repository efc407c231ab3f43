"""Tensor as a Python number and as an array, PyTorch's way: bool, float, int, index, format, len, np.asarray.

Each expression runs on minitl here and, when torch is importable, on torch
too: both must give the same value, or both refuse (the same exception type).
"""
import numpy as np
import pytest

import minitl as tl


def contains_itself(t):
    return t in [t]  # Python checks identity before ==, so no ambiguous truth value is asked for


# Each case builds its tensors with `lib` (minitl or torch), so both libraries run the very same code.
CASES = {
    "bool_of_zero": lambda lib: bool(lib.tensor([0.0])),
    "bool_of_one_element": lambda lib: bool(lib.tensor([[2.0]])),
    "bool_of_two_elements": lambda lib: bool(lib.tensor([0.0, 0.0])),
    "bool_of_empty": lambda lib: bool(lib.tensor([])),
    "if_loss_below": lambda lib: "small" if lib.tensor(0.05) < 0.1 else "large",
    "float_of_one_element": lambda lib: float(lib.tensor([2.5])),
    "float_of_two_elements": lambda lib: float(lib.tensor([2.5, 1.0])),
    "int_truncates": lambda lib: int(lib.tensor([-2.7])),
    "index_with_integer_tensor": lambda lib: ["a", "b", "c"][lib.tensor(1)],
    "index_with_one_element_list": lambda lib: ["a", "b", "c"][lib.tensor([2])],
    "index_with_float_tensor": lambda lib: ["a", "b", "c"][lib.tensor(1.0)],
    "range_of_tensor": lambda lib: list(range(lib.tensor(3))),
    "format_0dim": lambda lib: f"{lib.tensor(1.23456):.2f}",
    "format_0dim_plain": lambda lib: f"{lib.tensor(1.5)}",
    "format_1d_with_spec": lambda lib: f"{lib.tensor([1.5]):.2f}",
    "max_of_two_tensors": lambda lib: float(max(lib.tensor(1.0), lib.tensor(3.0))),
    "sorted_tensors": lambda lib: [float(t) for t in sorted([lib.tensor(3.0), lib.tensor(-1.0), lib.tensor(2.0)])],
    "len_of_0dim": lambda lib: len(lib.tensor(1.0)),
    "iterate_rows": lambda lib: [float(row.sum()) for row in lib.tensor([[1.0, 2.0], [3.0, 4.0]])],
    "asarray_values": lambda lib: np.asarray(lib.tensor([1.0, 2.0])).tolist(),
    "asarray_dtype": lambda lib: str(np.asarray(lib.tensor([1.0, 2.0])).dtype),
    "asarray_cast": lambda lib: str(np.asarray(lib.tensor([1.0, 2.0]), dtype=np.float64).dtype),
    "asarray_requires_grad": lambda lib: np.asarray(lib.tensor([1.0], requires_grad=True)),
    "in_list_by_identity": lambda lib: contains_itself(lib.tensor([1.0, 2.0])),
}


def outcome(fn, lib):
    """The value, or the exception type's name when `fn` raises."""
    try:
        return fn(lib)
    except (RuntimeError, TypeError, ValueError) as err:
        return type(err).__name__


EXPECTED = {  # what torch 2.13 gives, for runs without torch
    "bool_of_zero": False, "bool_of_one_element": True, "bool_of_two_elements": "RuntimeError",
    "bool_of_empty": "RuntimeError", "if_loss_below": "small", "float_of_one_element": 2.5,
    "float_of_two_elements": "ValueError", "int_truncates": -2, "index_with_integer_tensor": "b",
    "index_with_one_element_list": "c", "index_with_float_tensor": "TypeError", "range_of_tensor": [0, 1, 2],
    "format_0dim": "1.23", "format_0dim_plain": "1.5", "format_1d_with_spec": "TypeError",
    "max_of_two_tensors": 3.0, "sorted_tensors": [-1.0, 2.0, 3.0], "len_of_0dim": "TypeError",
    "iterate_rows": [3.0, 7.0], "asarray_values": [1.0, 2.0], "asarray_dtype": "float32",
    "asarray_cast": "float64", "asarray_requires_grad": "RuntimeError",
    "in_list_by_identity": True,
}


@pytest.mark.parametrize("name", list(CASES))
def test_protocols_behave_as_recorded_from_pytorch(name):
    assert outcome(CASES[name], tl) == EXPECTED[name]


@pytest.mark.torch
@pytest.mark.parametrize("name", list(CASES))
def test_protocols_match_live_pytorch(name):
    torch = pytest.importorskip("torch")
    assert outcome(CASES[name], tl) == outcome(CASES[name], torch)


def test_ambiguous_truth_says_what_to_do():
    with pytest.raises(RuntimeError, match=r"more than one value is ambiguous \(shape \(2,\)\): use .any\(\) or .all"):
        bool(tl.tensor([1.0, 2.0]))


def test_asarray_of_a_tensor_that_requires_grad_says_detach():
    with pytest.raises(RuntimeError, match=r"detach\(\).numpy\(\)"):
        np.asarray(tl.tensor([1.0], requires_grad=True))
