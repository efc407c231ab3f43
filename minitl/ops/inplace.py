"""In-place methods: add_, sub_, mul_, div_, fill_, copy_, zero_, += -= *= /=, ``x[index] = v``, the in-place
forms of elementwise functions (relu_, exp_, clamp_...), addcmul_/addcdiv_ and the random fills uniform_/normal_.

The rules follow PyTorch's:

- A leaf that requires grad (a parameter) refuses in-place changes while the
  graph is recorded: it is an input of the graph. Updates run under
  ``tl.no_grad()``, as every optimizer does.
- A tensor outside any graph is changed in place: its array is overwritten,
  so views and ``.numpy()`` arrays see the change. Its version goes up, and a
  backward() that needs the old values refuses to run instead of using the
  new ones.
- A tensor that is part of a graph (or an operand that requires grad, while
  recording) gets the recorded out-of-place result, which the tensor then
  stands for: ``loss += term`` records an addition, as in PyTorch. minitl
  gives such a tensor a new array rather than overwriting the old one (the
  old values may be saved for backward), so views of it do not see the
  change.

The tensor keeps its dtype: a result of a higher category is refused
(``int_tensor += 0.5``), except by ``copy_``, which casts as PyTorch's does.
"""
from minitl import backend, grad_mode, random
from minitl.autograd import Tensor
from minitl.ops import arithmetic, elementwise
from minitl.ops.conversion import to
from minitl.ops.promotion import CATEGORY
from minitl.ops.shape import SetItem, backend_index, expand


def _in_place(x, name, operation, operand, keep_category=True, write=None):
    """Make x stand for operation(x, operand), by the rules in the module docstring; return x.

    Outside a graph, `write(x_array, operand)` (when given) changes x's array in place directly, instead of
    computing the whole result and copying it in (``x[i] = v`` writes one element, not all of x).
    """
    recording = grad_mode.is_grad_enabled()
    if recording and x.requires_grad and x.is_leaf:
        raise RuntimeError(f"a leaf Variable that requires grad is being used in an in-place operation ({name}): "
                           f"do it inside `with tl.no_grad():`, as optimizers do")
    operand_requires_grad = isinstance(operand, Tensor) and operand.requires_grad
    if recording and (x.requires_grad or operand_requires_grad):
        before = Tensor(x.data, requires_grad=x.requires_grad)
        before.grad_fn, before._generation = x.grad_fn, x._generation
        result = _checked(x, name, operation(before, operand), keep_category)
        result = to(result, dtype=x.dtype)
        x.data, x.grad_fn, x.requires_grad, x._generation = (result.data, result.grad_fn, result.requires_grad,
                                                            result._generation)
        return x
    if write is not None:
        write(x.data, operand)
    else:
        with grad_mode.no_grad():
            result = _checked(x, name, operation(x, operand), keep_category)
        x.data[...] = result.data
    x._version += 1
    return x


def _checked(x, name, result, keep_category):
    if result.shape != x.shape:
        raise RuntimeError(f"{name}: output with shape {x.shape} doesn't match the broadcast shape {result.shape}")
    if keep_category and CATEGORY[result.dtype.kind] > CATEGORY[x.dtype.kind]:
        raise RuntimeError(f"{name}: result type {result.dtype} can't be cast to the desired output type {x.dtype}")
    return result


def add_(x, other, alpha=1):
    """x += alpha * other."""
    return _in_place(x, "add_", lambda a, b: arithmetic.add(a, b, alpha=alpha), other)


def sub_(x, other, alpha=1):
    """x -= alpha * other."""
    return _in_place(x, "sub_", lambda a, b: arithmetic.sub(a, b, alpha=alpha), other)


def mul_(x, other):
    return _in_place(x, "mul_", arithmetic.mul, other)


def div_(x, other):
    return _in_place(x, "div_", arithmetic.div, other)


