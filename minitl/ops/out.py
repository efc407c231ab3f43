"""PyTorch's ``out=`` on the function forms: ``tl.add(a, b, out=t)`` writes the result into ``t`` and returns it.

As in PyTorch: ``out`` receives the result cast to its own dtype (never to a higher category: a float
result into an integer ``out`` is refused); an ``out`` of another shape is resized, with PyTorch's warning
when it held elements; and ``out=`` is refused when an input requires grad, since writing into a given
tensor cannot be recorded for backward.
"""
import functools
import warnings

from minitl import grad_mode
from minitl.autograd import Tensor
from minitl.ops.promotion import CATEGORY


def _tensors(args):
    for arg in args:
        if isinstance(arg, Tensor):
            yield arg
        elif isinstance(arg, (list, tuple)):  # cat and stack take a sequence of tensors
            yield from _tensors(arg)


def write_into(out, result, name):
    """`result` written into `out` (see the module docstring); returns `out`."""
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}(): argument 'out' must be a Tensor, not {type(out).__name__}")
    if CATEGORY[result.dtype.kind] > CATEGORY[out.dtype.kind]:
        raise RuntimeError(f"result type {result.dtype} can't be cast to the desired output type {out.dtype}")
    if out.shape == result.shape:
        out.data[...] = result.data  # in place: views of out see the result
    else:
        if out.data.size:
            warnings.warn(f"An output with one or more elements was resized since it had shape {list(out.shape)}, which "
                          f"does not match the required output shape {list(result.shape)}. This behavior is deprecated, "
                          "and in a future PyTorch release outputs will not be resized unless they have zero elements.",
                          UserWarning, stacklevel=3)
        out.data = result.data.astype(out.dtype, copy=True)
    out._version += 1
    return out


def with_out(function):
    """`function` taking PyTorch's keyword ``out=`` as well."""
    @functools.wraps(function)
    def function_with_out(*args, out=None, **kwargs):
        if out is None:
            return function(*args, **kwargs)
        if grad_mode.is_grad_enabled() and any(t.requires_grad for t in _tensors((*args, *kwargs.values()))):
            raise RuntimeError(f"{function.__name__}(): functions with out=... arguments don't support automatic "
                               "differentiation, but one of the arguments requires grad.")
        return write_into(out, function(*args, **kwargs), function.__name__)
    return function_with_out
