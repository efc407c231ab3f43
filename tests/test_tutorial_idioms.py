"""What PyTorch's first tutorials type that is not arithmetic: device selection, backend flags, dropout2d's
shapes and warnings. Compared live with torch when it is installed; the values below are torch 2.13's."""
import warnings

import numpy as np
import pytest

import minitl as tl
from minitl import nn
from minitl.nn import functional as F

try:
    import torch
except ImportError:
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="live comparison needs torch (the oracle extra)")

# torch 2.13's CPU build: torch.backends.{mps,cuda,cudnn} answers and default flags
TORCH_CPU_BACKENDS = {"mps.is_available": False, "mps.is_built": False, "cudnn.is_available": False,
                      "cudnn.enabled": True, "cudnn.benchmark": False, "cudnn.deterministic": False,
                      "cuda.matmul.allow_tf32": False}


def backend_answers(lib):
    backends = lib.backends
    return {"mps.is_available": backends.mps.is_available(), "mps.is_built": backends.mps.is_built(),
            "cudnn.is_available": backends.cudnn.is_available(), "cudnn.enabled": backends.cudnn.enabled,
            "cudnn.benchmark": backends.cudnn.benchmark, "cudnn.deterministic": backends.cudnn.deterministic,
            "cuda.matmul.allow_tf32": backends.cuda.matmul.allow_tf32}


def test_the_standard_device_selection_lines_run_and_pick_the_cpu():
    device = "cuda" if tl.cuda.is_available() else "mps" if tl.backends.mps.is_available() else "cpu"
    assert device == ("cuda" if tl.backend.cuda_available() else "cpu")
    assert backend_answers(tl) == TORCH_CPU_BACKENDS
    previous = tl.backends.cudnn.benchmark
    tl.backends.cudnn.benchmark = True  # a flag a script sets: kept, changes nothing
    try:
        assert tl.backends.cudnn.benchmark is True
    finally:
        tl.backends.cudnn.benchmark = previous


@needs_torch
def test_backend_answers_are_torchs_on_a_cpu_build():
    if torch.cuda.is_available():
        pytest.skip("torch has a GPU here")
    assert backend_answers(torch) == TORCH_CPU_BACKENDS


def dropout2d_warnings(function, x):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = function(x)
    return out, [str(w.message) for w in caught]


@pytest.mark.parametrize("shape", [(4, 6), (2, 3, 5), (2, 3, 4, 4), (2, 3, 2, 2, 2)])
def test_dropout2d_drops_whole_channels_and_warns_as_torch(shape):
    tl.manual_seed(0)
    x = tl.ones(*shape)
    out, messages = dropout2d_warnings(lambda a: nn.Dropout2d(0.5)(a), x)
    values = out.numpy().reshape(shape[0], shape[1], -1)
    assert set(np.unique(values)) <= {0.0, 2.0}
    assert (values.min(axis=2) == values.max(axis=2)).all()  # each x[n, c, ...] kept or dropped as a whole
    if torch is not None:
        _, torch_messages = dropout2d_warnings(lambda a: torch.nn.Dropout2d(0.5)(a), torch.ones(*shape))
        assert messages == torch_messages
    assert len(messages) == {4: 0, 3: 1}.get(len(shape), 1)
    assert all(m.startswith("dropout2d: Received a ") for m in messages)


