"""Weights for PyTorch: a state dict written as ``torch.save`` writes it, or as safetensors, without torch.

This is how a model goes on from minitl to PyTorch (and from there to
multi-GPU training): the same architecture written with ``torch.nn`` has the
same parameter names, so ::

    tl.io.save_for_torch(model.state_dict(), "model.pt")     # in minitl
    net.load_state_dict(torch.load("model.pt"))              # in PyTorch

gives the same outputs. `save_for_torch` writes torch's zip layout (the
layout minitl's reader documents in `minitl.io.torch_checkpoint`):

    archive/data.pkl     the pickle of OrderedDict(name -> tensor), protocol 2
    archive/data/0 ...   each tensor's bytes, little-endian, C order
    archive/byteorder    "little"
    archive/version      "3"

where each tensor is pickled as torch pickles one, ``_rebuild_tensor_v2(
storage, 0, shape, contiguous strides, False, OrderedDict())``, its storage a
persistent id ``('storage', torch.FloatStorage, key, 'cpu', element
count)``. The pickle names only what ``torch.load(weights_only=True)`` (the
default since torch 2.6) allows. `save_safetensors` writes a ``.safetensors``
file (`minitl.io.safetensors_io`), which ``safetensors.torch.load_file``
reads. Both store a flat state dict only (name -> array or Tensor); an array
given under two names is stored once, as torch stores a shared tensor.
"""
import json
import struct
import zipfile

import numpy as np

from minitl import backend
from minitl.autograd import Tensor
from minitl.io.atomic import writing
from minitl.io.safetensors_io import DTYPES
from minitl.io.torch_checkpoint import STORAGE_DTYPES

TORCH_STORAGES = {np.dtype(dtype): name for name, dtype in STORAGE_DTYPES.items() if name != "BFloat16Storage"}
SAFETENSORS_DTYPES = {np.dtype(dtype): name for name, dtype in DTYPES.items() if name != "BF16"}


def save_for_torch(state_dict, f):
    """Write `state_dict` (name -> array or Tensor) to `f` (a path, replaced atomically, or an open binary
    file) in the zip format of ``torch.save``, so ``torch.load(f)`` returns it as tensors."""
    arrays = _arrays(state_dict, TORCH_STORAGES, "PyTorch")
    storages, entries = {}, []  # id(array) -> storage key; (name, its pickle opcodes)
    for name, array in arrays.items():
        key = storages.setdefault(id(array), str(len(storages)))
        storage = _tuple(_string("storage"), _global("torch", TORCH_STORAGES[array.dtype]), _string(key),
                         _string("cpu"), _int(array.size)) + b"Q"  # BINPERSID: the storage, by its id
        strides = tuple(s // array.itemsize for s in array.strides)  # contiguous: elements, not bytes
        rebuild = _tuple(storage, _int(0), _tuple(*map(_int, array.shape)), _tuple(*map(_int, strides)),
                         b"\x89", _global("collections", "OrderedDict") + b")R")  # False, OrderedDict()
        entries.append(_string(name) + _global("torch._utils", "_rebuild_tensor_v2") + rebuild + b"R")
    # PROTO 2, OrderedDict() (EMPTY_TUPLE, REDUCE), MARK, the pairs, SETITEMS, STOP
    data_pkl = (b"\x80\x02" + _global("collections", "OrderedDict") + b")R" + b"(" + b"".join(entries) + b"u"
                + b".")
    with writing(f) as file, zipfile.ZipFile(file, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        archive.writestr("archive/data.pkl", data_pkl)
        archive.writestr("archive/byteorder", "little")
        for array in {id(array): array for array in arrays.values()}.values():
            archive.writestr(f"archive/data/{storages[id(array)]}", array.tobytes())
        archive.writestr("archive/version", "3\n")


def save_safetensors(state_dict, f):
    """Write `state_dict` (name -> array or Tensor) to `f` (a path, replaced atomically, or an open binary
    file) as a ``.safetensors`` file: an 8-byte header length, the JSON header, the tensors' bytes."""
    arrays = _arrays(state_dict, SAFETENSORS_DTYPES, "safetensors")
    header, offset = {}, 0
    for name, array in arrays.items():
        header[name] = {"dtype": SAFETENSORS_DTYPES[array.dtype], "shape": list(array.shape),
                        "data_offsets": [offset, offset + array.nbytes]}
        offset += array.nbytes
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # the data starts 8-byte aligned, as the reference writer aligns it
    with writing(f) as file:
        file.write(struct.pack("<Q", len(text)) + text)
        for array in arrays.values():
            file.write(array.tobytes())


def _arrays(state_dict, dtypes, target):
    """name -> contiguous little-endian host array of each entry; one array per distinct input array."""
    if not hasattr(state_dict, "items"):
        raise TypeError(f"expected a state_dict (name -> array or Tensor), got a {type(state_dict).__name__}")
    arrays, made = {}, {}
    for name, value in state_dict.items():
        array = value.data if isinstance(value, Tensor) else value
        if not isinstance(name, str) or not backend.is_array(array):
            raise TypeError(f"entry {name!r}: a state_dict for {target} maps names to arrays or Tensors, "
                            f"not to a {type(value).__name__} (save nested checkpoints with tl.save)")
        if id(array) not in made:
            host = np.ascontiguousarray(backend.to_numpy(array))
            made[id(array)] = host.astype(host.dtype.newbyteorder("<"), copy=False)
        arrays[name] = made[id(array)]
        if arrays[name].dtype not in dtypes:
            raise TypeError(f"entry {name!r}: {target} has no type for dtype {arrays[name].dtype}")
    return arrays


# -- pickle opcodes, as protocol 2 writes them ------------------------------------------------------------
def _string(text):
    data = text.encode("utf-8")
    return b"X" + struct.pack("<I", len(data)) + data  # BINUNICODE


def _int(n):
    if -2 ** 31 <= n < 2 ** 31:
        return b"J" + struct.pack("<i", n)  # BININT
    data = n.to_bytes((n.bit_length() + 8) // 8, "little", signed=True)
    return b"\x8a" + bytes([len(data)]) + data  # LONG1


def _tuple(*items):
    return b"(" + b"".join(items) + b"t"  # MARK ... TUPLE


def _global(module, name):
    return f"c{module}\n{name}\n".encode("ascii")  # GLOBAL
