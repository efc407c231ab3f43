"""Hostile PyTorch checkpoints: refused with CheckpointError naming the file, in bounded memory and time.

The files are assembled opcode by opcode (tests/torch_pickles.py), so no
torch is needed. Memory bounds are checked in child processes whose address
space is capped with resource.setrlimit.
"""
import pathlib
import pickle
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

import minitl
from minitl import models
from minitl.io import CheckpointError, load_torch_checkpoint
from minitl.io.torch_checkpoint import StorageRef, StorageType, TensorRef

import torch_pickles as tp

FLOATS = np.arange(6, dtype=np.float32).tobytes()  # one storage of 6 elements


def write(path, entries, layout, storages=None, extra=()):
    """A checkpoint of `entries` (name -> opcodes) whose storage "0" holds FLOATS."""
    data_pkl = tp.state_pickle(entries)
    if layout == "zip":
        tp.write_zip(path, data_pkl, storages or {"0": FLOATS}, extra)
    else:
        tp.write_legacy(path, data_pkl, storages or {"0": (6, FLOATS)})
    return path


def floats(offset=0, size=(6,), stride=(1,), layout="zip", view=False):
    return tp.tensor(tp.storage_id("0", 6, view=view, legacy=layout == "legacy"), offset, size, stride)


def refused(path, match):
    with pytest.raises(CheckpointError, match=match) as info:
        load_torch_checkpoint(path)
    assert str(path) in str(info.value)


LAYOUTS = ["zip", "legacy"]


# -- 1. nothing outside a storage is read; the helper objects cannot be changed -----------------------------
@pytest.mark.parametrize("layout", LAYOUTS)
def test_views_outside_their_storage_are_refused(tmp_path, layout):
    refused(write(tmp_path / "a.pt", {"w": floats(offset=-2, layout=layout)}, layout), "non-negative")
    refused(write(tmp_path / "b.pt", {"w": floats(offset=1, layout=layout)}, layout), "reaches element 6")
    refused(write(tmp_path / "c.pt", {"w": floats(size=(2, 3), stride=(4, 1), layout=layout)}, layout),
            "reaches element 6")
    refused(write(tmp_path / "d.pt", {"w": floats(stride=(-1,), layout=layout)}, layout), "non-negative")


def test_legacy_storage_views_with_negative_or_oversized_ranges_are_refused(tmp_path):
    refused(write(tmp_path / "a.pt", {"w": floats(size=(2,), layout="legacy", view=(-2, 4))}, "legacy"),
            r"view of elements \[-2, 2\)")
    refused(write(tmp_path / "b.pt", {"w": floats(size=(2,), layout="legacy", view=(4, 4))}, "legacy"),
            r"view of elements \[4, 8\)")
    ok = load_torch_checkpoint(write(tmp_path / "c.pt", {"w": floats(1, (2,), layout="legacy", view=(2, 4))},
                                     "legacy"))
    assert ok["w"].tolist() == [3, 4]


@pytest.mark.parametrize("target", ["tensor", "rebuild function", "storage type"])
def test_build_cannot_change_the_readers_objects(tmp_path, target):
    set_dtype = tp.value({"dtype": "U1", "offset": -4}) + b"b"  # BUILD with this state
    rebuild, storage_type = tp.global_("torch._utils", "_rebuild_tensor_v2"), tp.global_("torch", "FloatStorage")
    opcodes = {"tensor": floats() + set_dtype,
               "rebuild function": floats().replace(rebuild, rebuild + set_dtype),
               "storage type": floats().replace(storage_type, storage_type + set_dtype)}[target]
    refused(write(tmp_path / "evil.pt", {"w": opcodes}, "zip"), "refused to set the state")
    assert load_torch_checkpoint(write(tmp_path / "fine.pt", {"w": floats()}, "zip"))["w"].dtype == np.float32
    storage = StorageRef(StorageType("FloatStorage"), "0", 6)
    for obj in (storage.type, storage, TensorRef(storage, 0, (6,), (1,))):
        assert not hasattr(obj, "__dict__")
        with pytest.raises(AttributeError):
            obj.dtype_override = "U1"


def test_only_numeric_storage_types_exist(tmp_path):
    opcodes = floats().replace(b"FloatStorage", b"StringStorage")
    refused(write(tmp_path / "a.pt", {"w": opcodes}, "zip"), "refused to load global 'torch.StringStorage'")


