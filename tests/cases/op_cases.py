"""Every differentiable op of the core, as small cases shared by the test files.

Each case is (name, fn, inputs): `fn` takes tensors, `inputs` is a list of
array makers taking a NumPy Generator, so the float64 gradient checks and the
float32/float64 dtype checks run over the same list. Inputs for log/sqrt/pow
are kept positive; max/min inputs have no ties (ties get their own tests).
"""
import numpy as np

import minitl as tl


def assigned(a, index, v):
    """``y[index] = v`` on y = a * 1, a graph tensor: item assignment as an op, with gradients to a and v."""
    y = a * 1
    y[index] = v
    return y


def normal(*shape):
    return lambda rng: rng.normal(size=shape)


def positive(*shape):
    return lambda rng: rng.uniform(0.5, 2.0, size=shape)


def distinct(*shape):
    """Values far apart from each other, so max/min have a unique winner."""
    return lambda rng: rng.permutation(np.prod(shape, dtype=int)).reshape(shape) * 0.1 + rng.uniform(0, 0.01, shape)


def away_from(*shape, points=(0.0,)):
    """Values at least 0.1 away from the kinks of relu/abs/clip."""
    def make(rng):
        x = rng.normal(size=shape)
        for p in points:
            x = np.where(np.abs(x - p) < 0.1, p + 0.2 * np.sign(x - p + 1e-12), x)
        return x
    return make


def augmented_assignment(a, b):
    """loss = 0; loss += term; loss *= factor: each records its operation, as in PyTorch."""
    total = 0
    total += a * b
    total *= b
    total -= a
    total /= 2.0
    return total


def with_zero(*shape):
    """Normal values with one exact zero (prod's gradient at a zero is the product of the others)."""
    def make(rng):
        x = rng.normal(size=shape)
        x.flat[1] = 0.0
        return x
    return make


def away_from_multiples(step, *shape):
    """Normal values at least 0.1 * step away from the multiples of step (where % and // jump)."""
    def make(rng):
        x = rng.normal(size=shape)
        nearest = np.round(x / step) * step
        return np.where(np.abs(x - nearest) < 0.1 * step, nearest + 0.3 * step, x)
    return make


INDEX_REPEATED = np.array([0, 2, 0, 1, 2, 2])
GATHER_INDEX = np.array([[0, 3], [2, 2], [1, 0]])  # (3, 2): along dim 1 of a (3, 4) input, a repeat in row 1
SCATTER_INDEX = np.array([[1, 0, 2, 0], [2, 1, 0, 1]])  # (2, 4): along dim 0 of a (3, 4) target, repeats
MASK = np.array([[True, False, True, True], [False, False, True, False], [True, True, False, True]])

