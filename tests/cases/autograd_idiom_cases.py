"""Autograd idioms a student brings from PyTorch, each written once for either library (`lib` is minitl or torch).

Item assignment, tensor hooks, module hooks and PyTorch-style custom Functions. Each case returns a list of
NumPy arrays: tests/test_idioms_autograd.py compares minitl's with torch's, live when torch imports and
otherwise with tests/golden/autograd_idioms.npz (written by tests/golden/make_autograd_idioms_golden.py).
"""
import numpy as np


def _t(lib, values, grad=False):
    return lib.tensor(np.asarray(values, dtype=np.float64).tolist(), dtype=lib.float64, requires_grad=grad)


def _out(*tensors):
    return [np.asarray(t.detach().numpy(), dtype=np.float64) for t in tensors]


# -- x[index] = v ------------------------------------------------------------------------------
def setitem_every_index_kind(lib):
    """ints, slices, a boolean mask and an index tensor, on a graph tensor: gradients reach x and v."""
    x = _t(lib, [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], grad=True)
    v = _t(lib, [5.0, 6.0, 7.0], grad=True)
    y = x * 3
    y[0] = v
    y[:, 1] = 0
    y[y > 6] = -1
    y[lib.tensor([1])] = y[lib.tensor([1])] * 2
    y[1, 2] = v[0] * v[1]
    (y * _t(lib, [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])).sum().backward()
    return _out(y, x.grad, v.grad)


def setitem_outside_a_graph(lib):
    """A plain tensor is written in place: numbers are cast to its dtype, a tensor value is broadcast."""
    counts = lib.zeros(5, dtype=lib.int64)
    counts[1] = 2.7
    counts[counts == 0] = 5
    grid = lib.zeros(3, 4)
    grid[1:, ::2] = lib.tensor([1.0, 2.0])
    grid[lib.tensor([0, 2]), lib.tensor([3, 1])] = 9.0
    return [counts.numpy().astype(np.float64), grid.numpy().astype(np.float64)]


def setitem_value_requires_grad(lib):
    """A plain tensor that takes a value with a graph joins the graph (a buffer filled row by row)."""
    w = _t(lib, [0.5, -1.0, 2.0], grad=True)
    rows = lib.zeros(3, 3, dtype=lib.float64)
    for i in range(3):
        rows[i] = w * (i + 1)
    (rows ** 2).sum().backward()
    return _out(rows, w.grad)


# -- Tensor.register_hook, retain_grad -------------------------------------------------------------
def tensor_hooks_change_the_gradient(lib):
    """Hooks run in registration order, each on the one before; retain_grad keeps the result; a leaf's
    hook changes what .grad accumulates; a removed hook is gone."""
    x = _t(lib, [1.0, -2.0, 3.0], grad=True)
    h = x * 2
    h.register_hook(lambda g: g * 10)
    h.register_hook(lambda g: g + 1)
    h.retain_grad()
    removed = x.register_hook(lambda g: g * 1000)
    x.register_hook(lambda g: g - 0.5)
    removed.remove()
    (h ** 2).sum().backward()
    return _out(h.grad, x.grad)


def tensor_hooks_see_every_gradient(lib):
    """A hook on a tensor used twice sees the total gradient, once; returning None leaves it alone."""
    seen = []
    x = _t(lib, [0.5, 1.5], grad=True)
    h = x.exp()
    h.register_hook(lambda g: seen.append(g.detach().numpy().copy()))
    (h * h + 3 * h).sum().backward()
    return [np.array(seen), *_out(x.grad)]


def tensor_hooks_under_create_graph(lib):
    """With create_graph, a hook's replacement is part of the recorded gradient (second derivatives)."""
    x = _t(lib, [0.3, -0.7], grad=True)
    y = x ** 3
    y.register_hook(lambda g: g * y)
    (gx,) = lib.autograd.grad(y.sum(), x, create_graph=True)
    (ggx,) = lib.autograd.grad(gx.sum(), x)
    return _out(gx, ggx)


