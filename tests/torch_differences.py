"""The checkpoints on which round 3 of fuzzing (issue 31) found minitl's reader differing from torch.load.

`files(directory)` writes each and returns name -> path; tests/fixtures/make_round3_fixture.py records
what ``torch.load(weights_only=True)`` makes of them (tests/fixtures/round3_expected.npz), and
tests/test_untrusted_round3.py checks that minitl's reader reads what torch reads and refuses what it
refuses.
"""
import io
import pickle
import struct

import torch_pickles as tp

FLOATS = struct.pack("<4f", 0, 1, 2, 3)
TENSOR = tp.tensor(tp.storage_id("0", 4), 0, (4,), (1,))
ORDERED_DICT = tp.global_("collections", "OrderedDict")


def big_endian_flag():
    """A legacy file whose system info says big-endian: torch ignores the flag (the bytes are little-endian)."""
    object_pickle = b"\x80\x02}" + tp.value("w") + tp.tensor(tp.storage_id("0", 4, legacy=True), 0, (4,), (1,)) + b"s."
    parts = [pickle.dumps(tp.LEGACY_MAGIC, protocol=2), pickle.dumps(1001, protocol=2),
             pickle.dumps({"protocol_version": 1001, "little_endian": False}, protocol=2), object_pickle,
             pickle.dumps(["0"], protocol=2), struct.pack("<q", 4) + FLOATS]
    return b"".join(parts)


def zip_file(data_pkl):
    buffer = io.BytesIO()
    tp.write_zip(buffer, data_pkl, {"0": FLOATS})
    return buffer.getvalue()


CASES = {
    "big-endian flag": big_endian_flag,
    "size-1 dimension, huge stride": lambda: zip_file(
        b"\x80\x02}" + tp.value("w") + tp.tensor(tp.storage_id("0", 4), 0, (1, 4), (2 ** 62, 1)) + b"s."),
    "OrderedDict made by NEWOBJ": lambda: zip_file(b"\x80\x02" + ORDERED_DICT + b")\x81" + tp.value("w") + TENSOR + b"s."),
    "OrderedDict given a slot state": lambda: zip_file(
        b"\x80\x02" + ORDERED_DICT + b")R" + tp.value("w") + TENSOR + b"sN}\x86b."),
    "UTF-8 Python 2 key": lambda: zip_file(b"\x80\x02}U\x02" + "é".encode() + TENSOR + b"s."),
    "one storage, two types": lambda: zip_file(
        b"\x80\x02}" + tp.value("w") + TENSOR + b"s" + tp.value("v")
        + tp.tensor(tp.storage_id("0", 2, "DoubleStorage"), 0, (2,), (1,)) + b"s."),
}


def files(directory):
    """Write each case to `directory`; name -> path."""
    paths = {}
    for name, make in CASES.items():
        paths[name] = directory / (name.replace(" ", "_").replace(",", "") + ".pt")
        paths[name].write_bytes(make())
    return paths
