"""Module, Parameter and the containers: registration, walks, state_dict, modes, dtype/device, repr."""
import collections
import copy

import numpy as np
import pytest

import minitl as tl
from minitl import backend, nn


class Scale(nn.Module):
    """y = x * w (elementwise) with an optional buffer; needs nothing from nn.functional."""

    def __init__(self, n, buffer=True):
        super().__init__()
        self.w = nn.Parameter(tl.ones(n))
        if buffer:
            self.register_buffer("count", tl.zeros((), dtype=tl.int64))

    def forward(self, x):
        return x * self.w


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.first = Scale(3)
        self.bias = nn.Parameter(tl.zeros(3))
        self.register_buffer("scale", tl.ones(3))
        self.rest = nn.Sequential(Scale(3), Scale(3, buffer=False))

    def forward(self, x):
        return self.rest(self.first(x) + self.bias) * self.scale


def arrays(model):
    return {name: value.numpy().copy() for name, value in model.state_dict().items()}


# -- Parameter -----------------------------------------------------------------
def test_parameter_is_a_leaf_that_requires_grad_and_shares_the_tensor_data():
    t = tl.randn(2, 3)
    p = nn.Parameter(t)
    assert isinstance(p, tl.Tensor) and p.requires_grad and p.is_leaf
    assert p.data is t.data
    assert nn.Parameter([1.0, 2.0]).dtype == tl.float32
    assert not nn.Parameter(t, requires_grad=False).requires_grad
    assert repr(nn.Parameter(tl.zeros(2))).startswith("Parameter containing:\ntensor([0., 0.]")


def test_parameter_must_be_floating_point():
    with pytest.raises(TypeError, match="floating-point.*int64"):
        nn.Parameter(tl.tensor([1, 2]))


# -- registration ----------------------------------------------------------------
def test_attributes_register_in_definition_order_with_pytorch_names():
    net = Net()
    assert list(net.state_dict()) == ["bias", "scale", "first.w", "first.count", "rest.0.w", "rest.0.count",
                                      "rest.1.w"]
    assert [name for name, _ in net.named_parameters()] == ["bias", "first.w", "rest.0.w", "rest.1.w"]
    assert [name for name, _ in net.named_buffers()] == ["scale", "first.count", "rest.0.count"]
    assert [name for name, _ in net.named_children()] == ["first", "rest"]
    assert [name for name, _ in net.named_modules()] == ["", "first", "rest", "rest.0", "rest.1"]
    assert list(net.modules())[0] is net
    assert [name for name, _ in net.named_parameters(prefix="net", recurse=False)] == ["net.bias"]


def test_reassigning_keeps_the_place_and_plain_values_are_refused():
    net = Net()
    new = nn.Parameter(tl.ones(3))
    net.bias = new
    assert net.bias is new and list(net.state_dict())[0] == "bias"
    with pytest.raises(TypeError, match="cannot assign Tensor to parameter 'bias' of Net"):
        net.bias = tl.ones(3)
    with pytest.raises(TypeError, match="buffer 'scale'"):
        net.scale = np.ones(3)
    net.scale = tl.zeros(3)  # buffers take any Tensor
    net.bias = None  # an absent parameter is skipped everywhere
    assert "bias" not in net.state_dict() and net.bias is None


def test_a_name_moves_between_kinds_and_can_be_deleted():
    net = Net()
    net.first = nn.Parameter(tl.ones(1))  # was a submodule
    assert "first" not in dict(net.named_children()) and net.first.shape == (1,)
    del net.first
    del net.scale
    assert "first" not in net.state_dict() and "scale" not in net.state_dict()
    with pytest.raises(AttributeError, match="'Net' object has no attribute 'first'"):
        net.first  # noqa: B018 (the attribute access is what is tested)
    net.plain = 3  # ordinary attributes stay ordinary
    del net.plain
    assert not hasattr(net, "plain")