# -- 2. memory and time bounded by the file ---------------------------------------------------------------
def run_capped(code, cap_bytes):
    """Run `code` in a child whose address space may grow by at most `cap_bytes`; return its stdout."""
    prelude = textwrap.dedent("""
        import resource, sys
        import numpy as np
        import minitl
        from minitl.io import CheckpointError, load_torch_checkpoint
        def vm_size():
            status = open("/proc/self/status").read()
            return int(status.split("VmSize:")[1].split()[0]) * 1024
        cap = vm_size() + CAP
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    """).replace("CAP", str(cap_bytes))
    result = subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], check=False,
                            capture_output=True, text=True, timeout=120, env={"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
                                              "PYTHONPATH": str(pathlib.Path(__file__).parent.parent)})
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def expect_refusal_under_cap(path, match, cap=64 << 20):
    out = run_capped(f"""
        try:
            load_torch_checkpoint({str(path)!r})
        except CheckpointError as err:
            print(err)
    """, cap)
    assert str(path) in out and __import__("re").search(match, out), out


@pytest.mark.parametrize("layout", LAYOUTS)
def test_a_memo_bomb_is_refused_before_the_unpickler_allocates(tmp_path, layout):
    bomb = b"r" + (4_000_000_000).to_bytes(4, "little")  # LONG_BINPUT 4e9: CPython would zero an 8 GB memo
    path = write(tmp_path / "bomb.pt", {"w": floats(layout=layout) + bomb}, layout)
    expect_refusal_under_cap(path, "memo index 4000000000")


def test_huge_lengths_are_refused_before_allocating(tmp_path):
    bytes8 = b"\x8e" + (2 ** 40).to_bytes(8, "little") + b"abc"  # BINBYTES8 of a terabyte
    unicode8 = b"\x8d" + (2 ** 40).to_bytes(8, "little") + b"abc"
    for name, opcodes in [("bytes8", bytes8), ("unicode8", unicode8)]:
        path = write(tmp_path / f"{name}.pt", {"w": floats(), "x": opcodes}, "zip")
        expect_refusal_under_cap(path, "malformed pickle")
    for layout in LAYOUTS:
        huge = tp.tensor(tp.storage_id("0", 2 ** 40, legacy=layout == "legacy"), 0, (2 ** 40,), (1,))
        path = write(tmp_path / f"{layout}.pt", {"w": huge}, layout, {"0": FLOATS if layout == "zip" else
                                                                      (2 ** 40, FLOATS)})
        expect_refusal_under_cap(path, "holds 24 bytes" if layout == "zip" else "24 bytes are left")


def test_a_stride_0_view_stays_a_view(tmp_path):
    path = write(tmp_path / "expanded.pt", {"w": floats(size=(20000, 20000), stride=(0, 1))[:0]
                                            + tp.tensor(tp.storage_id("0", 6), 2, (20000, 20000), (0, 0))}, "zip")
    out = run_capped(f"""
        w = load_torch_checkpoint({str(path)!r})["w"]
        print(w.shape, w.strides, float(w[19999, 123]))
    """, 256 << 20)  # 1.6 GB if copied
    assert out.split() == ["(20000,", "20000)", "(0,", "0)", "2.0"]


def memo(opcode, index):
    return opcode + index.to_bytes(4, "little")  # b"r" LONG_BINPUT, b"j" LONG_BINGET


def test_shared_tensors_and_storages_are_shared_not_copied(tmp_path):
    shared = {"half": floats(3, (3,)), "w0": floats() + memo(b"r", 50),
              **{f"w{i}": memo(b"j", 50) for i in range(1, 256)}}  # the first tensor, 255 more times
    arrays = load_torch_checkpoint(write(tmp_path / "shared.pt", shared, "zip"))
    assert len(arrays) == 257 and all(arrays[f"w{i}"] is arrays["w0"] for i in range(256))
    assert np.shares_memory(arrays["half"], arrays["w0"]) and arrays["half"].tolist() == [3, 4, 5]


def test_shared_lists_and_deep_nesting_cost_linear_time(tmp_path):
    dag = b"](]" + memo(b"r", 0)  # [L0, L1, ..., L39] with L0 = []
    for depth in range(1, 40):  # L_d = [L_{d-1}, L_{d-1}]: 2**40 paths when walked as a tree
        dag += b"](" + memo(b"j", depth - 1) * 2 + b"e" + memo(b"r", depth)  # EMPTY_LIST MARK .. APPENDS
    dag += b"e"
    deep = b"]" * 10_000 + b"a" * 9_999  # a list nested 10,000 deep: EMPTY_LISTs, then APPENDs
    path = write(tmp_path / "nested.pt", {"w": floats(), "dag": dag, "deep": deep}, "zip")
    assert load_torch_checkpoint(path)["w"].tolist() == [0, 1, 2, 3, 4, 5]  # the other entries are not tensors
    deeper = b"]" * 100_000 + b"a" * 99_999  # 2 bytes a list of 88 bytes: over the memory bound (32 x the pickle)
    refused(write(tmp_path / "deeper.pt", {"w": floats(), "deep": deeper}, "zip"), "would build objects of over")


