"""The checkpoints on which round 3 of fuzzing (issue 31) found minitl's reader differing from torch.load.

`files(directory)` writes each and returns name -> path; tests/fixtures/make_round3_fixture.py records
what ``torch.load(weights_only=True)`` makes of them (tests/fixtures/round3_expected.npz), and
tests/test_untrusted_round3.py checks that minitl's reader reads what torch reads and refuses what it
refuses.
"""
import struct

import torch_pickles as tp

FLOATS = struct.pack("<4f", 0, 1, 2, 3)
TENSOR = tp.tensor(tp.storage_id("0", 4), 0, (4,), (1,))
ORDERED_DICT = tp.global_("collections", "OrderedDict")


LEGACY_TENSOR = tp.tensor(tp.storage_id("0", 4, legacy=True), 0, (4,), (1,))


def legacy_file(object_pickle, little_endian=True):
    """A legacy checkpoint of `object_pickle` over one storage "0" of FLOATS (a function of its path)."""
    return lambda path: tp.write_legacy(path, object_pickle, {"0": (4, FLOATS)}, little_endian)


def zip_file(data_pkl):
    """A zip checkpoint of `data_pkl` over one storage "0" of FLOATS (a function of its path)."""
    return lambda path: tp.write_zip(path, data_pkl, {"0": FLOATS})


CASES = {
    "big-endian flag": legacy_file(b"\x80\x02}" + tp.value("w") + LEGACY_TENSOR + b"s.", little_endian=False),
    "size-1 dimension, huge stride": zip_file(
        b"\x80\x02}" + tp.value("w") + tp.tensor(tp.storage_id("0", 4), 0, (1, 4), (2 ** 62, 1)) + b"s."),
    "OrderedDict made by NEWOBJ": zip_file(b"\x80\x02" + ORDERED_DICT + b")\x81" + tp.value("w") + TENSOR + b"s."),
    "OrderedDict given a slot state": zip_file(
        b"\x80\x02" + ORDERED_DICT + b")R" + tp.value("w") + TENSOR + b"sN}\x86b."),
    "UTF-8 Python 2 key": zip_file(b"\x80\x02}U\x02" + "é".encode() + TENSOR + b"s."),
    "one storage, two types": zip_file(
        b"\x80\x02}" + tp.value("w") + TENSOR + b"s" + tp.value("v")
        + tp.tensor(tp.storage_id("0", 2, "DoubleStorage"), 0, (2,), (1,)) + b"s."),
    "one legacy storage, two types": legacy_file(
        b"\x80\x02}" + tp.value("w") + LEGACY_TENSOR + b"s" + tp.value("v")
        + tp.tensor(tp.storage_id("0", 2, "DoubleStorage", legacy=True), 0, (2,), (1,)) + b"s."),
}


def files(directory):
    """Write each case to `directory`; name -> path."""
    paths = {}
    for name, make in CASES.items():
        paths[name] = directory / (name.replace(" ", "_").replace(",", "") + ".pt")
        make(paths[name])
    return paths