def test_assigning_before_module_init_says_what_to_do():
    class Forgetful(nn.Module):
        def __init__(self):
            self.fc = Scale(2)

    with pytest.raises(AttributeError, match=r"super\(\).__init__\(\) first"):
        Forgetful()


def test_register_checks_names_and_types():
    net = Net()
    with pytest.raises(KeyError, match="without '.'"):
        net.register_buffer("a.b", tl.ones(1))
    with pytest.raises(KeyError, match="'forward' already exists"):
        net.register_buffer("forward", tl.ones(1))
    with pytest.raises(TypeError, match="Tensor or None"):
        net.register_buffer("x", np.ones(1))
    with pytest.raises(TypeError, match="nn.Parameter or None"):
        net.register_parameter("x", tl.ones(1))
    with pytest.raises(TypeError, match="nn.Module or None"):
        net.add_module("x", 3)


def test_non_persistent_buffers_are_not_saved_but_move_with_the_model():
    net = Net()
    net.register_buffer("cache", tl.ones(2), persistent=False)
    assert "cache" in dict(net.named_buffers()) and "cache" not in net.state_dict()
    net.double()
    assert net.cache.dtype == tl.float64


def test_shared_parameters_come_once_but_are_saved_under_every_name():
    net = Net()
    net.rest[1].w = net.rest[0].w
    assert [name for name, _ in net.named_parameters()] == ["bias", "first.w", "rest.0.w"]
    assert "rest.1.w" in net.state_dict()
    net.rest.append(net.first)  # a shared module is walked once
    assert [name for name, _ in net.named_modules()] == ["", "first", "rest", "rest.0", "rest.1"]


def test_apply_visits_children_first_and_returns_self():
    net = Net()
    seen = []
    assert net.apply(lambda m: seen.append(type(m).__name__)) is net
    assert seen == ["Scale", "Scale", "Scale", "Sequential", "Net"]


def test_deepcopy_gives_independent_parameters():
    net = Net()
    clone = copy.deepcopy(net)
    clone.first.w.data += 1
    assert (net.first.w.data == 1).all() and clone.first.w.requires_grad
    assert list(clone.state_dict()) == list(net.state_dict())


# -- state_dict ---------------------------------------------------------------------
def test_state_dict_holds_detached_tensors_sharing_memory():
    net = Net()
    state = net.state_dict()
    assert all(isinstance(v, tl.Tensor) and not v.requires_grad and v.is_leaf for v in state.values())
    net.first.w.data += 1  # training changes the state dict's values too, as in PyTorch
    state["bias"][0] = 7
    assert (state["first.w"] == 2).all() and net.bias.data[0] == 7
    snapshot = {k: v.clone() for k, v in net.state_dict().items()}
    net.first.w.data += 1
    assert (snapshot["first.w"] == 2).all()


def test_load_state_dict_copies_in_place_and_casts():
    net, other = Net(), Net()
    other.first.w.data[:] = 3
    other.first.count.data += 5
    state = {k: v.data.astype(np.float64) if v.dtype.kind == "f" else v for k, v in other.state_dict().items()}
    state["bias"] = tl.tensor([1.0, 2.0, 3.0])  # Tensors and lists work too
    state["scale"] = [2, 2, 2]
    param = net.first.w
    assert net.load_state_dict(state) == ([], [])
    assert net.first.w is param and net.first.w.dtype == tl.float32 and (param.data == 3).all()
    assert net.first.count.dtype == tl.int64 and net.first.count.item() == 5
    assert net.scale.dtype == tl.float32 and (net.scale.data == 2).all()
    state["first.w"][:] = 9  # no aliasing of the caller's arrays
    assert (param.data == 3).all()


