"""PyTorch idioms a student types about tensors, as functions of the library (``torch`` or ``minitl``).

Each idiom takes the library as `lib` and returns what a student would look at: tensors, pairs, numbers,
dtypes. ``results(fn, lib)`` turns that into named NumPy arrays (a tensor's values and its dtype's name;
an exception's type name when the idiom raises), so tests/test_idioms_tensor.py compares minitl with torch
live and tests/golden/make_tensor_idioms_golden.py records torch's once.
"""
import numpy as np

SCORES = [[0.1, 2.0, -1.0], [3.0, 0.5, 0.2], [-0.3, -0.2, 4.0], [1.0, 1.5, 0.9], [2.2, 0.0, 2.1], [0.0, 0.3, 0.2]]
LABELS = [1, 0, 2, 1, 0, 1]
TIES = [[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 5.0, 2.0], [4.0, 4.0, 4.0, 4.0]]


def accuracy(lib):
    """The most common accuracy lines: values, idx = out.max(1); out.max(1)[1]; argmax; topk."""
    out, labels = lib.tensor(SCORES), lib.tensor(LABELS)
    values, idx = out.max(1)
    top2 = out.topk(2, dim=1).indices
    return [values, idx, out.max(1)[1], (out.max(1).indices == labels).float().mean(), out.argmax(dim=1),
            (out.argmax(1) == labels).sum().item(), top2, (top2 == labels.view(-1, 1)).any(dim=1).sum()]


def max_min_pairs(lib):
    x = lib.tensor(TIES)
    return [x.max(dim=1, keepdim=True), x.min(0), lib.max(x, 1), lib.min(x, dim=-1), lib.max(x), lib.min(x),
            lib.argmax(x, 1), lib.argmin(x), lib.max(x, lib.tensor(2.5)), x.amax(dim=(0, 1))]


def max_dim_gradient_goes_to_one_index(lib):
    x = lib.tensor(TIES, requires_grad=True)
    y = lib.tensor(TIES, requires_grad=True)
    (x.max(dim=1).values.sum() + y.min(dim=0)[0].sum()).backward()
    return [x.grad, y.grad]


def sort_topk_median_mode(lib):
    x = lib.tensor(TIES)
    return [x.sort(dim=1), x.sort(dim=1, descending=True, stable=True), x.argsort(dim=0), lib.sort(x[1]),
            lib.tensor(SCORES).topk(2), lib.tensor(SCORES).topk(3, dim=0, largest=False),
            x.median(), x.median(dim=1), lib.median(x, 0),
            x.mode(dim=1), lib.tensor([[2, 1, 2, 1], [3, 3, 1, 1]]).mode(1)]


def tensor_dtypes(lib):
    """tl.tensor keeps an array's dtype; Python numbers: float32, int64, bool."""
    return [lib.tensor(np.zeros(2)).dtype, lib.tensor(np.zeros(2, dtype=np.float32)).dtype, lib.tensor([1.5]).dtype,
            lib.tensor(np.arange(3, dtype=np.int32)).dtype, lib.tensor(np.float64(2.0)).dtype, lib.tensor(3).dtype,
            lib.tensor([True]).dtype, lib.tensor(np.zeros(2), dtype=lib.float32).dtype, lib.get_default_dtype(),
            lib.as_tensor(np.ones(2)).dtype, lib.from_numpy(np.ones(2)).dtype]


def non_numeric_data_is_refused(lib):
    return lib.tensor(["a", "b"])


def integer_ops(lib):
    """Ops on integer tensors give torch's dtypes, never float64."""
    i = lib.tensor([1, 2, 3, 4])
    b = lib.tensor([True, False, True, True])
    return [i / 2, i // 3, i % 3, i * 2.5, i + 1, i ** 2, i.sum(), i.prod(), i.cumsum(0), b.sum(), i.abs(),
            i.exp(), i.sqrt(), i.sigmoid(), i.max(), i.float().mean(), lib.tensor([1, 2], dtype=lib.int32) + 1,
            lib.tensor([1, 2], dtype=lib.int32).sum(), i.double().dtype, i.half().dtype, i.float().long().dtype,
            i.bool(), lib.maximum(i, lib.tensor(2)), i.clamp(2, 3), i.clamp(0.5, 2.5), i.logsumexp(0)]


