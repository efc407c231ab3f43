"""Checkpoints: minitl's atomic .npz, and PyTorch / safetensors files read without torch or code execution."""
import io
import json
import os
import pathlib
import pickle
import signal
import stat
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import minitl as tl
from minitl.io import CheckpointError, load, load_torch_checkpoint, save
from minitl.io.safe_pickle import scan
from minitl.io.torch_checkpoint import LEGACY_MAGIC

import local_files

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
EXPECTED = np.load(FIXTURES / "tensors_expected.npz")


# -- minitl's own format ----------------------------------------------------------

def test_save_and_load_roundtrip(tmp_path):
    state = {"w": tl.randn(2, 3), "b": np.arange(3.0), "count": np.int64(4)}
    save(state, tmp_path / "ckpt.npz")
    loaded = load(tmp_path / "ckpt.npz")
    assert list(loaded) == ["w", "b", "count"]
    np.testing.assert_array_equal(loaded["w"], state["w"].numpy())
    assert loaded["w"].dtype == np.float32 and loaded["count"] == 4 and isinstance(loaded["count"], np.int64)


def test_any_key_and_any_nesting_of_plain_data_roundtrips(tmp_path):
    keys = ["allow_pickle", "file", "", "a/b.npy", "structure.json", "arrays/0.npy", "\udc80 lone surrogate",
            "ünï €", 0, -7, 10 ** 30]
    shared = np.arange(4.0)
    obj = {"keys": {key: i for i, key in enumerate(keys)},
           "nested": [(1, 2.5, None, True, "x"), {"deep": [[[shared]]]}, [], ()],
           "floats": [float("nan"), float("inf"), -0.0, 1e-310], "shared": shared, "half": np.ones(2, np.float16),
           "big_endian": np.arange(3, dtype=">i4"), "fortran": np.asfortranarray(np.ones((2, 3))),
           "scalar": np.float32(1.5), "flag": np.bool_(True), "empty": np.zeros((0, 3))}
    save(obj, tmp_path / "c.npz")
    loaded = load(tmp_path / "c.npz")
    assert list(loaded["keys"].items()) == [(key, i) for i, key in enumerate(keys)]
    assert loaded["nested"][0] == (1, 2.5, None, True, "x") and loaded["nested"][2:] == [[], ()]
    assert np.isnan(loaded["floats"][0]) and loaded["floats"][1:] == [float("inf"), -0.0, 1e-310]
    assert loaded["nested"][1]["deep"][0][0][0] is loaded["shared"]  # stored once, loaded as one array
    assert loaded["half"].dtype == np.float16 and loaded["big_endian"].tolist() == [0, 1, 2]
    assert loaded["fortran"].shape == (2, 3) and loaded["empty"].shape == (0, 3)
    assert type(loaded["scalar"]) is np.float32 and loaded["scalar"] == 1.5 and loaded["flag"] is np.True_


def test_save_refuses_what_it_cannot_store(tmp_path):
    for bad, match in [({(1, 2): np.ones(2)}, "dict key"), ({True: 1}, "dict key"),
                       ({"x": np.array([{}], dtype=object)}, "dtype object"), ({"f": print}, "cannot save a"),
                       ({"s": {1, 2}}, "cannot save a set")]:
        with pytest.raises(TypeError, match=match):
            save(bad, tmp_path / "a.npz")
    deep = []
    for _ in range(200):
        deep = [deep]
    with pytest.raises(ValueError, match="nested deeper than 100 levels"):
        save(deep, tmp_path / "a.npz")
    assert os.listdir(tmp_path) == []


def test_interrupted_save_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    save({"w": np.ones(3)}, path)

    def failing_write(file, array, **options):
        file.write(b"half an array")
        raise KeyboardInterrupt

    monkeypatch.setattr(np.lib.format, "write_array", failing_write)
    with pytest.raises(KeyboardInterrupt):
        save({"w": np.zeros(3)}, path)
    monkeypatch.undo()
    np.testing.assert_array_equal(load(path)["w"], np.ones(3))
    assert os.listdir(tmp_path) == ["ckpt.npz"]


KILLED_SAVER = """
import sys, numpy as np, minitl as tl
big = np.ones(8 << 20)  # 64 MB: each save takes a while
while True:
    tl.save({"w": big, "n": 1}, sys.argv[1])
    print("saved", flush=True)
"""


