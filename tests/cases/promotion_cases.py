"""Mixed-dtype expressions written once for minitl and PyTorch (type promotion).

Each case is (name, fn, operands): `fn(lib, *tensors)` uses only what both
libraries spell the same way (`lib` has tensor, where, cat, stack and the
dtypes), and each operand is (values, dtype name). The golden script runs
them with torch; tests/test_promotion.py with minitl, live or against it.
"""
import numpy as np

F32 = ([1.5, -2.0, 3.0], "float32")
F64 = ([0.5, 4.0, -1.0], "float64")
I64 = ([1, 2, 3], "int64")
I64B = ([4, -5, 6], "int64")
MASK = ([True, False, True], "bool")
U8 = ([1, 200, 3], "uint8")
I8 = ([-1, 2, 100], "int8")
F64_0D = (2.5, "float64")
I64_0D = (7, "int64")

PROMOTION_CASES = [
    ("float32_times_float64", lambda lib, a, b: a * b, [F32, F64]),
    ("float32_times_int64", lambda lib, a, b: a * b, [F32, I64]),
    ("int64_times_bool", lambda lib, a, b: a * b, [I64, MASK]),
    ("uint8_times_int8", lambda lib, a, b: a * b, [U8, I8]),
    ("bool_plus_bool", lambda lib, a, b: a + b, [MASK, MASK]),
    ("bool_plus_python_int", lambda lib, a: a + 1, [MASK]),
    ("int64_true_division", lambda lib, a, b: a / b, [I64, I64B]),
    ("int64_divided_by_python_int", lambda lib, a: a / 2, [I64]),
    ("int64_times_python_float", lambda lib, a: a * 2.5, [I64]),
    ("float32_times_0dim_float64", lambda lib, a, b: a * b, [F32, F64_0D]),
    ("int64_times_0dim_float64", lambda lib, a, b: a * b, [I64, F64_0D]),
    ("float32_minus_0dim_int64", lambda lib, a, b: a - b, [F32, I64_0D]),
    ("python_float_minus_int64", lambda lib, a: 0.5 - a, [I64]),
    ("int64_squared", lambda lib, a: a ** 2, [I64]),
    ("int64_to_python_float_power", lambda lib, a: a ** 0.5, [I64]),
    ("python_int_to_int64_power", lambda lib, a: 2 ** a, [I64]),
    ("python_float_to_int64_power", lambda lib, a: 1.5 ** a, [I64]),
    ("float32_to_float64_power", lambda lib, a, b: a.abs() ** b, [F32, F64]),
    ("where_float32_float64", lambda lib, m, a, b: lib.where(m, a, b), [MASK, F32, F64]),
    ("where_int64_python_float", lambda lib, m, a: lib.where(m, a, 0.5), [MASK, I64]),
    ("where_int64_python_int", lambda lib, m, a: lib.where(m, a, 0), [MASK, I64]),
    ("cat_int64_float32", lambda lib, a, b: lib.cat([a, b]), [I64, F32]),
    ("cat_float32_float64", lambda lib, a, b: lib.cat([a, b]), [F32, F64]),
    ("stack_int64_float32", lambda lib, a, b: lib.stack([a, b]), [I64, F32]),
    ("less_float32_float64", lambda lib, a, b: a < b, [F32, F64]),
    ("int64_less_python_float", lambda lib, a: a < 2.5, [I64]),
    ("int64_equals_float32", lambda lib, a, b: a == b, [I64, F32]),
    ("exp_of_int64", lambda lib, a: a.exp(), [I64]),
    ("sum_of_bool", lambda lib, a: a.sum(), [MASK]),
    ("int64_matmul", lambda lib, a, b: a @ b, [I64, I64B]),
]

# Cases whose operands are float tensors that require grad: the gradient of
# each must come back with that operand's dtype.
GRADIENT_CASES = [
    ("float32_leaf_times_int64", lambda lib, w, k: w * k, [F32, I64]),
    ("float32_leaf_times_float64", lambda lib, w, v: w * v, [F32, F64]),
    ("float32_and_float64_leaves", lambda lib, w, v: (w * v + w / v - v ** w.abs()).exp(), [F32, F64]),
    ("where_float32_float64_leaves", lambda lib, m, w, v: lib.where(m, w, v) * v, [MASK, F32, F64]),
    ("cat_float32_float64_leaves", lambda lib, w, v: lib.cat([w, v]) * lib.cat([v, w]), [F32, F64]),
    ("float32_leaf_by_0dim_float64", lambda lib, w, s: (w * s) ** 2, [F32, F64_0D]),
]


def operand_arrays(operands):
    """Each operand as a NumPy array of its dtype."""
    return [np.array(values, dtype=dtype) for values, dtype in operands]
