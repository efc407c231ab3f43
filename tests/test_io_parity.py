"""Saving and loading as torch.save/torch.load do, and weights taken on to PyTorch (issue 32, items 5 and 6).

Live against torch when it imports (``@pytest.mark.torch``); without it, against tests/golden/io.npz
(tests/golden/make_io_golden.py) and the torch-written fixtures of tests/fixtures/.
"""
import io
import pathlib
import zipfile

import numpy as np
import pytest

import minitl as tl
from minitl import models, nn
from minitl.__main__ import main as cli
from minitl.io import CheckpointError, load, load_torch_checkpoint, save, save_for_torch, save_safetensors
from minitl.lab.torch_models import cnn_s, torch_resnet20

import local_files
import torch_pickles as tp
from cases.io_cases import seeded_state

TESTS = pathlib.Path(__file__).parent
FIXTURES = TESTS / "fixtures"
GOLDEN = np.load(TESTS / "golden" / "io.npz")


def torch_or_skip():
    return pytest.importorskip("torch")


def logits(model, x):
    with tl.no_grad():
        return model.eval()(tl.tensor(x)).numpy()


def golden_cnn():
    model = cnn_s(nn)
    model.load_state_dict(seeded_state({name: value.shape for name, value in model.state_dict().items()}))
    return model


# -- file objects, map_location, weights_only ----------------------------------------------------------------

def test_save_and_load_through_open_files(tmp_path):
    state = {"w": tl.randn(2, 3), "step": 4}
    buffer = io.BytesIO()
    save(state, buffer)
    buffer.seek(0)
    loaded = load(buffer)
    np.testing.assert_array_equal(loaded["w"], state["w"].numpy())
    assert loaded["step"] == 4
    with open(tmp_path / "c.npz", "wb") as file:
        save(state, file)
    (tmp_path / "c.npz").write_bytes(b"header" + (tmp_path / "c.npz").read_bytes())
    with open(tmp_path / "c.npz", "rb") as file:
        file.seek(len(b"header"))  # read from where it stands, as torch.load reads one
        np.testing.assert_array_equal(load(file)["w"], state["w"].numpy())
    with pytest.raises(CheckpointError, match="<BytesIO>: .*truncated"):
        load(io.BytesIO(buffer.getvalue()[:-30]))


def test_map_location_and_weights_only_are_accepted_with_torchs_meaning():
    buffer = io.BytesIO()
    save({"w": np.arange(3.0)}, buffer)
    for map_location in [None, "cpu", tl.device("cpu"), {"cuda:0": "cpu"}, {"cpu": "cpu"}, lambda storage, loc: storage]:
        for weights_only in (None, True, False):  # every load is the safe one: False cannot mean more
            loaded = load(io.BytesIO(buffer.getvalue()), map_location=map_location, weights_only=weights_only)
            assert type(loaded["w"]) is np.ndarray and loaded["w"].tolist() == [0.0, 1.0, 2.0]
    doubled = load(io.BytesIO(buffer.getvalue()), map_location=lambda array, location: array * 2)
    assert doubled["w"].tolist() == [0.0, 2.0, 4.0]
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        load(io.BytesIO(buffer.getvalue()), map_location="tpu")
    with pytest.raises(TypeError, match="weights_only must be a bool"):
        load(io.BytesIO(buffer.getvalue()), weights_only="yes")


@pytest.mark.gpu
def test_map_location_cuda_gives_gpu_arrays():
    cupy = pytest.importorskip("cupy")
    if not tl.cuda.is_available():
        pytest.skip("needs a GPU")
    buffer = io.BytesIO()
    save({"w": np.arange(3.0)}, buffer)
    assert isinstance(load(io.BytesIO(buffer.getvalue()), map_location="cuda")["w"], cupy.ndarray)


# -- PyTorch files through tl.load -------------------------------------------------------------------------

@pytest.mark.parametrize("layout", ["zip", "legacy"])
def test_load_reads_a_pytorch_checkpoint_whole(layout):
    loaded = load(FIXTURES / f"tensors_{layout}.pt")  # {"state_dict": ..., "epoch": 7, "best_prec1": 91.2}
    assert loaded["epoch"] == 7 and loaded["best_prec1"] == 91.2
    flat = load_torch_checkpoint(FIXTURES / f"tensors_{layout}.pt")
    assert list(loaded["state_dict"]) == list(flat)
    for name, array in flat.items():
        np.testing.assert_array_equal(loaded["state_dict"][name], array)


