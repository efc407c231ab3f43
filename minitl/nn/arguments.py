"""Checks at the functional boundary: what a layer or ``F.*`` function is given, refused with the fix.

Every function of ``minitl.nn.functional`` passes its tensor arguments
through ``tensor_argument`` before touching them, so a NumPy array or a list
gets one clear message instead of an error from deep inside an op; and the
layers with weights check that their input has the weight's floating dtype,
as PyTorch refuses a float64 or integer input to a float32 layer.
"""
from minitl.autograd import Tensor


def tensor_argument(value, function, name, optional=False):
    """`value` if it is a Tensor (or None when `optional`); otherwise a TypeError saying how to wrap it."""
    if isinstance(value, Tensor) or (optional and value is None):
        return value
    raise TypeError(f"{function}(): argument '{name}' must be a Tensor, not {type(value).__name__}; "
                    "wrap it with tl.tensor(...)")


def check_probability(p, what):
    """Refuse a drop probability outside [0, 1], as PyTorch's layers do (`what`: "dropout", "DropConnect"...)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{what} probability has to be between 0 and 1, but got {p}")


def check_input_dtype(x, weight, function):
    """Refuse an input whose dtype is not the weight's, naming both (PyTorch raises here too).

    An integer input (a uint8 image) would otherwise wrap around or be cast silently.
    """
    if x.dtype == weight.dtype:
        return
    if x.dtype.kind == "f":
        fix = f"cast the input with x.to({weight.dtype}) or the model with model.to({x.dtype})"
    else:
        fix = f"convert it with x.to({weight.dtype}) (an 8-bit image usually also by / 255)"
    raise RuntimeError(f"{function}(): input type ({x.dtype}) and weight type ({weight.dtype}) should be "
                       f"the same; {fix}")
