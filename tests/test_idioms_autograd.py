"""PyTorch's autograd idioms, unchanged: x[index] = v, tensor and module hooks, PyTorch-style custom Functions,
tl.testing.assert_close, state_dict as Tensors, and the warning on .grad of a non-leaf (issue 29).

The numeric cases (tests/cases/autograd_idiom_cases.py) run in minitl and are compared with torch's
results: recorded in tests/golden/autograd_idioms.npz, and live when torch is importable. The messages and
printed forms are PyTorch's, written out below and checked against torch live too.
"""
import pathlib
import sys
import warnings

import numpy as np
import pytest

import minitl as tl

from cases.autograd_idiom_cases import CASES

GOLDEN = np.load(pathlib.Path(__file__).parent / "golden" / "autograd_idioms.npz")


def results(case, lib):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a first layer's backward hook warns, in both libraries
        return case(lib)


def assert_same(got, expected):
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)  # some cases are float32


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_recorded_pytorch(name):
    count = sum(key.startswith(f"{name}/") for key in GOLDEN.files)
    assert_same(results(CASES[name], tl), [GOLDEN[f"{name}/{i}"] for i in range(count)])


@pytest.mark.torch
@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_live_pytorch(name):
    torch = pytest.importorskip("torch")
    assert_same(results(CASES[name], tl), results(CASES[name], torch))


def libraries():
    """minitl, and torch when it imports: the checks below hold for both."""
    try:
        import torch
    except ImportError:
        return [tl]
    return [tl, torch]


# -- x[index] = v ----------------------------------------------------------------------------------
@pytest.mark.parametrize("lib", libraries(), ids=lambda lib: lib.__name__)
def test_item_assignment_on_a_leaf_that_requires_grad_is_refused(lib):
    w = lib.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad is being used in an in-place operation"):
        w[0] = 2.0
    with lib.no_grad():
        w[0] = 2.0  # as an optimizer or an initialiser writes
    assert w.tolist() == [2.0, 1.0, 1.0] and w.is_leaf and w.requires_grad


@pytest.mark.parametrize("lib", libraries(), ids=lambda lib: lib.__name__)
def test_item_assignment_to_a_saved_tensor_is_caught_by_the_version_check(lib):
    w = lib.ones(3, requires_grad=True)
    c = lib.ones(3)
    y = (w * c).sum()  # Mul saved c for w's gradient
    c[0] = 5.0
    with pytest.raises(RuntimeError, match="modified by an inplace operation|modified by an in-place operation"):
        y.backward()


def test_item_assignment_outside_a_graph_writes_in_place():
    source = np.zeros(4, dtype=np.float32)
    t = tl.from_numpy(source)
    t[1:3] = 7
    t[tl.tensor([True, False, False, True])] = tl.tensor(1.5)
    assert source.tolist() == [1.5, 7, 7, 1.5] and t.data is source and t._version == 2


# -- tensor hooks and .grad --------------------------------------------------------------------------
NON_LEAF_WARNING = "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed"


@pytest.mark.parametrize("lib", libraries(), ids=lambda lib: lib.__name__)
def test_reading_grad_of_a_non_leaf_warns_unless_it_retains_it(lib):
    x = lib.ones(2, requires_grad=True)
    h, kept = x * 2, x * 3
    kept.retain_grad()
    (h + kept).sum().backward()
    with pytest.warns(UserWarning, match=NON_LEAF_WARNING):
        assert h.grad is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert kept.grad.tolist() == [1.0, 1.0] and x.grad.tolist() == [5.0, 5.0] and kept.retains_grad


@pytest.mark.parametrize("lib", libraries(), ids=lambda lib: lib.__name__)
def test_hook_errors_are_pytorchs(lib):
    with pytest.raises(RuntimeError, match="cannot register a hook on a tensor that doesn't require gradient"):
        lib.ones(2).register_hook(lambda g: g)
    x = lib.ones(3, requires_grad=True)

    def shorten(g):
        return g[:2]

    x.register_hook(shorten)
    with pytest.raises(RuntimeError, match="hook 'shorten' has changed the size of value"):
        (x * 2).sum().backward()


