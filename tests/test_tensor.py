"""Tensor creation, attributes, conversions and the backend's device handling."""
import subprocess
import sys

import numpy as np
import pytest

import minitl as tl
from minitl import backend


def test_python_floats_default_to_float32_arrays_keep_their_dtype_and_integers_stay_integer():
    assert tl.tensor(1.5).dtype == tl.float32
    assert tl.tensor([1.0, 2.0]).dtype == tl.float32
    assert tl.tensor(np.zeros(3, dtype=np.float64)).dtype == tl.float64  # as torch.tensor(ndarray)
    assert tl.tensor(np.float64(2.0)).dtype == tl.float64
    assert tl.tensor(np.zeros(3, dtype=np.int32)).dtype == tl.int32
    assert tl.tensor(np.zeros(3), dtype=tl.float64).dtype == tl.float64
    assert tl.tensor([1, 2]).dtype == tl.int64
    assert tl.tensor([True, False]).dtype == bool


def test_tensor_copies_its_data():
    source = np.ones(3, dtype=np.float32)
    t = tl.tensor(source)
    source[0] = 5
    assert t.data[0] == 1


def test_factories():
    tl.manual_seed(0)
    a = tl.randn(2, 3)
    tl.manual_seed(0)
    b = tl.randn((2, 3))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert a.dtype == tl.float32 and a.shape == (2, 3)
    assert tl.rand(4, dtype=tl.float64).dtype == tl.float64
    u = tl.rand(1000).numpy()
    assert 0 <= u.min() and u.max() < 1
    assert tl.zeros(2, 3).shape == (2, 3) and tl.ones((2,)).numpy().tolist() == [1, 1]
    assert tl.full((2, 2), 7.0).numpy().tolist() == [[7, 7], [7, 7]]
    assert tl.zeros_like(tl.ones(3, dtype=tl.float64)).dtype == tl.float64
    assert tl.arange(4).dtype == tl.int64 and tl.arange(0, 1, 0.5).dtype == tl.float32
    assert tl.ones(2, requires_grad=True).requires_grad


def test_attributes():
    x = tl.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    assert x.shape == (1, 3) and x.ndim == 2 and x.device == "cpu" and x.is_leaf
    assert x.size() == (1, 3) and x.size(1) == 3 and x.numel() == 3 and len(x) == 1
    assert x.grad is None and x.grad_fn is None
    y = x * 2
    assert not y.is_leaf and type(y.grad_fn).__name__ == "Mul"


def test_conversions():
    x = tl.tensor([[1.5, 2.5]])
    assert isinstance(x.numpy(), np.ndarray) and x.tolist() == [[1.5, 2.5]]
    assert x.sum().item() == 4.0
    with pytest.raises(ValueError, match="one element"):
        x.item()
    w = tl.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        w.numpy()
    d = w.detach()
    assert not d.requires_grad and d.data is w.data


def test_requires_grad_only_for_floats():
    with pytest.raises(RuntimeError, match="floating-point"):
        tl.tensor([1, 2], requires_grad=True)


def test_repr():
    assert repr(tl.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(tl.tensor([1.0], requires_grad=True)) == "tensor([1.], requires_grad=True)"
    assert repr(tl.tensor([1.0], dtype=tl.float64)) == "tensor([1.], dtype=float64)"
    assert repr(tl.tensor([1, 2])) == "tensor([1, 2], dtype=int64)"
    assert "grad_fn=<AddBackward0>" in repr(tl.tensor([1.0], requires_grad=True) + 1)  # PyTorch's name


def test_to_same_place_returns_itself():
    x = tl.tensor([1.0])
    assert x.to("cpu") is x and x.cpu() is x and x.float() is x


def test_unknown_device_is_named():
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        tl.tensor([1.0]).to("tpu")


@pytest.mark.skipif(backend.cuda_available(), reason="a GPU is present")
def test_cuda_without_gpu_says_how_to_get_it():
    with pytest.raises(RuntimeError, match=r'pip install "minitl\[gpu\]"'):
        tl.tensor([1.0]).to("cuda")
    with pytest.raises(RuntimeError, match="cuda"):
        tl.zeros(2, device="cuda")
    assert tl.cuda.is_available() is False


def test_backend_helpers_on_cpu():
    a = np.zeros(3)
    assert backend.get_array_module(a) is np and backend.device_of(a) == "cpu"
    assert backend.to_numpy(a) is a and backend.to_device(a, "cpu") is a
    target = np.zeros(3)
    backend.scatter_add(target, np.array([0, 0, 2]), np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(target, [3.0, 0.0, 3.0])


def test_import_is_light():
    # Import every module of the package: none may pull in plotting, image, GPU or torch libraries.
    code = ("import importlib, pkgutil, sys, minitl\n"
            "for m in pkgutil.walk_packages(minitl.__path__, 'minitl.'):\n"
            "    if not m.name.endswith('__main__'): importlib.import_module(m.name)\n"
            "print(sorted(m for m in ('matplotlib', 'PIL', 'cupy', 'torch', 'tqdm', 'scipy') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