def test_load_state_dict_names_every_problem_and_changes_nothing():
    net = Net()
    before = arrays(net)
    state = Net().state_dict()
    state["first.w"] = np.full(3, 5.0)  # valid, but must not be written
    del state["bias"], state["rest.0.count"]
    state["extra"] = np.ones(1)
    state["rest.1.w"] = np.ones((4, 3))
    state["scale"] = np.array(["a", "b", "c"])
    with pytest.raises(RuntimeError) as info:
        net.load_state_dict(state)
    message = str(info.value)
    assert message.startswith("Error(s) in loading state_dict for Net:")
    assert 'Missing key(s) in state_dict: "bias", "rest.0.count"' in message
    assert 'Unexpected key(s) in state_dict: "extra"' in message
    assert "size mismatch for rest.1.w: copying a param with shape (4, 3), the model has (3,)" in message
    assert "value for scale is not numeric" in message
    after = arrays(net)
    assert all(np.array_equal(before[k], after[k]) for k in before)


def test_load_state_dict_non_strict_reports_keys_but_refuses_shape_mismatches():
    net = Net()
    state = {"bias": np.full(3, 2.0), "extra": np.ones(1)}
    result = net.load_state_dict(state, strict=False)
    assert result.missing_keys == ["scale", "first.w", "first.count", "rest.0.w", "rest.0.count", "rest.1.w"]
    assert result.unexpected_keys == ["extra"] and (net.bias.data == 2).all()
    with pytest.raises(RuntimeError, match="size mismatch for bias"):
        net.load_state_dict({"bias": np.ones(2)}, strict=False)


@pytest.mark.torch
def test_load_state_dict_accepts_torch_tensors():
    torch = pytest.importorskip("torch")
    net = Net()
    state = {k: torch.from_numpy(v.numpy()) for k, v in net.state_dict().items()}
    state["bias"] = torch.nn.Parameter(torch.full((3,), 4.0, dtype=torch.float64))  # requires grad
    net.load_state_dict(state)
    assert (net.bias.data == 4).all()


# -- modes, gradients, dtype ------------------------------------------------------------
def test_train_and_eval_are_per_module_and_return_self():
    net = Net()
    assert net.eval() is net and not any(m.training for m in net.modules())
    assert net.train() is net and all(m.training for m in net.modules())
    net.rest.eval()  # a frozen part stays in eval while the parent trains
    assert net.training and net.first.training and not net.rest.training and not net.rest[0].training
    with pytest.raises(ValueError, match="bool"):
        net.train("no")


def test_requires_grad_false_stops_gradients_of_that_part_only():
    net = Net()
    assert net.first.requires_grad_(False) is net.first
    net(tl.ones(3)).sum().backward()
    assert net.first.w.grad is None
    assert net.bias.grad is not None and net.rest[0].w.grad is not None


def test_zero_grad_drops_or_zeroes_gradients():
    net = Net()
    net(tl.ones(3)).sum().backward()
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.data.any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_to_dtype_keeps_parameter_identity_and_integer_buffers():
    net = Net()
    net(tl.ones(3)).sum().backward()
    params = list(net.parameters())
    assert net.to(dtype=tl.float64) is net
    assert list(net.parameters()) == params and all(p is q for p, q in zip(net.parameters(), params))
    assert all(p.dtype == tl.float64 and p.grad.dtype == tl.float64 for p in params)
    assert net.scale.dtype == tl.float64 and net.first.count.dtype == tl.int64
    assert net.float().bias.dtype == tl.float32 and net.double().bias.dtype == tl.float64
    assert net.cpu().bias.device == "cpu"
    with pytest.raises(TypeError, match="floating-point dtypes, got int64"):
        net.to(dtype=tl.int64)
    with pytest.raises(ValueError, match="unknown device"):
        net.to("tpu")


def test_forward_must_be_defined():
    with pytest.raises(NotImplementedError, match="Bare does not define forward"):
        type("Bare", (nn.Module,), {})()(1)


