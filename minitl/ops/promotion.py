"""PyTorch's type promotion: which dtype an operation on mixed operands computes in.

Categories are ordered bool < integer < floating. The result has the
highest category among the operands, and its dtype comes from the operands
of that category in the highest of three tiers:

1. tensors with dimensions, then 2. zero-dim tensors, then 3. Python numbers.

So a Python number or a 0-dim tensor never upcasts a tensor of its own
category (``float32_tensor * 0.5`` and ``float32_tensor * tl.tensor(2.0,
dtype=tl.float64)`` stay float32), but it does lift a lower category
(``int_tensor * 0.5`` is float32, the default float dtype). NumPy arrays
count as tensors (``t + ndarray`` works, as in PyTorch); lists do not.
"""
import numpy as np

from minitl import backend
from minitl.autograd import Tensor
from minitl.ops.conversion import cast

DEFAULT_FLOAT = np.dtype(np.float32)
CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2}


_BOOL, _INT64 = np.dtype(bool), np.dtype(np.int64)


def _number_dtype(value):
    """The dtype a Python (or NumPy) number has in the third tier."""
    if isinstance(value, (bool, np.bool_)):
        return _BOOL
    if isinstance(value, (int, np.integer)):
        return _INT64
    return DEFAULT_FLOAT


def result_dtype(*operands):
    """The dtype of an operation on `operands` (Tensors and Python numbers), by PyTorch's rules."""
    tiers = ([], [], [])
    for value in operands:
        if isinstance(value, Tensor):
            tiers[0 if value.ndim else 1].append(value.dtype)
        else:
            tiers[2].append(_number_dtype(value))
    category = max(CATEGORY[d.kind] for tier in tiers for d in tier)
    for tier in tiers:
        same_category = [d for d in tier if CATEGORY[d.kind] == category]
        if same_category:
            return np.result_type(*same_category)


def _operand(value, op_name):
    """A Tensor or a number as it is; a NumPy/CuPy array as a Tensor; anything else refused."""
    if isinstance(value, (Tensor, bool, int, float, np.number, np.bool_)):
        return value
    if backend.is_array(value):
        return Tensor(value)
    raise TypeError(f"{op_name}: cannot use a {type(value).__name__} as an operand: wrap it with tl.tensor(...)")


def _shared_dtype(operands):
    """The common case without the tiers: tensors of one dtype, numbers of no higher category. Else None."""
    dtype, number_category = None, 0
    for v in operands:
        if isinstance(v, Tensor):
            if dtype is None:
                dtype = v.data.dtype
            elif v.data.dtype != dtype:
                return None
        else:
            number_category = max(number_category, CATEGORY[_number_dtype(v).kind])
    return dtype if CATEGORY[dtype.kind] >= number_category else None


def promote(op_name, *operands, floating=False):
    """The operands as tensors of their common dtype (numbers become constants, tensors are cast differentiably).

    ``floating=True`` lifts an integer or bool result to the default float
    dtype (true division: ``int / int`` is float32, as in PyTorch).
    """
    operands = [v if isinstance(v, Tensor) else _operand(v, op_name) for v in operands]
    dtype = _shared_dtype(operands) or result_dtype(*operands)
    if floating and dtype.kind != "f":
        dtype = DEFAULT_FLOAT
    xp = backend.get_array_module(*[v.data for v in operands if isinstance(v, Tensor)])
    return [(v if v.data.dtype == dtype else cast(v, dtype)) if isinstance(v, Tensor) else Tensor(xp.asarray(v, dtype=dtype))
            for v in operands]
