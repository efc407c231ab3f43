"""Hugging Face ``.safetensors`` files, read with NumPy alone.

A safetensors file is an 8-byte little-endian header length N, N bytes of
JSON ``{name: {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin,
end]}, "__metadata__": {...}}``, then the tensors' raw little-endian bytes
(offsets count from the end of the header). Nothing in it can execute,
which is why it exists.

The checks are those of the reference implementation: the header fits in
the file and is a JSON object without repeated names, its ``__metadata__``
maps strings to strings, every dtype is known,
every tensor's byte range holds exactly shape-product x itemsize bytes, and
the ranges tile the data without gaps or overlaps. Any failure is a
`CheckpointError` naming the file. The file is read once; every array is a
view of that buffer (float16 and bfloat16 come back widened to float32, as
from PyTorch checkpoints), so memory is the file's size plus the widened
tensors; before the header is parsed, it may hold little more than the
JSON objects and arrays its tensors need (one and two each; ``{`` and ``[``
in names count too), so that parsing it takes at most about 15 times its
bytes (docs/checkpoints.md, "What a reader guarantees"). 8-bit float types are refused (NumPy has
no such type).
"""
import json
import os
import struct

import numpy as np

from minitl.io.checks import CheckpointError, read_file

DTYPES = {"BOOL": np.bool_, "U8": np.uint8, "I8": np.int8, "U16": "<u2", "I16": "<i2", "U32": "<u4",
          "I32": "<i4", "U64": "<u8", "I64": "<i8", "F16": "<f2", "BF16": "<u2", "F32": "<f4", "F64": "<f8"}
MAX_HEADER_BYTES = 100_000_000  # the reference implementation's limit
NOT_SAFETENSORS = "not a readable safetensors file"


def load_safetensors(source):
    """name -> numpy array of every tensor in a .safetensors file (a path or an open binary file); see the
    module docstring."""
    return read_file(source, read, NOT_SAFETENSORS)


def read(file):
    """name -> numpy array of the tensors in an open .safetensors file."""
    data = bytearray(file.seek(0, os.SEEK_END))  # writable: the arrays are views of it
    file.seek(0)
    file.readinto(data)
    try:
        return _parse(data)
    except CheckpointError as err:
        raise CheckpointError(f"{NOT_SAFETENSORS}: {err}") from None


def _refuse_repeated_names(pairs):
    mapping = dict(pairs)
    if len(mapping) != len(pairs):  # a name given twice
        raise CheckpointError("the header names a tensor twice")
    return mapping


def _parse(data):
    if len(data) < 8:
        raise CheckpointError("shorter than the 8-byte header length (truncated?)")
    (header_bytes,) = struct.unpack_from("<Q", data)
    if header_bytes > MAX_HEADER_BYTES:
        raise CheckpointError(f"a header of {header_bytes} bytes, over the limit of {MAX_HEADER_BYTES}")
    if header_bytes > len(data) - 8:
        raise CheckpointError(f"a header of {header_bytes} bytes in a file of {len(data)}: the file is truncated")
    text = bytes(data[8:8 + header_bytes])
    tensors = text.count(b"data_offsets")  # one object and two arrays a tensor; a little slack for names
    if text.count(b"{") > 2 * tensors + 16 or text.count(b"[") > 3 * tensors + 16:
        raise CheckpointError("the header holds more JSON objects or arrays than its tensors need")
    header = json.loads(text.decode("utf-8"), object_pairs_hook=_refuse_repeated_names)
    if not isinstance(header, dict):
        raise CheckpointError("the header is not a JSON object")
    metadata = header.pop("__metadata__", {})
    if not (isinstance(metadata, dict) and all(isinstance(value, str) for value in metadata.values())):
        raise CheckpointError("__metadata__ must map strings to strings (as the reference implementation checks)")
    buffer = memoryview(data)[8 + header_bytes:]
    ranges, arrays = [], {}
    for name, info in header.items():
        if not (isinstance(info, dict) and info.get("dtype") in DTYPES and _int_list(info.get("shape"))
                and _int_list(info.get("data_offsets")) and len(info["data_offsets"]) == 2):
            raise CheckpointError(f"tensor {name!r}: expected a known dtype, a shape and two data offsets")
        dtype = np.dtype(DTYPES[info["dtype"]])
        begin, end = info["data_offsets"]
        count = 1
        for n in info["shape"]:
            count *= n
        if not begin <= end or end - begin != count * dtype.itemsize:
            raise CheckpointError(f"tensor {name!r}: bytes [{begin}, {end}) for shape {info['shape']} of "
                                  f"{info['dtype']}")
        if end > len(buffer):
            raise CheckpointError(f"tensor {name!r}: bytes [{begin}, {end}) in a data section of {len(buffer)} "
                                  "bytes: the file is truncated")
        ranges.append((begin, end))
        arrays[name] = _widened(np.frombuffer(buffer[begin:end], dtype=dtype), info["dtype"]).reshape(info["shape"])
    covered = 0
    for begin, end in sorted(ranges):
        if begin != covered:
            raise CheckpointError(f"the tensors' bytes leave a gap or overlap at byte {min(begin, covered)}")
        covered = end
    if covered != len(buffer):
        raise CheckpointError(f"{len(buffer) - covered} bytes after the last tensor")
    return arrays


def _int_list(value):
    return isinstance(value, list) and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in value)


def _widened(array, dtype_name):
    if dtype_name == "BF16":  # bfloat16 is the top half of a float32
        return (array.astype(np.uint32) << 16).view(np.float32)
    if dtype_name == "F16":
        return array.astype(np.float32)
    return array.astype(array.dtype.newbyteorder("="), copy=False)