@pytest.mark.torch
def test_load_returns_what_torch_load_returns(tmp_path):
    torch = torch_or_skip()
    net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    net(torch.randn(4, 3)).sum().backward()
    opt.step()
    checkpoint = {"model": net.state_dict(), "optimizer": opt.state_dict(), "epoch": 3,
                  "history": [(0.5, "a"), {"acc": 0.75}], "shared": net[0].weight}
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    expected = torch.load(io.BytesIO(buffer.getvalue()), weights_only=True)
    loaded = load(io.BytesIO(buffer.getvalue()))

    def same(ours, theirs):
        if isinstance(theirs, torch.Tensor):
            theirs = theirs.detach().numpy()
            assert isinstance(ours, np.ndarray) and ours.dtype == theirs.dtype
            np.testing.assert_array_equal(ours, theirs)
        elif isinstance(theirs, (dict, list, tuple)):
            assert type(ours) is type(theirs) or isinstance(ours, dict) and isinstance(theirs, dict)
            assert len(ours) == len(theirs)
            for a, b in zip(ours.items() if isinstance(ours, dict) else ours,
                            theirs.items() if isinstance(theirs, dict) else theirs):
                same(a, b)
        else:
            assert ours == theirs

    same(loaded, expected)
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    model.load_state_dict(load(io.BytesIO(buffer.getvalue()))["model"])  # as in a PyTorch tutorial
    np.testing.assert_array_equal(model[0].weight.detach().numpy(), net[0].weight.detach().numpy())


def test_load_refuses_a_pytorch_object_nested_too_deep_and_walks_a_shared_one_once(tmp_path):
    deep = b"]" * 150 + b"a" * 149  # EMPTY_LIST x150, APPEND x149: 150 nested lists
    path = tmp_path / "deep.pt"
    tp.write_zip(path, b"\x80\x02}" + tp.value("x") + deep + b"s.", {})
    with pytest.raises(CheckpointError, match=f"{path}: nested deeper than 100 levels"):
        load(path)
    shared = b"]q\x00" + b"](h\x00h\x00eq\x00" * 60  # [prev, prev], 60 times (EMPTY_LIST MARK GET GET APPENDS PUT)
    tp.write_zip(path, b"\x80\x02" + shared + b".", {})
    loaded = load(path)  # 2**60 paths through 61 lists: walked once each
    assert len(loaded) == 2 and loaded[0] is loaded[1]


# -- truncated files -----------------------------------------------------------------------------------------

def test_every_format_cut_short_says_truncated():
    minitl_file = io.BytesIO()
    save({"w": np.arange(40.0), "n": [1, 2]}, minitl_file)
    safetensors_file = io.BytesIO()
    save_safetensors({"w": np.arange(40.0)}, safetensors_file)
    files = {"minitl": minitl_file.getvalue(), "safetensors": safetensors_file.getvalue(),
             "zip": (FIXTURES / "tensors_zip.pt").read_bytes(), "legacy": (FIXTURES / "tensors_legacy.pt").read_bytes()}
    for data in files.values():
        for cut in range(0, len(data), 7):
            with pytest.raises(CheckpointError, match="truncated"):
                load(io.BytesIO(data[:cut]))


# -- num_batches_tracked, as torch tolerates its absence ---------------------------------------------------

def test_a_state_dict_without_num_batches_tracked_loads():
    bn = nn.BatchNorm2d(3)
    bn.num_batches_tracked.data[...] = 5
    state = {key: value for key, value in nn.BatchNorm2d(3).state_dict().items() if key != "num_batches_tracked"}
    result = bn.load_state_dict(state)
    assert result.missing_keys == [] and int(bn.num_batches_tracked.item()) == 5  # kept, as in PyTorch
    del state["running_mean"]
    with pytest.raises(RuntimeError, match='Missing key\\(s\\) in state_dict: "running_mean"'):
        bn.load_state_dict(state)


@pytest.mark.torch
def test_torch_also_loads_a_batch_norm_without_num_batches_tracked():
    torch = torch_or_skip()
    bn = torch.nn.BatchNorm2d(3)
    state = {key: value for key, value in bn.state_dict().items() if key != "num_batches_tracked"}
    assert bn.load_state_dict(state).missing_keys == []