def test_a_handle_removes_only_its_own_hook_and_twice_is_harmless():
    x = tl.ones(2, requires_grad=True)
    h = x * 1
    seen = []
    first = h.register_hook(lambda g: seen.append("first"))
    with h.register_hook(lambda g: seen.append("second")):  # a handle is also a context manager
        pass
    first.remove()
    first.remove()
    h.register_hook(lambda g: seen.append("third"))
    h.sum().backward()
    assert seen == ["third"]


def test_a_graph_without_hooks_runs_no_hook_code():
    y = tl.ones(2, requires_grad=True) * 2
    assert y.grad_fn.tensor_hooks is None and y.grad_fn.retained_output is None and y._hooks is None


# -- module hooks ------------------------------------------------------------------------------------
def test_forward_hook_may_replace_the_output_and_handles_remove_each_kind():
    layer = tl.nn.Linear(2, 2)
    x = tl.ones(1, 2)
    plain = layer(x).detach().numpy()
    calls = []
    handles = [layer.register_forward_pre_hook(lambda m, args: calls.append("pre")),
               layer.register_forward_hook(lambda m, args, out: out * 0),
               layer.register_full_backward_hook(lambda m, gi, go: calls.append("backward"))]
    assert (layer(x).detach().numpy() == 0).all()
    with pytest.warns(UserWarning, match="Full backward hook is firing"):  # x needs no gradient, as in PyTorch
        layer(x).sum().backward()
    assert calls == ["pre", "pre", "backward"]
    for handle in handles:
        handle.remove()
    assert layer._forward_pre_hooks == layer._forward_hooks == layer._backward_hooks == {}
    np.testing.assert_array_equal(layer(x).detach().numpy(), plain)


def test_a_backward_hook_must_return_one_gradient_per_input():
    layer = tl.nn.Linear(2, 2)
    layer.register_full_backward_hook(lambda m, gi, go: (gi[0], gi[0]))
    with pytest.raises(RuntimeError, match="backward hook returned 2 gradients for 1 inputs of Linear"):
        layer(tl.ones(1, 2, requires_grad=True)).sum().backward()