def mean_of_integers_is_refused(lib):
    return lib.tensor([1, 2]).mean()


def softmax_of_integers_is_refused(lib):
    return lib.tensor([1, 2]).softmax(0)


def var_of_integers_is_refused(lib):
    return lib.tensor([1, 2]).var()


def integer_division_by_zero_is_refused(lib):
    return lib.tensor([1, 2]) // lib.tensor([1, 0])


def negative_integer_power_is_refused(lib):
    return lib.tensor([1, 2]) ** -1


def factories(lib):
    x = lib.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=lib.float64)
    g = lib.Generator().manual_seed(0)
    return [lib.empty(2, 3).shape, lib.zeros_like(x), lib.ones_like(x, dtype=lib.float32), lib.full_like(x, 7),
            lib.empty_like(x).dtype, lib.randn_like(x).dtype, lib.rand_like(x).shape, x.new_zeros(3), x.new_ones((1, 2)),
            x.new_full((2,), 3.5), x.new_tensor([1, 2]), lib.randperm(5, generator=g).sort().values,
            lib.is_tensor(x), lib.is_tensor([1]), lib.numel(x), x.numel(), lib.float16, lib.int32, lib.bool,
            lib.long, lib.float, lib.double, lib.half]


def conversions(lib):
    x = lib.tensor([1.7, -2.2, 0.0])
    return [x.long(), x.int(), x.float(), x.double(), x.half(), x.bool(), x.to(lib.int64), x.type_as(lib.tensor([1])),
            x.long().float()]


def functions_and_methods(lib):
    x = lib.tensor([[1.0, -2.0, 3.0], [-4.0, 5.0, -6.0]])
    v = lib.tensor([1.0, 2.0, 3.0])
    return [lib.abs(x), x.clamp(-3, 3), lib.clamp(x, min=0), x.flatten(), lib.mm(x, x.T), lib.bmm(x[None], x.T[None]),
            lib.einsum("ij,kj->ik", x, x), x.split(1), x.split([1, 2], dim=1), x.chunk(2, dim=1), x.unbind(1),
            x.norm(), x.norm(p=1, dim=1), lib.linalg.norm(x), lib.linalg.norm(v, ord=3), x.logsumexp(dim=1),
            lib.maximum(x, v), lib.minimum(x, v), lib.diag(v), lib.diag(x), lib.diag(v, -1), x.tril(), x.triu(1),
            lib.outer(v, v), x.cumsum(dim=1), x.prod(1), x.std(), x.std(dim=0, correction=0), x.std(unbiased=False),
            x.masked_fill(x < 0, 0.0), x.gather(1, lib.tensor([[2, 0], [1, 1]])),
            lib.zeros(3, 3).scatter(0, lib.tensor([[0, 1, 2]]), 1.0),
            lib.zeros(2, 3).scatter_add(1, lib.tensor([[0, 0, 2], [1, 1, 1]]), x), x.index_select(1, lib.tensor([2, 0])),
            x.repeat(2, 1), x.repeat(1, 2, 1), v.expand_as(x), v.view_as(lib.zeros(3, 1)), x.contiguous(),
            lib.isnan(lib.tensor([1.0, float("nan")])), lib.tensor([1.0, float("inf")]).isinf(),
            lib.isfinite(lib.tensor([float("-inf"), 0.0]))]