def test_killed_saves_leave_one_temporary_at_most_and_a_whole_file(tmp_path):
    path = tmp_path / "ckpt.npz"
    for _ in range(4):
        child = subprocess.Popen([sys.executable, "-c", KILLED_SAVER, str(path)], stdout=subprocess.PIPE)
        child.stdout.readline()  # one whole save done; the next one is under way
        child.send_signal(signal.SIGKILL)
        child.wait()
        assert load(path)["n"] == 1  # whatever was killed, the checkpoint is whole
        assert set(os.listdir(tmp_path)) <= {"ckpt.npz", ".ckpt.npz.partial"}
    save({"n": 2}, path)  # removes the temporary file and creates its own
    assert os.listdir(tmp_path) == ["ckpt.npz"] and load(path) == {"n": 2}


def test_saved_files_honour_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        save({"n": 1}, tmp_path / "a.npz")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "a.npz").st_mode) == 0o640


def test_saving_through_a_symlink_writes_its_target(tmp_path):
    (tmp_path / "real").mkdir()
    target, link = tmp_path / "real" / "ckpt.npz", tmp_path / "link.npz"
    link.symlink_to(target)
    save({"n": 1}, link)
    assert link.is_symlink() and load(target) == {"n": 1} and load(link) == {"n": 1}
    assert os.listdir(tmp_path / "real") == ["ckpt.npz"]


def test_a_missing_directory_is_named_with_the_destination(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"cannot save to {tmp_path}/no/such/dir/a.npz: the directory "
                                                f"{tmp_path}/no/such/dir does not exist"):
        save({"n": 1}, tmp_path / "no" / "such" / "dir" / "a.npz")
    with pytest.raises(FileNotFoundError, match="nowhere.npz"):
        load(tmp_path / "nowhere.npz")


def test_plain_npz_files_of_earlier_versions_still_load(tmp_path):
    np.savez(tmp_path / "old.npz", w=np.ones(2), b=np.zeros(3, np.int64))
    loaded = load(tmp_path / "old.npz")
    assert list(loaded) == ["w", "b"] and loaded["b"].dtype == np.int64


def test_malformed_files_are_checkpoint_errors_naming_the_file(tmp_path):
    np.savez(tmp_path / "objects.npz", x=np.array([{"a": 1}], dtype=object))
    np.save(tmp_path / "plain.npy", np.ones(3))
    np.savez_compressed(tmp_path / "compressed.npz", x=np.ones(3))
    (tmp_path / "garbage.npz").write_bytes(b"PK\x03\x04" + b"\0" * 100)
    with zipfile.ZipFile(tmp_path / "huge.npz", "w") as archive:  # a header announcing 8 TB
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (10 ** 12,)})
        archive.writestr("x.npy", header.getvalue() + b"\0" * 8)
    cases = {"objects.npz": "dtype object", "plain.npy": "not a minitl checkpoint",
             "compressed.npz": "compressed", "garbage.npz": "truncated, or a corrupt zip archive",
             "huge.npz": r"announces shape \(1000000000000,\)"}
    for name, match in cases.items():
        with pytest.raises(CheckpointError, match=f"{tmp_path / name}: .*{match}"):
            load(tmp_path / name)
    # a PyTorch checkpoint is not refused: tl.load reads it as torch.load does (tests/test_io_parity.py)


def test_hostile_structures_are_refused(tmp_path):
    def write(structure, arrays=()):
        with zipfile.ZipFile(tmp_path / "s.npz", "w") as archive:
            archive.writestr("structure.json", structure)
            for i, array in enumerate(arrays):
                with archive.open(f"arrays/{i}.npy", "w") as member:
                    np.lib.format.write_array(member, array)
        return tmp_path / "s.npz"

    head = '{"format": "minitl", "version": 1, "object": '
    for body, match in [('{"array": 5}}', "unknown form"), ('{"dict": [["a", 1], ["a", 2]]}}', "repeated key"),
                        ('{"dict": [[[1], 2]]}}', "unknown form"), ('{"eval": "x"}}', "unknown form"),
                        ("[" * 100_000 + "]" * 100_000 + "}", "RecursionError"),
                        ('{"list": [' * 200 + "]}" * 200 + "}", "deeper than 100")]:
        with pytest.raises(CheckpointError, match=match):
            load(write(head + body))
    with zipfile.ZipFile(write(head + '{"array": 0}}', [np.ones(1)]), "a") as archive:
        archive.writestr("extra.txt", "what is this?")
    with pytest.raises(CheckpointError, match="expected structure.json and arrays/0.npy"):
        load(tmp_path / "s.npz")