# -- containers ------------------------------------------------------------------------
def test_sequential_indexing_and_mutation():
    a, b, c = Scale(1), Scale(1), Scale(1)
    seq = nn.Sequential(a, b)
    assert len(seq) == 2 and seq[0] is a and seq[-1] is b and list(seq) == [a, b]
    assert seq.append(c) is seq and seq[2] is c
    sliced = seq[1:]
    assert isinstance(sliced, nn.Sequential) and list(sliced.state_dict()) == ["1.w", "1.count", "2.w", "2.count"]
    seq[0] = d = Scale(1)
    assert seq[0] is d and list(seq.state_dict())[:2] == ["0.w", "0.count"]
    with pytest.raises(IndexError, match="index 3 is out of range for Sequential of length 3"):
        seq[3]


def test_sequential_runs_in_order_and_takes_names():
    seq = nn.Sequential(collections.OrderedDict(doubler=Scale(2), tripler=Scale(2)))
    seq.doubler.w.data[:] = 2
    seq.tripler.w.data[:] = 3
    assert seq(tl.tensor([1.0, 2.0])).tolist() == [6.0, 12.0]
    assert list(seq.state_dict()) == ["doubler.w", "doubler.count", "tripler.w", "tripler.count"]


def test_module_list_registers_its_modules():
    layers = nn.ModuleList([Scale(1) for _ in range(2)])
    layers.extend([Scale(1)]).append(Scale(1, buffer=False))
    assert len(layers) == 4 and [name for name, _ in layers.named_parameters()] == ["0.w", "1.w", "2.w", "3.w"]
    tail = layers[2:]
    assert isinstance(tail, nn.ModuleList) and [n for n, _ in tail.named_parameters()] == ["0.w", "1.w"]
    assert tail[0] is layers[2] and list(layers)[3] is layers[-1]


def test_identity_returns_its_input():
    x = tl.ones(2)
    assert nn.Identity()(x) is x


def test_repr_is_pytorch_tree():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Sequential(nn.Linear(4, 2, bias=False)), nn.Identity())
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Linear(in_features=3, out_features=4, bias=True)\n"
        "  (1): ReLU()\n"
        "  (2): Sequential(\n"
        "    (0): Linear(in_features=4, out_features=2, bias=False)\n"
        "  )\n"
        "  (3): Identity()\n"
        ")")


def test_cuda_without_gpu_says_how_to_get_it():
    if tl.backend.cuda_available():
        pytest.skip("a GPU is available")
    with pytest.raises(RuntimeError, match=r'pip install "minitl\[gpu\]"'):
        Net().cuda()


@pytest.mark.gpu
def test_to_cuda_moves_everything_and_loads_host_arrays():
    if not tl.backend.cuda_available():
        pytest.skip("needs CuPy and an NVIDIA GPU")
    net = Net()
    net(tl.ones(3)).sum().backward()
    param = net.bias
    state = net.state_dict()
    assert net.cuda() is net and net.bias is param
    assert all(t.device == "cuda" for t in [*net.parameters(), *net.buffers()])
    assert net.bias.grad.device == "cuda"
    net.load_state_dict(state)  # host arrays go to the GPU
    assert net(tl.ones(3, device="cuda")).device == "cuda"
    assert np.array_equal(tl.backend.to_numpy(net.cpu().bias.data), state["bias"])


def test_load_state_dict_converts_every_value_before_writing_any(monkeypatch):
    model = nn.Linear(3, 2)
    before = model.state_dict()
    real_to_device, calls = backend.to_device, []

    def failing_on_the_second(value, device):  # e.g. a GPU out of memory halfway through
        calls.append(value)
        if len(calls) == 2:
            raise MemoryError("out of device memory")
        return real_to_device(value, device)

    monkeypatch.setattr(backend, "to_device", failing_on_the_second)
    with pytest.raises(RuntimeError, match="value for bias cannot be converted: MemoryError: out of device memory"):
        model.load_state_dict({"weight": np.ones((2, 3)), "bias": np.ones(2)})
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name], err_msg=f"{name} was written")
