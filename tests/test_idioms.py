"""The PyTorch idioms a student types first: tensor methods, functions, grad modes, in-place rules, to()."""
import ast
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import minitl as tl


# -- in-place operations -------------------------------------------------------------------------
def test_a_leaf_that_requires_grad_refuses_in_place_ops_with_torchs_message():
    w = tl.tensor([1.0, 2.0], requires_grad=True)
    for change in (lambda: w.add_(1), lambda: w.mul_(2), lambda: w.fill_(0), lambda: w.zero_(),
                   lambda: w.copy_(tl.ones(2))):
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
            change()
    with pytest.raises(RuntimeError, match="leaf Variable"):
        w += 1
    assert w.detach().numpy().tolist() == [1, 2]  # unchanged


def test_in_place_under_no_grad_changes_the_array_itself():
    w = tl.tensor([1.0, 2.0], requires_grad=True)
    array = w.data
    with tl.no_grad():
        w.add_(tl.tensor([1.0, 1.0]), alpha=0.5)
        w -= 1
        w *= 2
        w /= 4
    assert w.data is array and w.is_leaf and w.requires_grad
    np.testing.assert_allclose(w.detach().numpy(), [0.25, 0.75])


def test_plain_tensors_change_in_place_and_views_see_it():
    source = np.zeros(3, dtype=np.float32)
    t = tl.from_numpy(source)
    t.add_(1).mul_(3)
    t[1:].detach()  # indexing works after in-place changes
    assert source.tolist() == [3, 3, 3]
    t.fill_(7)
    assert source.tolist() == [7, 7, 7]
    t.copy_(tl.tensor([1, 2, 3]))  # copy_ casts, as in PyTorch
    assert source.tolist() == [1, 2, 3] and t.dtype == tl.float32
    t.zero_()
    assert source.tolist() == [0, 0, 0]


def test_in_place_keeps_the_dtype_and_refuses_a_higher_category():
    counts = tl.tensor([1, 2])
    counts += 1
    assert counts.dtype == tl.int64 and counts.tolist() == [2, 3]
    with pytest.raises(RuntimeError, match="result type float32 can't be cast to the desired output type int64"):
        counts += 0.5
    with pytest.raises(RuntimeError, match=r"output with shape \(2,\) doesn't match the broadcast shape \(2, 2\)"):
        counts.add_(tl.ones(2, 2, dtype=tl.int64))


def test_in_place_on_a_graph_tensor_records_the_operation():
    x = tl.tensor([1.0, 2.0], requires_grad=True)
    loss = 0
    for k in (1.0, 2.0):
        loss += (x * k).sum()  # the first += rebinds (0 + tensor), the second is Tensor.__iadd__
    h = x * 3
    h.mul_(x)  # h = 3 x**2
    (loss + h.sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), [3 + 6 * 1.0, 3 + 6 * 2.0])


def test_backward_refuses_values_changed_in_place_after_use():
    x = tl.tensor([1.0, 2.0], requires_grad=True)
    c = tl.tensor([3.0, 4.0])
    y = (x * c).sum()
    c.add_(1)  # Mul saved c for backward
    with pytest.raises(RuntimeError, match=r"modified by an in-place operation: input 1 of Mul .* at version 1, "
                                           r"expected 0"):
        y.backward()


@pytest.mark.torch
def test_in_place_rules_match_live_pytorch():
    torch = pytest.importorskip("torch")
    for lib in (torch, tl):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        h = x * 3
        h += x
        h *= x
        h.sum().backward()
        if lib is torch:
            expected = x.grad.numpy()
    np.testing.assert_allclose(x.grad.numpy(), expected)


