"""The GPU suite: the same computations on CuPy and on NumPy agree (float32, 1e-5 relative and absolute).

Run on a machine with an NVIDIA GPU and ``pip install "minitl[gpu]"``:
``pytest -m gpu``. Elsewhere every test here is skipped, with the reason.
Covers the core ops (every case of cases/op_cases.py, forward and gradients), the
functional layers (cases/nn_cases.py), a small CNN trained for a few steps,
transfer (frozen backbone, new head, cached features), the DataLoader's
device batches and checkpoints moving between devices. The optimizers' GPU
steps are in test_optim.py.
"""
import types

import numpy as np
import pytest

import minitl as tl
from minitl import backend, models, nn, optim
from minitl.data import DataLoader, TensorDataset
from minitl.lab import transfer
from minitl.lab.train import fit
from minitl.nn import functional as F

from cases.nn_cases import NN_CASES
from cases.nn_cases import make_inputs as make_layer_inputs
from cases.op_cases import OP_CASES
from cases.op_cases import make_inputs as make_op_inputs

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not backend.cuda_available(), reason="needs CuPy and an NVIDIA GPU "
                                 '(pip install "minitl[gpu]" on a machine with one)')]
# float32 on two devices: sums of O(1) terms that cancel to about 0 (a batch-norm weight gradient, a GELU slope
# near -2.5) come out in another order on the GPU; measured on an NVIDIA H200: up to 1.7e-6 apart, so the
# absolute tolerance is 1e-5 (80 float32 ulps of 1), the relative one 1e-5.
RTOL, ATOL = 1e-5, 1e-5


def assert_close(gpu_value, cpu_value):
    """A CUDA tensor or array against its CPU counterpart."""
    if isinstance(gpu_value, tl.Tensor):
        assert gpu_value.device == "cuda"
        gpu_value, cpu_value = gpu_value.detach().numpy(), cpu_value.detach().numpy()
    np.testing.assert_allclose(backend.to_numpy(gpu_value), backend.to_numpy(cpu_value), rtol=RTOL, atol=ATOL)


def run_op(case, device):
    inputs = [x.to(device) for x in make_op_inputs(case, np.float32)]
    inputs = [x.detach().requires_grad_(True) for x in inputs]
    output = case[1](*inputs)
    output.backward(tl.ones(output.shape, device=device) * 0.5)
    return output, [x.grad for x in inputs]


@pytest.mark.parametrize("case", OP_CASES, ids=[c[0] for c in OP_CASES])
def test_op_forward_and_gradients_match_numpy(case):
    cpu_out, cpu_grads = run_op(case, "cpu")
    gpu_out, gpu_grads = run_op(case, "cuda")
    assert gpu_out.dtype == np.float32
    assert_close(gpu_out, cpu_out)
    for gpu_grad, cpu_grad in zip(gpu_grads, cpu_grads):
        assert_close(gpu_grad, cpu_grad)


def run_layer(case, device):
    """The functional case on `device`: output, input gradients and the running statistics it updated."""
    created = []

    def stats(array):
        created.append(tl.tensor(array, dtype=np.float32, device=device))
        return created[-1]

    lib = types.SimpleNamespace(
        F=F, stats=stats,
        tensor=lambda a: tl.tensor(a, dtype=np.float32 if a.dtype.kind == "f" else None, device=device))
    inputs = [tl.tensor(a, dtype=np.float32, device=device, requires_grad=True)
              for a in make_layer_inputs(case[2], seed=0)]
    output = case[1](lib, *inputs)
    output.backward(tl.ones(output.shape, device=device))
    return output, [x.grad for x in inputs], created


@pytest.mark.parametrize("case", NN_CASES, ids=[c[0] for c in NN_CASES])
def test_layer_forward_gradients_and_statistics_match_numpy(case):
    cpu_out, cpu_grads, cpu_stats = run_layer(case, "cpu")
    gpu_out, gpu_grads, gpu_stats = run_layer(case, "cuda")
    assert_close(gpu_out, cpu_out)
    for gpu_value, cpu_value in zip(gpu_grads + gpu_stats, cpu_grads + cpu_stats):
        assert_close(gpu_value, cpu_value)


def small_cnn():
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Dropout(0.25), nn.Flatten(), nn.Linear(8 * 4 * 4, 5))