# -- custom Functions in PyTorch's style, and torch's paths to the checks -------------------------------
class Cube(tl.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return 3 * x ** 2 * grad


def test_ctx_function_records_a_node_named_after_it_and_passes_the_checks():
    x = tl.tensor([0.5, -1.5], dtype=tl.float64, requires_grad=True)
    assert type(Cube.apply(x).grad_fn).__name__ == "Cube"
    assert tl.autograd.gradcheck(Cube.apply, (x,)) and tl.autograd.gradgradcheck(Cube.apply, (x,))
    assert tl.autograd.gradcheck is tl.gradcheck and tl.autograd.gradgradcheck is tl.gradgradcheck


def test_ctx_function_errors_name_the_class():
    class TooMany(tl.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            return x * k

        @staticmethod
        def backward(ctx, grad):
            return grad, grad, grad

    class KeepsANumber(tl.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(2.0)
            return x

    x = tl.ones(2, requires_grad=True)
    with pytest.raises(TypeError, match="TooMany.backward returned 3 gradients for 2 forward arguments"):
        TooMany.apply(x, 2.0).sum().backward()
    with pytest.raises(TypeError, match="save_for_backward can only save Tensors"):
        KeepsANumber.apply(x)


def test_minitl_style_functions_have_apply_too():
    class Double(tl.autograd.Function):
        def forward(self, x):
            return 2 * x

        def backward(self, gy):
            return 2 * gy

    x = tl.ones(2, requires_grad=True)
    Double.apply(x).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]


# -- tl.testing.assert_close ---------------------------------------------------------------------------
ASSERT_CLOSE_MESSAGES = [
    ([1.0, 2.0, 3.0], [1.0, 2.1, 3.0], None, "Tensor-likes are not close!\n\nMismatched elements: 1 / 3 (33.3%)\n"
     "Greatest absolute difference: 0.09999990463256836 at index (1,) (up to 1e-05 allowed)\n"
     "Greatest relative difference: 0.04761900380253792 at index (1,) (up to 1.3e-06 allowed)"),
    ([[1.0, 2.0], [3.0, 4.0]], [[1.0, 2.0], [3.0, 5.0]], None, "Greatest absolute difference: 1.0 at index (1, 1) "
     "(up to 1e-05 allowed)\nGreatest relative difference: 0.20000000298023224 at index (1, 1) (up to 1.3e-06 allowed)"),
    ([1, 2], [1, 3], "int64", "Tensor-likes are not equal!\n\nMismatched elements: 1 / 2 (50.0%)\n"
     "Greatest absolute difference: 1 at index (1,)\nGreatest relative difference: 0.3333333432674408 at index (1,)"),
]


@pytest.mark.parametrize("lib", libraries(), ids=lambda lib: lib.__name__)
@pytest.mark.parametrize("actual, expected, dtype, message", ASSERT_CLOSE_MESSAGES)
def test_assert_close_names_the_worst_element_as_pytorch_does(lib, actual, expected, dtype, message):
    dtype = None if dtype is None else getattr(lib, dtype)
    with pytest.raises(AssertionError) as info:
        lib.testing.assert_close(lib.tensor(actual, dtype=dtype), lib.tensor(expected, dtype=dtype))
    assert message in str(info.value)


@pytest.mark.parametrize("lib", libraries(), ids=lambda lib: lib.__name__)
def test_assert_close_uses_pytorchs_tolerances_per_dtype(lib):
    lib.testing.assert_close(lib.tensor([1.0]), lib.tensor([1.0 + 1e-5]))  # float32: atol 1e-5
    with pytest.raises(AssertionError):
        lib.testing.assert_close(lib.tensor([1.0], dtype=lib.float64), lib.tensor([1.0 + 1e-5], dtype=lib.float64))
    with pytest.raises(AssertionError, match="'dtype' do not match"):
        lib.testing.assert_close(lib.tensor([1.0]), lib.tensor([1.0], dtype=lib.float64))
    with pytest.raises(AssertionError, match="'shape' do not match"):
        lib.testing.assert_close(lib.tensor([1.0]), lib.tensor([1.0, 2.0]))
    lib.testing.assert_close(lib.tensor([float("nan")]), lib.tensor([float("nan")]), equal_nan=True)
    lib.testing.assert_close(lib.tensor([1.0]), lib.tensor([1.5]), rtol=0.0, atol=0.5)


# -- state_dict ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("lib", libraries(), ids=lambda lib: lib.__name__)
def test_state_dict_holds_detached_tensors_that_share_memory(lib):
    layer = lib.nn.Linear(2, 3)
    state = layer.state_dict()
    assert list(state) == ["weight", "bias"]
    assert all(not v.requires_grad and v.is_leaf for v in state.values())
    with lib.no_grad():
        layer.bias.add_(1)
    assert state["bias"].tolist() == layer.bias.tolist()


@pytest.mark.parametrize("lib", libraries(), ids=lambda lib: lib.__name__)
def test_load_state_dict_prints_its_result_as_pytorch_does(lib):
    layer = lib.nn.Linear(2, 3)
    assert repr(layer.load_state_dict(layer.state_dict())) == "<All keys matched successfully>"
    result = layer.load_state_dict({"weight": layer.weight.detach(), "extra": lib.ones(1)}, strict=False)
    assert repr(result) == "_IncompatibleKeys(missing_keys=['bias'], unexpected_keys=['extra'])"
    assert result.missing_keys == ["bias"] and result.unexpected_keys == ["extra"]


def test_saving_a_state_dict_of_tensors_writes_the_same_file_as_of_arrays(tmp_path):
    model = tl.nn.Sequential(tl.nn.Linear(3, 4), tl.nn.BatchNorm1d(4))
    tl.save(model.state_dict(), tmp_path / "tensors.npz")
    tl.save({k: v.numpy() for k, v in model.state_dict().items()}, tmp_path / "arrays.npz")
    assert (tmp_path / "tensors.npz").read_bytes() == (tmp_path / "arrays.npz").read_bytes()


def test_the_golden_script_is_registered():
    sys.path.insert(0, str(pathlib.Path(__file__).parent / "golden"))
    from regenerate import TESTS, scripts
    assert TESTS / "golden" / "make_autograd_idioms_golden.py" in scripts(TESTS)