# -- tensor methods and functions ----------------------------------------------------------------
def test_methods_match_live_pytorch_or_recorded_values():
    m = [[1.0, -2.0, 3.0], [0.0, 5.0, -6.0]]
    cases = {
        "t": (lambda lib: lib.tensor(m).t().tolist(), [[1.0, 0.0], [-2.0, 5.0], [3.0, -6.0]]),
        "pow": (lambda lib: lib.tensor([2.0, 3.0]).pow(2).tolist(), [4.0, 9.0]),
        "long": (lambda lib: str(lib.tensor([1.7, -1.7]).long().dtype)[-5:], "int64"),
        "long_values": (lambda lib: lib.tensor([1.7, -1.7]).long().tolist(), [1, -1]),
        "int": (lambda lib: str(lib.tensor([1.7]).int().dtype)[-5:], "int32"),
        "float": (lambda lib: str(lib.tensor([1, 2]).float().dtype)[-7:], "float32"),
        "all": (lambda lib: lib.tensor(m).all(dim=1).tolist(), [True, False]),
        "any": (lambda lib: bool(lib.tensor([0.0, 0.0]).any()), False),
        "softmax": (lambda lib: np.round(lib.tensor([1.0, 2.0, 3.0]).softmax(dim=0).tolist(), 4).tolist(),
                    [0.09, 0.2447, 0.6652]),
        "tl_softmax": (lambda lib: np.round(lib.softmax(lib.tensor([0.0, 0.0]), 0).tolist(), 4).tolist(), [0.5, 0.5]),
        "tl_sum": (lambda lib: lib.sum(lib.tensor(m), dim=1).tolist(), [2.0, -1.0]),
        "tl_mean": (lambda lib: float(lib.mean(lib.tensor(m))), 1 / 6),
        "linspace": (lambda lib: lib.linspace(0, 1, 5).tolist(), [0.0, 0.25, 0.5, 0.75, 1.0]),
        "linspace_dtype": (lambda lib: str(lib.linspace(0, 1, 5).dtype)[-7:], "float32"),
        "eye": (lambda lib: lib.eye(2, 3).tolist(), [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]),
        "randint_short": (lambda lib: list(lib.randint(5, (4,)).shape), [4]),
        "randint_dtype": (lambda lib: str(lib.randint(0, 5, (2, 3)).dtype)[-5:], "int64"),
        "allclose": (lambda lib: lib.allclose(lib.tensor([1.0]), lib.tensor([1.0 + 1e-7])), True),
        "not_allclose": (lambda lib: lib.allclose(lib.tensor([1.0]), lib.tensor([1.1])), False),
        "sin_cos": (lambda lib: np.round((lib.sin(lib.tensor([0.5])) + lib.tensor([0.5]).cos()).tolist(), 5).tolist(),
                    [1.35701]),
        "to_dtype_positional": (lambda lib: str(lib.ones(2).to(lib.float64).dtype)[-7:], "float64"),
        "to_device_and_dtype": (lambda lib: str(lib.ones(2).to("cpu", lib.float64).dtype)[-7:], "float64"),
        "to_other_tensor": (lambda lib: str(lib.ones(2).to(lib.ones(1, dtype=lib.float64)).dtype)[-7:], "float64"),
        "sum_empty_dims": (lambda lib: lib.ones(2, 3).sum(dim=()).tolist(), 6.0),
    }
    try:
        import torch
    except ImportError:
        torch = None
    for name, (fn, recorded) in cases.items():
        assert fn(tl) == pytest.approx(recorded, abs=1e-4) if isinstance(recorded, float) else fn(tl) == recorded, name
        if torch is not None:
            assert fn(tl) == fn(torch), name


def test_clone_is_a_differentiable_copy():
    x = tl.tensor([1.0, 2.0], requires_grad=True)
    y = x.clone()
    assert y.data is not x.data and y.grad_fn is not None
    (y * y).sum().backward()
    assert x.grad.numpy().tolist() == [2, 4]


def test_t_refuses_more_than_two_dimensions():
    with pytest.raises(RuntimeError, match=r"t\(\) expects a tensor with <= 2 dimensions"):
        tl.ones(2, 3, 4).t()


def test_from_numpy_shares_memory_and_keeps_the_dtype():
    array = np.arange(3.0)
    t = tl.from_numpy(array)
    assert t.dtype == tl.float64 and t.data is array
    with pytest.raises(TypeError, match="numpy.ndarray"):
        tl.from_numpy([1, 2])