# -- PyTorch checkpoints ----------------------------------------------------------

@pytest.mark.parametrize("layout", ["zip", "legacy"])
def test_reads_every_dtype_and_view_from_torch_files(layout):
    arrays = load_torch_checkpoint(FIXTURES / f"tensors_{layout}.pt")
    assert list(arrays) == list(EXPECTED.files)  # unwrapped from {'state_dict': ...}, 'epoch' dropped
    for name in EXPECTED.files:
        assert arrays[name].dtype == EXPECTED[name].dtype, name
        np.testing.assert_array_equal(arrays[name], EXPECTED[name], err_msg=name)
    assert arrays["bfloat16"].dtype == np.float32 and arrays["float16"].dtype == np.float32
    # views of their storage, as torch's tensors are: one copy of the shared storage in memory
    assert np.shares_memory(arrays["transposed"], arrays["shares_storage"])
    assert np.shares_memory(arrays["sliced"], arrays["shares_storage"])


def test_reads_the_real_legacy_cifar_resnet_checkpoint():
    path = local_files.checkpoint_path()
    if path is None:
        pytest.skip(local_files.WEIGHTS_SKIP)
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
        archive.writestr("archive/version", "3")


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
    stream = io.BytesIO(data)
    for _ in range(5):  # magic, protocol, system info, object, storage keys: the raw storages follow
        start = scan(stream)
    huge = (2 ** 60).to_bytes(8, "little")
    path = tmp_path / "huge.pt"
    path.write_bytes(data[:start] + huge + data[start + 8:])
    with pytest.raises(CheckpointError, match="holds 1152921504606846976 elements, the object declares 20"):
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


def test_safetensors_files_written_by_the_reference_package(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    path = str(tmp_path / "weights.safetensors")
    safetensors_numpy.save_file({"w": np.arange(6, dtype=np.float16).reshape(2, 3), "n": np.arange(3)}, path)
    arrays = load_torch_checkpoint(path)
    assert arrays["w"].dtype == np.float32 and arrays["w"][1, 2] == 5 and arrays["n"].tolist() == [0, 1, 2]


def safetensors_file(path, header, data=b""):
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    path.write_bytes(len(raw).to_bytes(8, "little") + raw + data)
    return path


def test_safetensors_bfloat16_and_every_malformed_header(tmp_path):
    bf16 = (np.array([1.5, -2.0], np.float32).view(np.uint32) >> 16).astype("<u2").tobytes()
    ok = safetensors_file(tmp_path / "ok.safetensors", {"__metadata__": {"a": "b"}, "x": {
        "dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}}, bf16)
    assert load_torch_checkpoint(ok)["x"].tolist() == [1.5, -2.0]
    f32 = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
    cases = {
        "not json": (b"{not json", b"", "JSONDecodeError"),
        "header longer than the file": (b"{}", None, "a header of"),
        "repeated name": (b'{"x": 1, "x": 2}', b"", "names a tensor twice"),
        "unknown dtype": ({"x": {**f32, "dtype": "F8_E4M3"}}, b"\0" * 8, "known dtype"),
        "negative shape": ({"x": {**f32, "shape": [-2]}}, b"\0" * 8, "known dtype"),
        "size mismatch": ({"x": {**f32, "shape": [3]}}, b"\0" * 8, r"bytes \[0, 8\) for shape \[3\]"),
        "beyond the data": ({"x": {**f32, "data_offsets": [8, 16]}}, b"\0" * 8, r"bytes \[8, 16\)"),
        "overlap": ({"x": f32, "y": f32}, b"\0" * 8, "gap or overlap"),
        "trailing bytes": ({"x": f32}, b"\0" * 12, "4 bytes after the last tensor"),
        "deep json": (b"[" * 100_000 + b"]" * 100_000, b"", "more JSON objects or arrays than its tensors need"),
        "a terabyte tensor": ({"x": {**f32, "shape": [2 ** 40], "data_offsets": [0, 2 ** 42]}}, b"", "bytes"),
        "too short": (None, None, "shorter than the 8-byte header length"),
    }
    for name, (header, data, match) in cases.items():
        path = tmp_path / f"{name}.safetensors"
        if header is None:
            path.write_bytes(b"\x10")
        elif data is None:
            path.write_bytes((1000).to_bytes(8, "little") + header)
        else:
            safetensors_file(path, header, data)
        with pytest.raises(CheckpointError, match=f"{path}: not a readable safetensors file: .*{match}"):
            load_torch_checkpoint(path)
