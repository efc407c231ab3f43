"""``torch.nn.utils``: gradient clipping (implemented in ``minitl.optim.clip``) and flattening parameters.

``parameters_to_vector`` / ``vector_to_parameters`` view a model as one point
x in R^n, the view the lecture's optimizers take: a line search, a finite
difference along a direction, or the distance between two trained models
is then arithmetic on vectors::

    x = parameters_to_vector(model.parameters())
    vector_to_parameters(x - 0.1 * d, model.parameters())   # move the model along d
"""
from minitl.autograd import Tensor, no_grad
from minitl.ops.shape import cat
from minitl.optim.clip import clip_grad_norm_, clip_grad_value_

__all__ = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector", "vector_to_parameters"]


def _checked(parameters, name):
    parameters = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    if not parameters:
        raise ValueError(f"{name}: got no parameters")
    devices = {p.device for p in parameters}
    if len(devices) > 1:
        raise TypeError(f"{name}: the parameters are on different devices ({sorted(map(str, devices))}); "
                        "move the model to one device first")
    return parameters


def parameters_to_vector(parameters):
    """The parameters' values as one 1-D tensor, in order (a new tensor, differentiable as torch's)."""
    return cat([p.reshape(-1) for p in _checked(parameters, "parameters_to_vector")])


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of the 1-D tensor `vec` into the parameters, in order (no gradient recorded).

    The values are written into each parameter's array, so optimizers and
    other references keep seeing the parameter; `vec` must have exactly as
    many elements as the parameters together.
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: expected a Tensor, got {type(vec).__name__}")
    if vec.ndim != 1:
        raise ValueError(f"vector_to_parameters: expected a 1-D tensor, got shape {vec.shape}")
    parameters = _checked(parameters, "vector_to_parameters")
    total = sum(p.numel() for p in parameters)
    if vec.shape[0] != total:
        raise ValueError(f"vector_to_parameters: the vector has {vec.shape[0]} elements, the parameters {total}")
    with no_grad():
        start = 0
        for p in parameters:
            p.data[...] = vec.data[start:start + p.numel()].reshape(p.shape)
            start += p.numel()