def test_dropout2d_needs_two_dimensions_as_torch():
    with pytest.raises(RuntimeError, match="Feature dropout requires at least 2 dimensions in the input"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            F.dropout2d(tl.ones(3), 0.5)


# -- walking the graph: grad_fn.name() and next_functions ------------------------------------------------
CHAIN = ["SumBackward0", "AddBackward0", "ExpBackward0", "MulBackward0", "torch::autograd::AccumulateGrad"]


def chain_of_names(lib):
    """The tutorials' walk up the graph: from loss.grad_fn, first non-None of next_functions each time."""
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    loss = ((x * lib.tensor([3.0, 4.0])).exp() + 1).sum()
    names, fn = [], loss.grad_fn
    while fn is not None:
        names.append(fn.name())
        following = [node for node, _ in fn.next_functions if node is not None]
        fn = following[0] if following else None
    return names, repr(loss).split("grad_fn=")[1], loss


def test_the_graph_walk_names_the_functions_as_torch():
    names, shown, loss = chain_of_names(tl)
    assert names == CHAIN and shown == "<SumBackward0>)"
    assert loss.grad_fn.next_functions[0][1] == 0
    mul = loss.grad_fn.next_functions[0][0].next_functions[0][0].next_functions[0][0]
    leaf, constant = mul.next_functions
    assert leaf[0].variable.tolist() == [1.0, 2.0] and constant == (None, 0)  # the constant is no node
    assert repr(loss.grad_fn).startswith("<SumBackward0 object at 0x")
    loss.backward()
    with pytest.raises(RuntimeError, match="freed by backward"):
        _ = loss.grad_fn.next_functions
    if torch is not None:
        torch_names, torch_shown, _ = chain_of_names(torch)
        assert (names, shown) == (torch_names, torch_shown)


# -- out= ---------------------------------------------------------------------------------------------------
def out_cases(lib):
    """(result is out, values, dtype name, warnings) for the forms of out= the tutorials use."""
    cases = []
    for make_out, run in [(lambda: lib.zeros(2), lambda out: lib.add(lib.ones(2), lib.ones(2), out=out)),
                          (lambda: lib.zeros(3), lambda out: lib.add(lib.ones(2), lib.ones(2), out=out)),  # resized
                          (lambda: lib.zeros(2, dtype=lib.float64), lambda out: lib.mul(lib.ones(2), 3, out=out)),
                          (lambda: lib.empty(0), lambda out: lib.matmul(lib.ones(2, 2), lib.ones(2), out=out)),
                          (lambda: lib.empty(0), lambda out: lib.cat([lib.ones(2), lib.zeros(1)], out=out)),
                          (lambda: lib.zeros(2), lambda out: lib.exp(lib.zeros(2), out=out))]:
        out = make_out()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = run(out)
        cases.append((result is out, out.tolist(), str(out.dtype).split(".")[-1], len(caught)))
    return cases


OUT_EXPECTED = [(True, [2.0, 2.0], "float32", 0), (True, [2.0, 2.0], "float32", 1), (True, [3.0, 3.0], "float64", 0),
                (True, [2.0, 2.0], "float32", 0), (True, [1.0, 1.0, 0.0], "float32", 0), (True, [1.0, 1.0], "float32", 0)]


def test_out_writes_into_the_given_tensor_as_torch():
    assert out_cases(tl) == OUT_EXPECTED
    if torch is not None:
        assert out_cases(torch) == OUT_EXPECTED
    out = tl.zeros(2)
    view = out.data
    tl.add(tl.ones(2), 1, out=out)
    assert view.tolist() == [2.0, 2.0]  # same shape: written in place, views see it
    with pytest.raises(RuntimeError, match=r"add\(\): functions with out=\.\.\. arguments don't support automatic"):
        tl.add(tl.ones(2, requires_grad=True), 1, out=tl.zeros(2))
    with pytest.raises(RuntimeError, match="can't be cast to the desired output type"):
        tl.add(tl.ones(2), 0.5, out=tl.zeros(2, dtype=tl.long))
    with tl.no_grad():  # allowed where nothing is recorded, as in PyTorch
        tl.add(tl.ones(2, requires_grad=True), 1, out=out)


# -- the default device, whole modules refused by tl.save, .data ---------------------------------------------------
def test_set_default_device_places_new_tensors_and_refuses_a_missing_gpu():
    assert tl.get_default_device() == "cpu" and tl.zeros(2).device == "cpu" and tl.tensor([1.0]).device == "cpu"
    tl.set_default_device("cpu")
    tl.set_default_device(None)
    if not tl.cuda.is_available():
        with pytest.raises(RuntimeError, match="CuPy"):
            tl.set_default_device("cuda")
    assert tl.get_default_device() == "cpu"


def test_saving_a_whole_module_is_refused_with_the_state_dict_line(tmp_path):
    model = nn.Linear(2, 2)
    with pytest.raises(TypeError, match=r"cannot save a whole Linear.*tl\.save\(obj\.state_dict\(\), path\)"):
        tl.save(model, tmp_path / "model.pt")
    assert not (tmp_path / "model.pt").exists()
    tl.save(model.state_dict(), tmp_path / "weights.pt")
    fresh = nn.Linear(2, 2)
    fresh.load_state_dict(tl.load(tmp_path / "weights.pt"))
    assert fresh.weight.tolist() == model.weight.tolist()


def test_data_is_the_array_so_the_classic_manual_sgd_step_works():
    w = tl.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    w.data -= 0.1 * w.grad.data  # PyTorch's pre-optimizer idiom: an in-place step outside autograd
    np.testing.assert_allclose(w.detach().numpy(), [0.8, 1.6])
    assert w.is_leaf and w.requires_grad
