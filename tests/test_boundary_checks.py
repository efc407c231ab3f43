"""What a new user passes first: arrays, lists, float64 or integer images, to layers and F.* functions.

Each is refused where it enters, with a message that names the fix; PyTorch refuses the same inputs
(checked live when torch is importable).
"""
import re

import numpy as np
import pytest

import minitl as tl
import minitl.nn.functional as F
from minitl import nn

WRAP = "wrap it with tl.tensor(...)"


def _linear():
    tl.manual_seed(0)
    return nn.Linear(3, 2)


def _conv(bias=True):
    tl.manual_seed(0)
    return nn.Conv2d(3, 2, 3, bias=bias)


# (name, minitl call, torch call or None, exception, message)
NOT_A_TENSOR = [
    ("linear_ndarray", lambda: _linear()(np.zeros((1, 3), np.float32)),
     lambda torch: torch.nn.Linear(3, 2)(np.zeros((1, 3), np.float32)), "linear(): argument 'input'"),
    ("linear_list", lambda: _linear()([[1.0, 2.0, 3.0]]),
     lambda torch: torch.nn.Linear(3, 2)([[1.0, 2.0, 3.0]]), "must be a Tensor, not list"),
    ("conv2d_ndarray", lambda: _conv()(np.zeros((1, 3, 5, 5), np.float32)),
     lambda torch: torch.nn.Conv2d(3, 2, 3)(np.zeros((1, 3, 5, 5), np.float32)), "conv2d(): argument 'input'"),
    ("F_conv2d_weight_ndarray", lambda: F.conv2d(tl.zeros(1, 3, 5, 5), np.zeros((2, 3, 3, 3), np.float32)),
     lambda torch: torch.nn.functional.conv2d(torch.zeros(1, 3, 5, 5), np.zeros((2, 3, 3, 3), np.float32)),
     "conv2d(): argument 'weight'"),
    ("cross_entropy_labels_ndarray", lambda: F.cross_entropy(tl.zeros(2, 3), np.array([0, 1])),
     lambda torch: torch.nn.functional.cross_entropy(torch.zeros(2, 3), np.array([0, 1])),
     "cross_entropy(): argument 'target' must be a Tensor, not ndarray"),
    ("CrossEntropyLoss_labels_list", lambda: nn.CrossEntropyLoss()(tl.zeros(2, 3), [0, 1]),
     lambda torch: torch.nn.CrossEntropyLoss()(torch.zeros(2, 3), [0, 1]), "argument 'target'"),
    ("mse_target_ndarray", lambda: F.mse_loss(tl.zeros(3), np.zeros(3, np.float32)),
     lambda torch: torch.nn.functional.mse_loss(torch.zeros(3), np.zeros(3, np.float32)), "mse_loss()"),
    ("max_pool_list", lambda: nn.MaxPool2d(2)([[[[1.0, 2.0], [3.0, 4.0]]]]),
     lambda torch: torch.nn.MaxPool2d(2)([[[[1.0, 2.0], [3.0, 4.0]]]]), "max_pool2d(): argument 'input'"),
    ("softmax_ndarray", lambda: F.softmax(np.zeros(3), dim=0),
     lambda torch: torch.nn.functional.softmax(np.zeros(3), dim=0), "softmax(): argument 'input'"),
    ("batch_norm_ndarray", lambda: nn.BatchNorm2d(3)(np.zeros((2, 3, 2, 2), np.float32)),
     lambda torch: torch.nn.BatchNorm2d(3)(np.zeros((2, 3, 2, 2), np.float32)), "batch_norm(): argument 'input'"),
    ("conv_transpose2d_ndarray", lambda: F.conv_transpose2d(np.zeros((1, 3, 4, 4), np.float32), tl.zeros(3, 2, 3, 3)),
     lambda torch: torch.nn.functional.conv_transpose2d(np.zeros((1, 3, 4, 4), np.float32), torch.zeros(3, 2, 3, 3)),
     "conv_transpose2d(): argument 'input'"),
    ("unfold_ndarray", lambda: F.unfold(np.zeros((1, 1, 3, 3)), 2),
     lambda torch: torch.nn.functional.unfold(np.zeros((1, 1, 3, 3)), 2), "unfold(): argument 'input'"),
]

