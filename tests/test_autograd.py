"""The backward pass: accumulation, graph freeing, deep graphs, no_grad, errors."""
import gc
import tracemalloc
import weakref

import numpy as np
import pytest

import minitl as tl


def test_readme_example():
    x = tl.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])


def test_tensor_used_twice_accumulates():
    x = tl.tensor(3.0, requires_grad=True)
    (x * x + x).backward()
    assert x.grad.item() == 7.0


def test_diamond_graph_sums_both_paths_before_going_further():
    x = tl.tensor(2.0, requires_grad=True)
    a = x * 3
    b, c = a.exp(), a * a  # both depend on a: a's gradient must be complete before x's
    (b + c).backward()
    expected = 3 * (np.exp(6.0) + 2 * 6.0)
    np.testing.assert_allclose(x.grad.item(), expected, rtol=1e-6)


def test_repeated_integer_indices_accumulate():
    x = tl.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[np.array([0, 0, 2, 0])].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 0.0, 1.0])


def test_gradients_accumulate_across_backward_calls():
    x = tl.tensor([1.0, -1.0], requires_grad=True)
    (2 * x).sum().backward()
    (3 * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [5.0, 5.0])


def test_only_leaves_keep_gradients():
    x = tl.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    h.sum().backward()
    with pytest.warns(UserWarning, match="not a leaf Tensor"):  # as in PyTorch: it may be a mistake
        assert h.grad is None
    assert not h.is_leaf and x.is_leaf
    assert x.grad is not None


def test_constants_get_no_gradient():
    x = tl.tensor([1.0, 2.0], requires_grad=True)
    c = tl.tensor([5.0, 6.0])
    (x * c).sum().backward()
    assert c.grad is None and not c.requires_grad


def test_deep_chain_has_no_recursion_limit():
    x = tl.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(20_000):
        y = y * 1.0 + 0.0
    y.backward()
    assert x.grad.item() == 1.0


def test_no_grad_records_nothing_and_restores_state():
    x = tl.tensor([1.0], requires_grad=True)
    with tl.no_grad():
        y = x * 2
        assert not tl.is_grad_enabled()
        with tl.enable_grad():
            z = x * 2
    assert tl.is_grad_enabled()
    assert y.grad_fn is None and not y.requires_grad
    assert z.requires_grad and z.grad_fn is not None


def test_backward_on_non_scalar_needs_grad():
    y = tl.tensor([1.0, 2.0], requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"one-element tensor, got shape \(2,\)"):
        y.backward()
    y.backward(tl.tensor([1.0, 1.0]))


def test_backward_grad_shape_is_checked():
    y = tl.tensor([1.0, 2.0], requires_grad=True) * 2
    with pytest.raises(ValueError, match=r"gradient has shape \(3,\), expected \(2,\)"):
        y.backward(tl.ones(3))


def test_backward_without_requires_grad_fails_clearly():
    with pytest.raises(RuntimeError, match="does not require grad"):
        (tl.tensor([1.0]) * 2).sum().backward()


def test_second_backward_needs_retain_graph():
    x = tl.tensor(2.0, requires_grad=True)
    y = (x * x) * x
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.item() == 24.0
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_graph_is_freed_after_backward():
    x = tl.tensor(np.ones(1000), requires_grad=True)
    hidden = x * 2
    probe = weakref.ref(hidden)
    y = (hidden.exp() * 3).sum()
    del hidden
    assert probe() is not None  # the graph holds it until backward
    y.backward()
    assert probe() is None  # backward released it although y is still alive


def test_graph_without_backward_is_freed_with_its_output():
    x = tl.tensor(np.ones(10), requires_grad=True)
    y = (x * 2).exp().sum()
    probe = weakref.ref(y.grad_fn)
    del y
    assert probe() is None  # no reference cycles: freed by reference counting alone


def test_training_iterations_do_not_keep_old_arrays():
    rng = np.random.default_rng(0)
    w = tl.tensor(rng.normal(size=(64, 64)), requires_grad=True)
    data = tl.tensor(rng.normal(size=(32, 64)))

    def step():
        loss = ((data @ w).tanh() @ w).relu().mean()
        loss.backward()
        with tl.no_grad():
            w.data -= 0.01 * w.grad.data
        w.grad = None

    for _ in range(5):
        step()
    gc.collect()
    tracemalloc.start()
    for _ in range(300):  # until Python's free lists of small objects are full (they count as traced)
        step()
    early, _ = tracemalloc.get_traced_memory()
    for _ in range(180):
        step()
    late, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # One 32x64 float32 array is 8 KB: 180 leaked iterations would add megabytes.
    assert late - early < 64 * 1024


def test_mixing_devices_names_both(monkeypatch):
    pytest.importorskip("cupy")
    if not tl.cuda.is_available():
        pytest.skip("no GPU")
    with pytest.raises(RuntimeError, match="cpu and cuda"):
        tl.ones(2) + tl.ones(2, device="cuda")