# -- Module hooks --------------------------------------------------------------------------------------
def _mlp(lib):
    net = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.Tanh(), lib.nn.Linear(4, 2))
    with lib.no_grad():
        for p in net.parameters():
            p.copy_(lib.tensor(np.linspace(-1, 1, p.numel()).reshape(tuple(p.shape)).tolist()))
    return net


def module_hooks_record_activations_and_gradients(lib):
    """The optimizer-internals idiom: forward hooks record each layer's output, full backward hooks its
    grad_input and grad_output; a pre-hook may change the input, a backward hook replace grad_input."""
    net = _mlp(lib)
    record = []
    handles = []
    for layer in net:
        handles.append(layer.register_forward_hook(lambda m, args, out: record.append(out.detach().numpy())))
        handles.append(layer.register_full_backward_hook(lambda m, grad_in, grad_out: record.extend(
            [g.detach().numpy() for g in grad_out] + [g.detach().numpy() for g in grad_in if g is not None])))
    handles.append(net[1].register_forward_pre_hook(lambda m, args: (args[0] * 2,)))
    handles.append(net[2].register_full_backward_hook(lambda m, grad_in, grad_out: (grad_in[0] * 0.5,)))
    x = lib.tensor(np.linspace(-1, 1, 6).reshape(2, 3).tolist())
    net(x).pow(2).sum().backward()
    first = [net[0].weight.grad.numpy().copy()]
    for handle in handles:
        handle.remove()
    net.zero_grad()
    net(x).pow(2).sum().backward()  # no hooks left: the plain gradient
    return [np.asarray(r, dtype=np.float64) for r in record + first + [net[0].weight.grad.numpy()]]


def backward_hook_with_an_input_that_requires_grad(lib):
    """grad_input of a module whose input requires grad (e.g. a later layer, or an input being optimized)."""
    net = _mlp(lib)
    seen = []
    net[0].register_full_backward_hook(lambda m, gi, go: seen.extend([gi[0].detach().numpy(), go[0].detach().numpy()]))
    x = lib.tensor(np.linspace(-1, 1, 6).reshape(2, 3).tolist(), requires_grad=True)
    net(x).sum().backward()
    return [np.asarray(s, dtype=np.float64) for s in seen] + [x.grad.numpy().astype(np.float64)]


# -- custom Functions in PyTorch's style ---------------------------------------------------------------
def ctx_function_first_and_second_order(lib):
    """forward(ctx, x, k) with a number argument; backward returns None for it; the formula is recorded
    under create_graph, so gradgrad works."""
    class ScaledCube(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            ctx.save_for_backward(x)
            ctx.k = k
            return x ** 3 * k

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * 3 * x ** 2 * ctx.k, None

    x = _t(lib, [1.0, -2.0, 0.5], grad=True)
    y = ScaledCube.apply(x, 2.0)
    (gx,) = lib.autograd.grad(y.sum(), x, create_graph=True)
    (ggx,) = lib.autograd.grad((gx * gx).sum(), x)
    return _out(y, gx, ggx)


def ctx_function_saving_its_output(lib):
    """Saving the output (exp) and two inputs, one of which needs no gradient (ctx.needs_input_grad)."""
    class ExpMul(lib.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            y = a.exp() * b
            ctx.save_for_backward(y, a, b)
            return y

        @staticmethod
        def backward(ctx, grad):
            y, a, b = ctx.saved_tensors
            ga = grad * y if ctx.needs_input_grad[0] else None
            gb = grad * a.exp() if ctx.needs_input_grad[1] else None
            return ga, gb

    a = _t(lib, [0.1, 0.2], grad=True)
    b = _t(lib, [3.0, -1.0])
    y = ExpMul.apply(a, b)
    (ga,) = lib.autograd.grad(y.sum(), a, create_graph=True)
    (gga,) = lib.autograd.grad(ga.sum(), a)
    return _out(y, ga, gga)


CASES = {f.__name__: f for f in (
    setitem_every_index_kind, setitem_outside_a_graph, setitem_value_requires_grad,
    tensor_hooks_change_the_gradient, tensor_hooks_see_every_gradient, tensor_hooks_under_create_graph,
    module_hooks_record_activations_and_gradients, backward_hook_with_an_input_that_requires_grad,
    ctx_function_first_and_second_order, ctx_function_saving_its_output)}