def comparison_and_arithmetic_methods(lib):
    a, b = lib.tensor([1.0, 2.0, 3.0]), lib.tensor([3.0, 2.0, 1.0])
    return [a.eq(b), a.ne(b), a.lt(b), a.le(b), a.gt(b), a.ge(2), lib.eq(a, b), lib.gt(a, 1), a.add(b, alpha=2),
            a.sub(b, alpha=0.5), lib.add(a, 1), lib.sub(a, b), a.mul(b), a.div(b), lib.mul(a, 2), lib.div(a, b),
            a.div(b, rounding_mode="floor"), a.div(-b, rounding_mode="trunc"), a.pow(2), lib.pow(a, b), a % 2, -a % 2,
            a // 2, 7 // b, 7 % b, lib.remainder(a, 2), lib.floor_divide(a, 2)]


def in_place_forms(lib):
    x = lib.tensor([-1.0, 0.5, 2.0])
    x.relu_()
    y = lib.tensor([0.0, 1.0]).exp_()
    z = lib.ones(3).addcmul_(lib.tensor([1.0, 2.0, 3.0]), lib.tensor([2.0, 2.0, 2.0]), value=0.5)
    w = lib.tensor([-5.0, 0.2, 5.0]).clamp_(-1, 1)
    g = lib.Generator().manual_seed(1)
    u = lib.empty(1000).uniform_(-2, 3, generator=g)
    n = lib.empty(1000, dtype=lib.float64).normal_(1.0, 0.5, generator=g)
    return [x, y, z, w, lib.tensor([1.0, 2.0]).zero_(), u.min() >= -2, u.max() < 3, abs(u.mean().item() - 0.5) < 0.2,
            abs(n.std().item() - 0.5) < 0.05, n.dtype]


def in_place_on_a_graph_tensor_records_it(lib):
    a = lib.tensor([-1.0, 0.5, 2.0], requires_grad=True)
    h = a * 2
    h.relu_()  # torch would refuse a second in-place op here (relu's backward needs its output)
    k = a * 1
    k.addcmul_(a, a, value=0.5)
    (h * 3 + k).sum().backward()
    return [h, k, a.grad]


def devices(lib):
    x = lib.zeros(2)
    return [str(x.device), x.device == lib.device("cpu"), x.is_cuda, lib.device("cpu").type,
            repr(lib.device("cpu")), repr(lib.device("cuda")), lib.zeros(1, device=x.device).device.type]


def generators(lib):
    """The same seed gives the same numbers, and a Generator leaves the shared stream alone."""
    g1, g2 = lib.Generator().manual_seed(3), lib.Generator().manual_seed(3)
    lib.manual_seed(0)
    first = lib.rand(3)
    lib.manual_seed(0)
    lib.randn(4, generator=g1)
    again = lib.rand(3)
    return [lib.equal(first, again), lib.equal(lib.randn(5, generator=g2)[:4], lib.randn(5, generator=g1)[:4]) is False,
            lib.randint(0, 10, (50,), generator=lib.Generator().manual_seed(2)).dtype, g1.initial_seed()]


IDIOMS = {fn.__name__: fn for fn in (
    accuracy, max_min_pairs, max_dim_gradient_goes_to_one_index, sort_topk_median_mode, tensor_dtypes,
    non_numeric_data_is_refused, integer_ops, mean_of_integers_is_refused, softmax_of_integers_is_refused,
    var_of_integers_is_refused,
    integer_division_by_zero_is_refused, negative_integer_power_is_refused, factories, conversions,
    functions_and_methods, comparison_and_arithmetic_methods, in_place_forms, in_place_on_a_graph_tensor_records_it,
    devices, generators,
)}


def _dtype_name(dtype):
    return str(dtype).removeprefix("torch.").replace("bool_", "bool")


def _flatten(value, key, out):
    """Named arrays for `value` under `key`: tensors as values plus dtype name, containers element by element."""
    if hasattr(value, "detach") and hasattr(value, "dtype"):
        out[f"{key}/values"] = np.asarray(value.detach().cpu().numpy())
        out[f"{key}/dtype"] = np.array(_dtype_name(value.dtype))
    elif isinstance(value, (list, tuple)):
        if hasattr(value, "indices"):  # torch.return_types.max and the others (structseqs, namedtuples in minitl)
            out[f"{key}/type"] = np.array(type(value).__name__)
        for i, item in enumerate(value):
            _flatten(item, f"{key}/{i}", out)
    elif isinstance(value, (bool, int, float, str)):
        out[key] = np.array(value)
    else:  # a dtype: torch.float32 or numpy's float32 (a class)
        out[key] = np.array(_dtype_name(np.dtype(value) if isinstance(value, type) else value))


def results(fn, lib):
    """The idiom's results as a dict of named NumPy arrays (or {'raises': the exception's type name})."""
    try:
        value = fn(lib)
    except Exception as error:  # the type of error is part of the parity
        return {"raises": np.array(type(error).__name__)}
    out = {}
    _flatten(value, "result", out)
    return out