def copy_(x, src):
    """x's values replaced by src's, broadcast to x's shape and cast to x's dtype and device."""
    if backend.is_array(src):
        src = Tensor(src)
    if not isinstance(src, Tensor):
        raise TypeError(f"copy_() needs a Tensor, got a {type(src).__name__}: wrap it with tl.tensor(...)")
    return _in_place(x, "copy_", lambda a, b: expand(to(b, a.device, a.dtype), a.shape), src, keep_category=False)


def fill_(x, value):
    """Every element set to the number `value` (a one-element tensor is read as its number)."""
    value = value.item() if isinstance(value, Tensor) else value
    xp = backend.get_array_module(x.data)
    return _in_place(x, "fill_", lambda a, v: Tensor(xp.full(a.shape, v, dtype=a.dtype)), value,
                     keep_category=False)


def zero_(x):
    """Every element set to 0 (``p.grad.zero_()``, buffers)."""
    return fill_(x, 0)


def _unary(name, function):
    """The in-place form of an elementwise function: ``x.relu_()`` makes x stand for ``x.relu()``."""
    def in_place(x):
        return _in_place(x, name, lambda a, _: function(a), None)
    in_place.__name__ = name
    in_place.__doc__ = f"x = x.{name[:-1]}() in place."
    return in_place


relu_ = _unary("relu_", elementwise.relu)
exp_ = _unary("exp_", elementwise.exp)
log_ = _unary("log_", elementwise.log)
sqrt_ = _unary("sqrt_", elementwise.sqrt)
sigmoid_ = _unary("sigmoid_", elementwise.sigmoid)
tanh_ = _unary("tanh_", elementwise.tanh)
abs_ = _unary("abs_", elementwise.abs_)
neg_ = _unary("neg_", arithmetic.neg)


def clamp_(x, min=None, max=None):
    """x = x.clamp(min, max) in place."""
    return _in_place(x, "clamp_", lambda a, _: elementwise.clip(a, min, max), None)


def pow_(x, exponent):
    return _in_place(x, "pow_", arithmetic.pow, exponent)


def addcmul_(x, tensor1, tensor2, value=1):
    """x += value * tensor1 * tensor2 (Adam's second moment: ``v.mul_(b2).addcmul_(g, g, value=1 - b2)``)."""
    return _in_place(x, "addcmul_", lambda a, b: arithmetic.add(a, b, alpha=value), arithmetic.mul(tensor1, tensor2))


def addcdiv_(x, tensor1, tensor2, value=1):
    """x += value * tensor1 / tensor2."""
    return _in_place(x, "addcdiv_", lambda a, b: arithmetic.add(a, b, alpha=value), arithmetic.div(tensor1, tensor2))


def _drawn(x, name, draw):
    """x filled with new random values (the array drawn by `draw(shape, dtype, device)`)."""
    return _in_place(x, name, lambda a, _: Tensor(draw(a.shape, a.dtype, a.device)), None, keep_category=False)


def uniform_(x, a=0.0, b=1.0, *, generator=None):
    """x filled with samples from U[a, b)."""
    return _drawn(x, "uniform_", lambda shape, dtype, device: random.uniform(shape, a, b, dtype, device, generator))


def normal_(x, mean=0.0, std=1.0, *, generator=None):
    """x filled with samples from N(mean, std**2)."""
    return _drawn(x, "normal_", lambda shape, dtype, device: random.normal(shape, mean, std, dtype, device,
                                                                            generator))


def setitem(x, index, value):
    """``x[index] = value``: ints, slices, boolean masks or index tensors; value a number or a Tensor,
    broadcast to the indexed shape and cast to x's dtype. In a graph, both x and value get gradients."""
    index = backend_index(x, index)
    xp = backend.get_array_module(x.data)
    if not isinstance(value, Tensor):
        value = Tensor(xp.asarray(value, dtype=x.dtype))  # a number, a list or an array: a constant
    elif value.device != x.device:
        raise RuntimeError(f"x[index] = value: value is on {value.device}, x on {x.device}; move it with .to()")

    def write(array, v):
        array[index] = v.data

    return _in_place(x, "x[index] = value", lambda a, v: SetItem(index)(a, v), value, keep_category=False,
                     write=write)
