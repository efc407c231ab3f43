"""Composite expressions against PyTorch: golden values always, live torch when importable."""
import pathlib
import types

import numpy as np
import pytest

import minitl as tl

from cases.core_expressions import EXPRESSIONS, make_inputs

GOLDEN = np.load(pathlib.Path(__file__).parent / "golden" / "core_expressions.npz")
MINITL_LIB = types.SimpleNamespace(cat=tl.cat, stack=tl.stack, where=tl.where, pad=tl.pad)


def minitl_values(fn, arrays, upstream):
    inputs = [tl.tensor(a, dtype=tl.float64, requires_grad=True) for a in arrays]
    output = fn(MINITL_LIB, *inputs)
    output.backward(tl.tensor(upstream, dtype=tl.float64))
    grads = [x.grad.numpy() if x.grad is not None else np.zeros_like(a) for x, a in zip(inputs, arrays)]
    return output.detach().numpy(), grads


@pytest.mark.parametrize("name", list(EXPRESSIONS))
def test_matches_recorded_pytorch_values(name):
    fn, shapes = EXPRESSIONS[name]
    arrays = [GOLDEN[f"{name}/input{i}"] for i in range(len(shapes))]
    output, grads = minitl_values(fn, arrays, GOLDEN[f"{name}/upstream"])
    assert tl.testing.rel_error(output, GOLDEN[f"{name}/output"]) < 1e-12
    for i, grad in enumerate(grads):
        assert tl.testing.rel_error(grad, GOLDEN[f"{name}/grad{i}"]) < 1e-12, f"gradient of input {i}"


@pytest.mark.torch
@pytest.mark.parametrize("name", list(EXPRESSIONS))
def test_matches_live_pytorch(name):
    pytest.importorskip("torch")
    import sys
    sys.path.insert(0, str(pathlib.Path(__file__).parent / "golden"))
    from make_core_golden import torch_reference

    fn, shapes = EXPRESSIONS[name]
    arrays = make_inputs(shapes, seed=123)
    expected_output, upstream, expected_grads = torch_reference(fn, arrays, seed=123)
    output, grads = minitl_values(fn, arrays, upstream)
    assert tl.testing.rel_error(output, expected_output) < 1e-12
    for grad, expected in zip(grads, expected_grads):
        assert tl.testing.rel_error(grad, expected) < 1e-12


@pytest.mark.parametrize("name", list(EXPRESSIONS))
def test_composites_pass_gradcheck(name):
    fn, shapes = EXPRESSIONS[name]
    inputs = [tl.tensor(a, dtype=tl.float64, requires_grad=True) for a in make_inputs(shapes, seed=7)]
    if shapes[-1] == "onehot":
        inputs[-1].requires_grad = False
    assert tl.gradcheck(lambda *xs: fn(MINITL_LIB, *xs), inputs)