def test_long_of_a_tensor_that_requires_grad_has_no_gradient():
    x = tl.tensor([1.5], requires_grad=True)
    assert not x.long().requires_grad and not (x > 0).requires_grad


def test_x_to_zero_power_has_gradient_zero_at_zero():
    x = tl.tensor([0.0, 2.0], requires_grad=True)
    (x ** 0).sum().backward()
    assert x.grad.numpy().tolist() == [0.0, 0.0]
    base = tl.tensor([0.0, 2.0], requires_grad=True)
    exponent = tl.tensor([0.0, 0.0], requires_grad=True)
    (base ** exponent).sum().backward()
    assert base.grad.numpy().tolist() == [0.0, 0.0]
    np.testing.assert_allclose(exponent.grad.numpy(), [0.0, np.log(2.0)], rtol=1e-6)  # 0 where base is 0


# -- grad modes --------------------------------------------------------------------------------
def test_no_grad_as_decorator_with_and_without_parentheses():
    x = tl.tensor([1.0], requires_grad=True)

    @tl.no_grad
    def bare():
        return x * 2

    @tl.no_grad()
    def called():
        assert not tl.is_grad_enabled()
        return x * 2

    assert not bare().requires_grad and not called().requires_grad and tl.is_grad_enabled()
    assert bare.__name__ == "bare"


def test_set_grad_enabled_and_inference_mode():
    x = tl.tensor([1.0], requires_grad=True)
    with tl.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert tl.is_grad_enabled()
    tl.set_grad_enabled(False)
    try:
        assert not tl.is_grad_enabled()
    finally:
        tl.set_grad_enabled(True)
    with tl.inference_mode():
        assert not (x * 2).requires_grad
    with tl.inference_mode(False):
        assert (x * 2).requires_grad

    @tl.inference_mode()
    def predict():
        return x * 2

    @tl.set_grad_enabled(False)
    def also_predict():
        return x * 2

    assert tl.is_grad_enabled()  # decorating does not switch the mode
    assert not predict().requires_grad and not also_predict().requires_grad and tl.is_grad_enabled()


# -- gradients the engine owns -----------------------------------------------------------------
def test_each_leaf_owns_a_writable_gradient():
    p = tl.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    b = tl.tensor([1.0, 1.0], requires_grad=True)
    (p + b).sum().backward()  # Sum's backward is a broadcast view; Add gives both inputs the same array
    assert p.grad.data.flags.writeable and p.grad.data.base is None
    p.grad.zero_()
    assert p.grad.numpy().tolist() == [[0, 0], [0, 0]] and b.grad.numpy().tolist() == [2, 2]


def test_module_zero_grad_without_set_to_none_zeroes_in_place():
    layer = tl.nn.Linear(3, 2)
    layer(tl.ones(4, 3)).sum().backward()
    grads = [p.grad for p in layer.parameters()]
    layer.zero_grad(set_to_none=False)
    assert [p.grad for p in layer.parameters()] == grads  # the same tensors ...
    assert all(not g.numpy().any() for g in grads)  # ... now zero


def test_retain_grad_keeps_an_intermediate_gradient():
    x = tl.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    y = (h * h).sum()
    y.retain_grad()
    x.retain_grad()  # a leaf keeps its gradient anyway
    y.backward()
    assert h.grad.numpy().tolist() == [6.0, 12.0] and y.grad.item() == 1.0 and x.grad.numpy().tolist() == [18, 36]
    with pytest.raises(RuntimeError, match="requires_grad=False"):
        tl.ones(2).retain_grad()


@pytest.mark.torch
def test_retain_grad_matches_live_pytorch():
    torch = pytest.importorskip("torch")
    grads = []
    for lib in (tl, torch):
        x = lib.tensor([1.0, -2.0], requires_grad=True)
        h = (x * 3).sin()
        h.retain_grad()
        (h.cos() * x).sum().backward()
        grads.append((h.grad.numpy(), x.grad.numpy()))
    np.testing.assert_allclose(grads[0][0], grads[1][0], rtol=1e-6)
    np.testing.assert_allclose(grads[0][1], grads[1][1], rtol=1e-6)