@local_files.needs_weights
def test_a_converted_checkpoint_loads_with_load_state_dict(tmp_path):
    assert cli(["convert", str(local_files.checkpoint_path()), "-o", str(tmp_path / "r20.npz")]) == 0
    model = models.resnet20()
    assert model.load_state_dict(tl.load(tmp_path / "r20.npz")).missing_keys == []  # no num_batches_tracked
    reference = models.resnet20(weights=local_files.checkpoint_path())
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    np.testing.assert_array_equal(logits(model, x), logits(reference, x))


# -- weights for PyTorch ------------------------------------------------------------------------------------

def test_save_for_torch_writes_torchs_zip_layout_that_minitl_reads_back():
    state = golden_cnn().state_dict()
    state["shared"] = state["0.weight"]
    buffer = io.BytesIO()
    save_for_torch(state, buffer)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as archive:
        names = archive.namelist()
    assert names[0] == "archive/data.pkl" and "archive/version" in names and "archive/byteorder" in names
    assert len([name for name in names if name.startswith("archive/data/")]) == len(state) - 1  # shared: once
    loaded = load(io.BytesIO(buffer.getvalue()))
    assert list(loaded) == list(state)
    model = cnn_s(nn)
    del loaded["shared"]
    model.load_state_dict(loaded)
    np.testing.assert_allclose(logits(model, GOLDEN["x"]), GOLDEN["logits"], rtol=1e-4, atol=1e-5)  # torch's


def test_save_safetensors_reads_back():
    state = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "n": np.array(3, dtype=np.int64),
             "h": np.ones(2, np.float16), "b": np.array([True, False])}
    buffer = io.BytesIO()
    save_safetensors(state, buffer)
    loaded = load(io.BytesIO(buffer.getvalue()))
    for key, value in state.items():
        expected = value.astype(np.float32) if value.dtype == np.float16 else value  # the reader widens float16
        assert loaded[key].dtype == expected.dtype
        np.testing.assert_array_equal(loaded[key], expected)


def test_export_refuses_what_pytorch_would_not_read():
    for bad, match in [({"w": {"nested": np.ones(2)}}, "maps names to arrays or Tensors"),
                       ({"w": np.ones(2, np.complex64)}, "no type for dtype complex64"), ([np.ones(2)], "a list")]:
        for write in (save_for_torch, save_safetensors):
            with pytest.raises(TypeError, match=match):
                write(bad, io.BytesIO())


@pytest.mark.torch
@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
def test_a_small_cnn_goes_on_to_pytorch_with_the_same_outputs(tmp_path, suffix):
    torch = torch_or_skip()
    model = cnn_s(nn)
    path = tmp_path / f"cnn{suffix}"
    assert cli(["export", str(tmp_path / "cnn.npz"), "-o", str(path)]) == 1  # no such file: an error
    save(model.state_dict(), tmp_path / "cnn.npz")
    assert cli(["export", str(tmp_path / "cnn.npz"), "-o", str(path)]) == 0
    if suffix == ".pt":
        state = torch.load(path, weights_only=True)
    else:
        state = pytest.importorskip("safetensors.torch").load_file(path)
    net = cnn_s(torch.nn).eval()
    net.load_state_dict(state)  # strict: the same names and shapes
    x = np.random.default_rng(1).standard_normal((3, 3, 32, 32)).astype(np.float32)
    with torch.no_grad():
        theirs = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(logits(model, x), theirs, rtol=1e-4, atol=1e-5)


@pytest.mark.torch
def test_resnet20_goes_on_to_pytorch_with_the_same_logits(tmp_path):
    torch = torch_or_skip()
    model = models.resnet20()
    rng = np.random.default_rng(2)
    for name, buffer in model.named_buffers():  # running statistics that are not the initial 0 and 1
        if name.endswith(("running_mean", "running_var")):
            buffer.data[...] = rng.uniform(0.5, 1.5, buffer.shape)
    model.bn1.num_batches_tracked.data[...] = 7
    save_for_torch(model.state_dict(), tmp_path / "resnet20.pt")
    state = torch.load(tmp_path / "resnet20.pt")  # torch's default: weights_only=True
    net = torch_resnet20(model).eval()
    assert [tuple(v.shape) for v in net.state_dict().values()] == [v.shape for v in model.state_dict().values()]
    net.load_state_dict(dict(zip(net.state_dict(), state.values())))  # the same order; torch's names differ
    assert int(net.bn1.num_batches_tracked) == 7 and state["bn1.num_batches_tracked"].dtype == torch.int64
    x = rng.standard_normal((4, 3, 32, 32)).astype(np.float32)
    with torch.no_grad():
        theirs = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(logits(model, x), theirs, rtol=1e-4, atol=1e-4)
