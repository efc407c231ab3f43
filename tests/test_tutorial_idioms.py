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