WRONG_DTYPE = [
    ("linear_float64", lambda: _linear()(tl.zeros(1, 3, dtype=tl.float64)),
     lambda torch: torch.nn.Linear(3, 2)(torch.zeros(1, 3, dtype=torch.float64)),
     "linear(): input type (float64) and weight type (float32) should be the same; cast the input with "
     "x.to(float32) or the model with model.to(float64)"),
    ("linear_int64", lambda: _linear()(tl.tensor([[1, 2, 3]])),
     lambda torch: torch.nn.Linear(3, 2)(torch.tensor([[1, 2, 3]])),
     "linear(): input type (int64) and weight type (float32) should be the same; convert it with x.to(float32)"),
    ("F_linear_float64_weight", lambda: F.linear(tl.zeros(1, 3), tl.zeros(2, 3, dtype=tl.float64)),
     lambda torch: torch.nn.functional.linear(torch.zeros(1, 3), torch.zeros(2, 3, dtype=torch.float64)),
     "input type (float32) and weight type (float64)"),
    ("conv2d_float64", lambda: _conv()(tl.zeros(1, 3, 5, 5, dtype=tl.float64)),
     lambda torch: torch.nn.Conv2d(3, 2, 3)(torch.zeros(1, 3, 5, 5, dtype=torch.float64)),
     "conv2d(): input type (float64) and weight type (float32)"),
    ("conv2d_uint8_image", lambda: _conv()(tl.tensor(np.full((1, 3, 5, 5), 200, np.uint8))),
     lambda torch: torch.nn.Conv2d(3, 2, 3)(torch.full((1, 3, 5, 5), 200, dtype=torch.uint8)),
     "conv2d(): input type (uint8) and weight type (float32) should be the same; convert it with x.to(float32) "
     "(an 8-bit image usually also by / 255)"),
    ("conv_transpose2d_float64", lambda: nn.ConvTranspose2d(3, 2, 3)(tl.zeros(1, 3, 4, 4, dtype=tl.float64)),
     lambda torch: torch.nn.ConvTranspose2d(3, 2, 3)(torch.zeros(1, 3, 4, 4, dtype=torch.float64)),
     "conv_transpose2d(): input type (float64) and weight type (float32)"),
    ("conv2d_no_bias_uint8_image", lambda: _conv(bias=False)(tl.tensor(np.full((1, 3, 5, 5), 200, np.uint8))),
     lambda torch: torch.nn.Conv2d(3, 2, 3, bias=False)(torch.full((1, 3, 5, 5), 200, dtype=torch.uint8)),
     "input type (uint8)"),
]


@pytest.mark.parametrize("name, call, torch_call, message", NOT_A_TENSOR, ids=[c[0] for c in NOT_A_TENSOR])
def test_arrays_and_lists_are_refused_with_how_to_wrap_them(name, call, torch_call, message):
    with pytest.raises(TypeError, match=re.escape(message)) as error:
        call()
    assert str(error.value).endswith(WRAP)


@pytest.mark.parametrize("name, call, torch_call, message", WRONG_DTYPE, ids=[c[0] for c in WRONG_DTYPE])
def test_input_of_another_dtype_than_the_weight_is_refused_naming_both(name, call, torch_call, message):
    with pytest.raises(RuntimeError, match=re.escape(message)):
        call()


@pytest.mark.torch
@pytest.mark.parametrize("name, call, torch_call, message", NOT_A_TENSOR + WRONG_DTYPE,
                         ids=[c[0] for c in NOT_A_TENSOR + WRONG_DTYPE])
def test_pytorch_refuses_the_same_inputs(name, call, torch_call, message):
    torch = pytest.importorskip("torch")
    # torch's layers that call a method of the input first (softmax, batch norm) fail with AttributeError
    expected = (TypeError, AttributeError) if (name, call, torch_call, message) in NOT_A_TENSOR else RuntimeError
    with pytest.raises(expected):
        torch_call(torch)


def test_a_model_cast_to_float64_takes_float64_input():
    model = nn.Sequential(nn.Conv2d(3, 2, 3), nn.Flatten(), nn.Linear(18, 4)).to(tl.float64)
    assert model(tl.zeros(2, 3, 5, 5, dtype=tl.float64)).dtype == tl.float64