def train_small_cnn(device):
    """Three SGD-momentum steps from seeded weights and data (dropout masks are drawn on the host)."""
    tl.manual_seed(0)
    model = small_cnn().to(device)
    data = DataLoader(TensorDataset(np.random.default_rng(0).normal(size=(12, 3, 8, 8)).astype(np.float32), np.arange(12) % 5),
                      batch_size=4, device=device)
    fit(model, data, optim.SGD(model.parameters(), lr=0.1, momentum=0.9), epochs=1, progress=False)
    return model


def test_a_cnn_trains_the_same_on_both_devices():
    cpu, gpu = train_small_cnn("cpu"), train_small_cnn("cuda")
    for gpu_value, cpu_value in zip(gpu.state_dict().values(), cpu.state_dict().values()):
        assert_close(gpu_value, cpu_value)  # state_dict values are Tensors: on the GPU here


def test_transfer_on_the_gpu_keeps_the_frozen_backbone():
    tl.manual_seed(0)
    model = models.resnet20().cuda()
    transfer.freeze(model)
    head = transfer.replace_head(model, num_classes=3)
    assert head.weight.device == "cuda"
    before = {name: value.numpy().copy() for name, value in model.state_dict().items()}  # a snapshot
    images, labels = np.random.default_rng(1).normal(size=(8, 3, 32, 32)).astype(np.float32), np.arange(8) % 3
    loader = DataLoader(TensorDataset(images, labels), batch_size=4, device="cuda")
    fit(model, loader, optim.SGD(head.parameters(), lr=0.1), epochs=1, progress=False)
    after = model.state_dict()
    for name, value in before.items():
        changed = not np.array_equal(after[name].numpy(), value)
        assert changed == name.startswith("linear."), name  # only the head moved; BN statistics did not
    gpu_features, gpu_labels = transfer.extract_features(model, loader)
    cpu_model = models.resnet20(num_classes=3)
    cpu_model.load_state_dict(after)
    cpu_features, _ = transfer.extract_features(cpu_model, DataLoader(TensorDataset(images, labels), batch_size=4))
    assert isinstance(gpu_features, np.ndarray) and gpu_labels.tolist() == labels.tolist()
    assert_close(gpu_features, cpu_features)


def test_checkpoints_move_between_devices(tmp_path):
    gpu_model = train_small_cnn("cuda").eval()
    tl.save(gpu_model.state_dict(), tmp_path / "gpu.npz")
    cpu_model = small_cnn().eval()
    cpu_model.load_state_dict(tl.load(tmp_path / "gpu.npz"))
    x = tl.randn(2, 3, 8, 8)
    assert_close(gpu_model(x.cuda()), cpu_model(x))

    back = small_cnn().cuda()
    back.load_state_dict(cpu_model.state_dict())  # host arrays into a GPU model
    assert all(p.device == "cuda" for p in back.parameters())
    assert_close(back.eval()(x.cuda()), cpu_model(x))


def test_optimizer_state_follows_the_parameters():
    model = small_cnn().cuda()
    opt = optim.Adam(model.parameters())
    model(tl.randn(2, 3, 8, 8, device="cuda")).sum().backward()
    opt.step()
    for p in model.parameters():
        assert all(backend.device_of(v) == "cuda" for v in opt.state[p].values() if backend.is_array(v))


def test_item_assignment_and_hooks_on_the_gpu():
    x = tl.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True, device="cuda")
    v = tl.tensor([5.0, 6.0], requires_grad=True, device="cuda")
    y = x * 2
    y[y > 7] = 0
    y[0] = v
    y.register_hook(lambda g: g * 3)
    y.sum().backward()
    assert x.grad.device == v.grad.device == "cuda"
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 0], [6, 0]])
    np.testing.assert_array_equal(v.grad.numpy(), [3, 3])
    plain = tl.zeros(2, device="cuda")
    plain[1] = 7
    assert plain.tolist() == [0, 7]
    with pytest.raises(RuntimeError, match="value is on cpu, x on cuda"):
        plain[0] = tl.ones(1)


def test_an_operation_on_tensors_of_two_devices_is_refused_by_name():
    a, b = tl.ones(2), tl.ones(2, device="cuda")
    for operation in (lambda: a * b, lambda: b + a, lambda: tl.matmul(a, b)):
        with pytest.raises(RuntimeError, match=r"different devices \(cpu and cuda\); move them with \.to\(device\)"):
            operation()
