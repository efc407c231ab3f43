"""Checkpoints: minitl's atomic .npz, and PyTorch / safetensors files read without torch or code execution."""
import io
import os
import pathlib
import pickle
import zipfile

import numpy as np
import pytest

import minitl as tl
from minitl.io import CheckpointError, load, load_torch_checkpoint, save
from minitl.io.safe_pickle import scan
from minitl.io.torch_checkpoint import LEGACY_MAGIC

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
EXPECTED = np.load(FIXTURES / "tensors_expected.npz")


# -- minitl's own .npz ----------------------------------------------------------

def test_save_and_load_roundtrip(tmp_path):
    state = {"w": tl.randn(2, 3), "b": np.arange(3.0), "count": np.int64(4)}
    save(state, tmp_path / "ckpt.npz")
    loaded = load(tmp_path / "ckpt.npz")
    assert list(loaded) == ["w", "b", "count"]
    np.testing.assert_array_equal(loaded["w"], state["w"].numpy())
    assert loaded["w"].dtype == np.float32 and loaded["count"] == 4


def test_interrupted_save_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    save({"w": np.ones(3)}, path)

    def failing_savez(file, **arrays):
        file.write(b"half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", failing_savez)
    with pytest.raises(KeyboardInterrupt):
        save({"w": np.zeros(3)}, path)
    monkeypatch.undo()
    np.testing.assert_array_equal(load(path)["w"], np.ones(3))
    assert os.listdir(tmp_path) == ["ckpt.npz"]


def test_save_refuses_bad_entries_and_load_names_missing_files(tmp_path):
    with pytest.raises(TypeError, match="strings"):
        save({1: np.ones(2)}, tmp_path / "a.npz")
    with pytest.raises(TypeError, match="'x' is not numeric"):
        save({"x": np.array([{}], dtype=object)}, tmp_path / "a.npz")
    with pytest.raises(FileNotFoundError, match="nowhere.npz"):
        load(tmp_path / "nowhere.npz")


def test_npz_with_pickled_objects_is_refused(tmp_path):
    np.savez(tmp_path / "evil.npz", x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="allow_pickle"):
        load(tmp_path / "evil.npz")


# -- PyTorch checkpoints ----------------------------------------------------------

@pytest.mark.parametrize("layout", ["zip", "legacy"])
def test_reads_every_dtype_and_view_from_torch_files(layout):
    arrays = load_torch_checkpoint(FIXTURES / f"tensors_{layout}.pt")
    assert list(arrays) == list(EXPECTED.files)  # unwrapped from {'state_dict': ...}, 'epoch' dropped
    for name in EXPECTED.files:
        assert arrays[name].dtype == EXPECTED[name].dtype, name
        np.testing.assert_array_equal(arrays[name], EXPECTED[name], err_msg=name)
    assert arrays["bfloat16"].dtype == np.float32 and arrays["float16"].dtype == np.float32
    assert arrays["transposed"].flags.c_contiguous  # copied out of the storage, not a view into it


def test_reads_the_real_legacy_cifar_resnet_checkpoint():
    directory = os.environ.get("MINITL_WEIGHTS_DIR")
    path = pathlib.Path(directory or ".") / "resnet20-12fca82f.th"
    if not directory or not path.exists():
        pytest.skip("set MINITL_WEIGHTS_DIR to a folder holding resnet20-12fca82f.th (CI uses ../shared/pretrained)")
    arrays = load_torch_checkpoint(path)  # saved from cuda:0 by an old PyTorch
    assert arrays["module.conv1.weight"].shape == (16, 3, 3, 3)
    assert arrays["module.linear.weight"].shape == (10, 64)
    assert all(a.dtype == np.float32 for a in arrays.values())
    assert len([k for k in arrays if k.endswith("running_var")]) == 19