def test_zip_entries_must_be_exact_unique_and_stored(tmp_path):
    refused(write(tmp_path / "long.pt", {"w": floats()}, "zip", {"0": FLOATS + b"\0" * 1000}),
            "holds 1024 bytes, its storage needs 24")
    refused(write(tmp_path / "short.pt", {"w": floats()}, "zip", {"0": FLOATS[:20]}),
            "holds 20 bytes, its storage needs 24")
    with pytest.warns(UserWarning, match="Duplicate name"):
        path = write(tmp_path / "twice.pt", {"w": floats()}, "zip", extra=[("archive/data/0", b"\0" * 24)])
    refused(path, "two entries named 'archive/data/0'")
    path = tmp_path / "deflated.pt"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, raw in [("archive/data.pkl", tp.state_pickle({"w": floats()})), ("archive/version", b"3"),
                          ("archive/data/0", b"\0" * 10_000_000 + FLOATS)]:
            archive.writestr(name, raw)
    refused(path, "compressed")


def test_peak_memory_is_about_the_files_size(tmp_path):
    """The stated bounds (file size + twice the float16 storages + a constant; tl.load: file size + a constant),
    checked with 48 MB files under a cap of 48 + 24 MB."""
    count = 12 << 20
    big = np.arange(count, dtype=np.float32).tobytes()
    for layout in LAYOUTS:
        storage = tp.storage_id("0", count, legacy=layout == "legacy")
        entries = {"w": tp.tensor(storage, 0, (count,), (1,)),
                   "t": tp.tensor(storage, 0, (count // 4, 4), (1, count // 4))}
        path = write(tmp_path / f"big-{layout}.pt", entries, layout, {"0": big} if layout == "zip" else
                     {"0": (count, big)})
        out = run_capped(f"""
            arrays = load_torch_checkpoint({str(path)!r})
            print(float(arrays["w"][-1]), float(arrays["t"][1, 0]))
        """, len(big) + (24 << 20))  # 48 MB of storage under a cap of 48 + 24 MB
        assert out.split() == [str(float(count - 1)), "1.0"]
    minitl.save({"model": {"w": np.frombuffer(big, np.float32)}, "step": 3}, tmp_path / "big.minitl")
    out = run_capped(f"""
        print(float(minitl.load({str(tmp_path / "big.minitl")!r})["model"]["w"][-1]))
    """, len(big) + (24 << 20))
    assert out.split() == [str(float(count - 1))]


# -- 3. one error type, naming the file ---------------------------------------------------------------------
@pytest.mark.parametrize("key", [3, (1, 2)])
def test_models_refuse_checkpoints_whose_keys_are_not_names(tmp_path, key):
    path = write(tmp_path / "keys.pt", {key: floats()}, "zip")
    assert list(load_torch_checkpoint(path)) == [key]
    with pytest.raises(CheckpointError, match=f"{path}: a state_dict's keys are parameter names"):
        models.lenet5(weights=path)
    path = write(tmp_path / "bytes.pt", {b"conv.weight": floats()}, "zip")  # BINBYTES: torch refuses it too
    with pytest.raises(CheckpointError, match=f"{path}: opcode SHORT_BINBYTES at byte [0-9]+ is not one"):
        models.lenet5(weights=path)


def test_only_the_opcodes_torch_accepts_are_read(tmp_path):
    pop_mark = b"(" + b"1"  # MARK POP_MARK: harmless, but torch's weights-only unpickler refuses it
    refused(write(tmp_path / "a.pt", {"w": pop_mark + floats()}, "zip"), "opcode POP_MARK")
    refused(write(tmp_path / "b.pt", {"w": floats(layout="legacy") + b"\x94"}, "legacy"), "opcode MEMOIZE")


def test_garbage_of_every_kind_is_a_checkpoint_error(tmp_path):
    cases = {"empty.pt": b"", "text.pt": b"hello world\n", "pickle.pt": pickle.dumps([1, 2]),
             "zip-no-pickle.pt": None, "npy.pt": None}
    for name, raw in cases.items():
        path = tmp_path / name
        if name == "zip-no-pickle.pt":
            with zipfile.ZipFile(path, "w") as archive:
                archive.writestr("a/b", b"x")
        elif name == "npy.pt":
            np.save(path, np.ones(3))
            path = path.with_suffix(".pt.npy")
        else:
            path.write_bytes(raw)
        refused(path, ".")