OP_CASES = [
    ("add", lambda a, b: a + b, [normal(3, 4), normal(3, 4)]),
    ("add_broadcast", lambda a, b: a + b, [normal(2, 3, 4), normal(3, 1)]),
    ("add_scalar", lambda a: 2.5 + a + 1, [normal(3)]),
    ("sub_broadcast", lambda a, b: a - b, [normal(4, 1), normal(1, 5)]),
    ("rsub_scalar", lambda a: 3 - a, [normal(2, 2)]),
    ("mul_broadcast", lambda a, b: a * b, [normal(2, 3), normal(3)]),
    ("mul_scalar", lambda a: a * 3 * 0.5, [normal(5)]),
    ("div_broadcast", lambda a, b: a / b, [normal(3, 4), positive(4)]),
    ("rdiv_scalar", lambda a: 2 / a, [positive(3)]),
    ("pow_scalar", lambda a: a ** 3, [normal(3, 2)]),
    ("pow_fractional", lambda a: a ** 0.5, [positive(4)]),
    ("pow_tensor", lambda a, b: a ** b, [positive(3, 2), normal(2)]),
    ("rpow_scalar", lambda a: 2 ** a, [normal(3)]),
    ("pow_zero", lambda a: a ** 0, [normal(3)]),
    ("neg", lambda a: -a, [normal(3)]),
    ("matmul_2d", lambda a, b: a @ b, [normal(3, 4), normal(4, 2)]),
    ("matmul_batched_broadcast", lambda a, b: a @ b, [normal(2, 3, 4), normal(4, 5)]),
    ("matmul_matrix_vector", lambda a, b: a @ b, [normal(3, 4), normal(4)]),
    ("matmul_vector_matrix", lambda a, b: a @ b, [normal(4), normal(4, 3)]),
    ("matmul_vector_vector", lambda a, b: a @ b, [normal(4), normal(4)]),
    ("abs", lambda a: a.abs(), [away_from(3, 4)]),
    ("sin", lambda a: a.sin(), [normal(3, 4)]),
    ("cos", lambda a: tl.cos(a), [normal(3, 4)]),
    ("clone", lambda a: a.clone() * a, [normal(3)]),
    ("t", lambda a: a.t(), [normal(3, 4)]),
    ("pow_method", lambda a: a.pow(2), [normal(3)]),
    ("softmax_method", lambda a: a.softmax(dim=1) * a.log_softmax(-1), [normal(2, 3)]),
    ("in_place_add_records_the_sum", lambda a, b: (a * 1).add_(b, alpha=2), [normal(2, 3), normal(3)]),
    ("augmented_assignment", augmented_assignment, [normal(2, 3), normal(2, 3)]),
    ("exp", lambda a: a.exp(), [normal(3, 4)]),
    ("log", lambda a: a.log(), [positive(3, 4)]),
    ("log1p", lambda a: a.log1p(), [positive(3, 4)]),
    ("sqrt", lambda a: a.sqrt(), [positive(3, 4)]),
    ("tanh", lambda a: a.tanh(), [normal(3, 4)]),
    ("sigmoid", lambda a: a.sigmoid(), [normal(3, 4) ]),
    ("relu", lambda a: a.relu(), [away_from(3, 4)]),
    ("clip", lambda a: a.clip(-0.5, 0.7), [away_from(4, 5, points=(-0.5, 0.7))]),
    ("clip_min_only", lambda a: a.clip(min=0.1), [away_from(6, points=(0.1,))]),
    ("sum_all", lambda a: a.sum(), [normal(3, 4)]),
    ("sum_dim", lambda a: a.sum(dim=1), [normal(3, 4, 2)]),
    ("sum_negative_dim_keepdim", lambda a: a.sum(dim=-1, keepdim=True), [normal(3, 4)]),
    ("sum_dims_tuple", lambda a: a.sum(dim=(0, 2)), [normal(2, 3, 4)]),
    ("sum_numpy_spelling", lambda a: a.sum(axis=0, keepdims=True), [normal(2, 3)]),
    ("sum_empty_dims_is_all", lambda a: a.sum(dim=()), [normal(2, 3)]),
    ("sum_function", lambda a: tl.sum(a, dim=0) + tl.mean(a), [normal(2, 3)]),
    ("mean_all", lambda a: a.mean(), [normal(3, 4)]),
    ("mean_dim_keepdim", lambda a: a.mean(dim=0, keepdim=True), [normal(3, 4)]),
    ("max_all", lambda a: a.max(), [distinct(3, 4)]),
    ("max_dim", lambda a: a.max(dim=1).values, [distinct(3, 4)]),
    ("min_negative_dim_keepdim", lambda a: a.min(dim=-2, keepdim=True)[0], [distinct(2, 3, 4)]),
    ("amax_dims", lambda a: a.amax(dim=(0, 2)), [distinct(2, 3, 4)]),
    ("amin_keepdim", lambda a: a.amin(dim=1, keepdim=True), [distinct(3, 4)]),
    ("var_all", lambda a: a.var(), [normal(3, 4)]),
    ("var_dim_biased", lambda a: a.var(dim=1, unbiased=False), [normal(3, 4)]),
    ("var_dims_keepdim", lambda a: a.var(dim=(0, 2), keepdim=True), [normal(2, 3, 4)]),
    ("reshape", lambda a: a.reshape(4, -1), [normal(2, 3, 2)]),
    ("view_tuple", lambda a: a.view((3, 4)), [normal(12)]),
    ("flatten", lambda a: a.flatten(1), [normal(2, 3, 4)]),
    ("transpose", lambda a: a.transpose(0, 2), [normal(2, 3, 4)]),
    ("permute", lambda a: a.permute(2, 0, 1), [normal(2, 3, 4)]),
    ("T", lambda a: a.T, [normal(3, 4)]),
    ("unsqueeze_squeeze", lambda a: a.unsqueeze(-1).squeeze(1), [normal(3, 1, 2)]),
    ("expand", lambda a: a.expand(2, 3, -1), [normal(3, 1)]),
    ("index_int_slice", lambda a: a[1, 1:3], [normal(3, 4)]),
    ("index_negative_step_none", lambda a: a[::-2, None, -1], [normal(5, 4)]),
    ("index_ellipsis", lambda a: a[..., 0], [normal(2, 3, 4)]),
    ("index_int_array_repeated", lambda a: a[INDEX_REPEATED], [normal(3, 2)]),
    ("index_two_arrays", lambda a: a[INDEX_REPEATED, INDEX_REPEATED[::-1] % 2], [normal(3, 2)]),
    ("index_array_and_slice", lambda a: a[:, INDEX_REPEATED], [normal(2, 3)]),
    ("index_tensor", lambda a: a[tl.tensor(INDEX_REPEATED)], [normal(3)]),
    ("index_bool_mask", lambda a: a[MASK], [normal(3, 4)]),
    ("setitem_int_slice", lambda a, v: assigned(a, (slice(None), 1), v), [normal(3, 4), normal(3)]),
    ("setitem_mask_broadcast", lambda a, v: assigned(a, MASK, v), [normal(3, 4), normal(1)]),
    ("setitem_index_tensor", lambda a, v: assigned(a, tl.tensor([2, 0]), v), [normal(3, 2), normal(2)]),
    ("cat", lambda a, b: tl.cat([a, b, a], dim=1), [normal(2, 3), normal(2, 1)]),
    ("cat_negative_dim", lambda a, b: tl.cat([a, b], dim=-1), [normal(2, 3), normal(2, 2)]),
    ("stack", lambda a, b: tl.stack([a, b], dim=1), [normal(2, 3), normal(2, 3)]),
    ("where", lambda a, b: tl.where(MASK, a, b), [normal(3, 4), normal(4)]),
    ("where_scalar", lambda a: tl.where(MASK, a, 0.0), [normal(3, 4)]),
    ("pad", lambda a: tl.pad(a, (1, 2, 0, 1)), [normal(2, 3, 4)]),
    # selections by rank: the gradient goes to the chosen element
    ("sort_descending", lambda a: a.sort(dim=1, descending=True).values, [distinct(3, 4)]),
    ("topk", lambda a: a.topk(2, dim=0)[0], [distinct(4, 3)]),
    ("median_dim", lambda a: a.median(dim=1).values, [distinct(3, 5)]),
    ("median_all", lambda a: tl.median(a), [distinct(3, 4)]),
    ("mode", lambda a: a.mode(dim=1).values, [distinct(3, 4)]),
    ("max_elementwise", lambda a, b: tl.max(a, b) + tl.minimum(a, b) * 2, [normal(3, 4), normal(4)]),
    # gathering, scattering, selections by index or mask
    ("gather", lambda a: a.gather(1, tl.tensor(GATHER_INDEX)), [normal(3, 4)]),
    ("scatter_add", lambda a, b: a.scatter_add(0, tl.tensor(SCATTER_INDEX), b), [normal(3, 4), normal(2, 5)]),
    ("scatter", lambda a, b: a.scatter(1, tl.tensor(GATHER_INDEX[:, :1]), b), [normal(3, 4), normal(3, 2)]),
    ("index_select", lambda a: a.index_select(1, tl.tensor([3, 0, 3])), [normal(2, 4)]),
    ("masked_fill", lambda a: a.masked_fill(tl.tensor(MASK), -1.5), [normal(3, 4)]),
    ("diag_of_vector", lambda a: tl.diag(a, 1), [normal(3)]),
    ("diag_of_matrix", lambda a: a.diag(-1), [normal(4, 3)]),
    ("tril_triu", lambda a: a.tril() + 2 * tl.triu(a, 1), [normal(2, 3, 4)]),
    # reductions
    ("prod_dim", lambda a: a.prod(dim=1), [normal(3, 4)]),
    ("prod_with_a_zero", lambda a: a.prod(), [with_zero(2, 3)]),
    ("cumsum", lambda a: a.cumsum(dim=1), [normal(3, 4)]),
    ("logsumexp", lambda a: a.logsumexp(dim=1), [normal(3, 4)]),
    ("std_correction", lambda a: a.std(dim=0) + tl.std(a, correction=0), [normal(3, 4)]),
    ("norm_euclidean", lambda a: a.norm() + tl.linalg.norm(a, dim=1).sum(), [normal(3, 4)]),
    ("norm_p", lambda a: a.norm(p=3, dim=0) + a.norm(p=1, dim=1).sum(), [away_from(3, 4)]),
    # products
    ("mm", lambda a, b: tl.mm(a, b), [normal(3, 4), normal(4, 2)]),
    ("bmm", lambda a, b: a.bmm(b), [normal(2, 3, 4), normal(2, 4, 2)]),
    ("outer", lambda a, b: tl.outer(a, b), [normal(3), normal(4)]),
    ("einsum_matmul", lambda a, b: tl.einsum("bij,bjk->bik", a, b), [normal(2, 3, 4), normal(2, 4, 2)]),
    ("einsum_summed_letter", lambda a, b: tl.einsum("ij,k->ik", a, b), [normal(3, 4), normal(2)]),
    ("einsum_implicit_output", lambda a, b: tl.einsum("ij,jk", a, b), [normal(3, 4), normal(4, 2)]),
    # arithmetic methods and operators
    ("add_sub_alpha", lambda a, b: a.add(b, alpha=2).sub(b, alpha=0.5), [normal(3, 4), normal(4)]),
    ("mul_div_methods", lambda a, b: a.mul(b).div(b.abs() + 1), [normal(3, 4), normal(3, 4)]),
    ("remainder", lambda a: a % 0.7 + 2.5 % (a.abs() + 0.5), [away_from_multiples(0.7, 3, 4)]),
    ("floor_divide", lambda a: (a // 0.5) * a, [away_from_multiples(0.5, 3, 4)]),
    # shape
    ("split_chunk_unbind", lambda a: tl.cat([*a.split([1, 2], dim=1)[::-1], *a.chunk(3, dim=1)], 1)
     + tl.stack(a.unbind(1), 1).sum(), [normal(2, 3)]),
    ("repeat", lambda a: a.repeat(2, 1, 3), [normal(3, 2)]),
    ("as_methods", lambda a, b: a.expand_as(b) * b.view_as(b.T).T + a.type_as(b).contiguous(), [normal(1, 4),
                                                                                                    normal(3, 4)]),
    # in-place forms, recorded on graph tensors
    ("in_place_forms", lambda a, b: (a * 1).relu_().exp_().addcmul_(a, b, value=0.5).clamp_(-2, 3),
     [away_from(3, 4), normal(3, 4)]),
]


def make_inputs(case, dtype, seed=0):
    """The case's inputs as leaf tensors of `dtype` that require grad."""
    rng = np.random.default_rng(seed)
    return [tl.tensor(make(rng), dtype=dtype, requires_grad=True) for make in case[2]]