# -- custom Functions explain themselves -------------------------------------------------------
class Scale(tl.Function):
    def __init__(self, returns):
        self.returns = returns

    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, gy):
        return self.returns(gy, self.a, self.b)


@pytest.mark.parametrize("returns, message", [
    (lambda gy, a, b: gy * b, (r"Scale.backward returned one ndarray for 2 inputs: return a tuple with one "
                               r"gradient \(or None\) per input")),
    (lambda gy, a, b: (gy * b,), r"Scale.backward returned 1 gradients for 2 inputs"),
    (lambda gy, a, b: (gy * b, gy[:, :2] * a[:, :2]), (r"Scale.backward returned a gradient of shape \(4, 2\) "
                                                       r"for input 1, which has shape \(4, 3\)")),
    (lambda gy, a, b: (gy[0], gy * a), (r"Scale.backward returned a gradient of shape \(3,\) for input 0, "
                                         r"which has shape \(4, 3\)")),
    (lambda gy, a, b: ([1.0], gy * a), (r"Scale.backward returned a list as the gradient of input 0: expected "
                                        r"an array of shape \(4, 3\)")),
])
def test_custom_function_errors_name_the_class_the_input_and_what_was_expected(returns, message):
    a = tl.ones(4, 3, requires_grad=True)
    b = tl.ones(4, 3, requires_grad=True)
    with pytest.raises((TypeError, RuntimeError), match=message):
        Scale(returns)(a, b).sum().backward()


def test_custom_function_may_return_a_broadcast_gradient_and_trailing_nones():
    a = tl.ones(1, 3, requires_grad=True)
    b = tl.ones(4, 3)
    Scale(lambda gy, x, y: (gy * y, None, None))(a, b).sum().backward()  # (4, 3) summed back to (1, 3)
    assert a.grad.numpy().tolist() == [[4, 4, 4]]


# -- lazy subpackages ----------------------------------------------------------------------------
def test_subpackages_load_on_first_use_and_import_stays_light():
    """tl.models, tl.data, tl.lab load on first use; the lab's modules also answer to their names from before
    minitl.lab (tl.transfer, from minitl import pca), as the same module objects."""
    code = ("import sys, minitl as tl\n"
            "print(sorted(m for m in sys.modules if m.startswith(('minitl.models', 'minitl.data', 'minitl.lab'))))\n"
            "from minitl import pca\n"
            "import minitl.lab.pca, minitl.lab.transfer\n"
            "print(tl.models.resnet20.__name__, tl.data.DataLoader.__name__, tl.transfer.freeze.__name__, "
            "tl.train.fit.__name__, pca is minitl.lab.pca, tl.transfer is minitl.lab.transfer)\n"
            "print(sorted(m for m in ('matplotlib', 'PIL') if m in sys.modules))")
    lines = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout.splitlines()
    assert lines == ["[]", "resnet20 DataLoader freeze fit True True", "[]"]
    with pytest.raises(AttributeError, match="no attribute 'modelz'"):
        tl.modelz  # noqa: B018 (the attribute access is what is tested)


def test_the_engine_never_imports_the_lab():
    """The layout's promise: everything outside minitl/lab/ (the command line aside) runs without it."""
    package = pathlib.Path(tl.__file__).parent
    offending = []
    for path in sorted(package.rglob("*.py")):
        if path.parent.name == "lab" or path.name == "__main__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [f"{node.module}.{alias.name}" for alias in node.names] if isinstance(node, ast.ImportFrom)
                     else [])
            offending += [f"{path.relative_to(package)}: {name}" for name in names if name.startswith("minitl.lab")]
    assert not offending


def test_the_public_names_of_minitl_all_exist():
    """__all__ lists the top-level API; every name in it resolves (lazy subpackages included)."""
    missing = [name for name in tl.__all__ if not hasattr(tl, name)]
    assert not missing and len(set(tl.__all__)) == len(tl.__all__)
    assert {"tensor", "no_grad", "gradcheck", "nn", "optim", "models", "lab"} <= set(tl.__all__)