class RunsCode:
    """Unpickling this calls os.system: what a malicious checkpoint would do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _malicious_zip(path, payload):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", payload)
        archive.writestr("archive/byteorder", "little")


def _malicious_legacy(path, payload, position):
    parts = [pickle.dumps(LEGACY_MAGIC, protocol=2), pickle.dumps(1001, protocol=2),
             pickle.dumps({"little_endian": True}, protocol=2), pickle.dumps({}, protocol=2)]
    parts[position] = payload
    path.write_bytes(b"".join(parts) + pickle.dumps([], protocol=2))


@pytest.mark.parametrize("layout", ["zip", "legacy-object", "legacy-magic"])
def test_malicious_pickles_are_refused_and_nothing_runs(tmp_path, layout):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"weight": RunsCode(marker)}, protocol=2)
    path = tmp_path / "evil.pt"
    if layout == "zip":
        _malicious_zip(path, payload)
    else:
        _malicious_legacy(path, payload, 3 if layout == "legacy-object" else 0)
    with pytest.raises(CheckpointError, match=r"refused to load global '(os|posix)\.system'"):
        load_torch_checkpoint(path)
    assert not marker.exists()


@pytest.mark.parametrize("layout", ["zip", "legacy"])
def test_truncated_and_corrupt_files_give_clear_errors(tmp_path, layout):
    data = (FIXTURES / f"tensors_{layout}.pt").read_bytes()
    cuts = [0, 10, len(data) // 3, len(data) // 2, len(data) - 40, len(data) - 1]
    for cut in cuts:
        path = tmp_path / f"cut{cut}.pt"
        path.write_bytes(data[:cut])
        with pytest.raises(CheckpointError, match=str(path)):
            load_torch_checkpoint(path)
    flipped = bytearray(data)
    for i in range(0, len(flipped), 97):
        flipped[i] ^= 0xFF
    path = tmp_path / "flipped.pt"
    path.write_bytes(bytes(flipped))
    with pytest.raises(CheckpointError):
        load_torch_checkpoint(path)


def test_bogus_storage_size_does_not_allocate(tmp_path):
    data = (FIXTURES / "tensors_legacy.pt").read_bytes()
    start = 0
    for _ in range(5):  # magic, protocol, system info, object, storage keys: the raw storages follow
        start = scan(data, start)
    huge = (2 ** 60).to_bytes(8, "little")
    path = tmp_path / "huge.pt"
    path.write_bytes(data[:start] + huge + data[start + 8:])
    with pytest.raises(CheckpointError, match="more than the file holds"):
        load_torch_checkpoint(path)


def test_not_a_dict_of_tensors_is_refused(tmp_path):
    path = tmp_path / "plain.pt"
    _malicious_legacy(path, pickle.dumps([1, 2, 3], protocol=2), 3)
    with pytest.raises(CheckpointError, match="expected a dict of tensors"):
        load_torch_checkpoint(path)


@pytest.mark.torch
@pytest.mark.parametrize("zip_format", [True, False])
def test_live_torch_save_roundtrip(tmp_path, zip_format):
    torch = pytest.importorskip("torch")
    state = {"a": torch.randn(3, 4, dtype=torch.float64).t(), "b": torch.arange(10)[2:8:2],
             "c": torch.randn(5).bfloat16()}
    path = tmp_path / "live.pt"
    torch.save({"model": state}, path, _use_new_zipfile_serialization=zip_format)
    arrays = load_torch_checkpoint(path)
    for name, tensor in state.items():
        np.testing.assert_array_equal(arrays[name], tensor.float().numpy() if name == "c" else tensor.numpy())


def test_safetensors_files(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    path = str(tmp_path / "weights.safetensors")
    safetensors_numpy.save_file({"w": np.arange(6, dtype=np.float16).reshape(2, 3), "n": np.arange(3)}, path)
    arrays = load_torch_checkpoint(path)
    assert arrays["w"].dtype == np.float32 and arrays["w"][1, 2] == 5 and arrays["n"].tolist() == [0, 1, 2]
    (tmp_path / "bad.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        load_torch_checkpoint(tmp_path / "bad.safetensors")
