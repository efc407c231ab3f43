"""Read PyTorch checkpoints (.pt/.pth/.th) into NumPy arrays, without torch and without running code.

A checkpoint is a pickle. Unpickling an arbitrary pickle runs whatever
functions it names (``os.system`` included), so this reader uses an
Unpickler whose ``find_class`` hands out only an allow-list: minitl's own
stand-ins for PyTorch's tensor-rebuild functions, the storage type names
and ``collections.OrderedDict``. Any other global is refused, naming it.

Tensors are pickled as "rebuild a tensor from (storage, offset, size,
stride)"; storages are *persistent ids* ``('storage', type, key, location,
numel)`` whose bytes live outside the pickle. There are two layouts:

zip (torch >= 1.6): a zip archive ``<name>/data.pkl`` (the object),
    ``<name>/data/<key>`` (each storage's raw bytes), ``<name>/byteorder``.
legacy (before 1.6, e.g. the CIFAR ResNet ``.th`` files): five pickles in a
    row — magic number, protocol version, system info, the object, the list
    of storage keys — then each storage in that order as an 8-byte
    little-endian element count followed by its raw bytes.

The location ('cpu', 'cuda:0', ...) is ignored: every array lands on the
CPU. float16 and bfloat16 are widened to float32 (NumPy has no bfloat16).
"""
import collections
import io
import os
import pickle
import struct
import zipfile

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "BFloat16Storage": "bfloat16", "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}
CHECKPOINT_WRAPPERS = ("state_dict", "model_state_dict", "model")


class StorageType:
    """Stands in for torch.FloatStorage & co: only its element type matters."""

    def __init__(self, name):
        self.name = name
        self.dtype = STORAGE_DTYPES[name]

    @property
    def itemsize(self):
        return 2 if self.dtype == "bfloat16" else np.dtype(self.dtype).itemsize


class StorageRef:
    """A storage whose bytes are read later: its type, key and element count."""

    def __init__(self, storage_type, key, numel, element_offset=0):
        self.type, self.key, self.numel, self.element_offset = storage_type, key, numel, element_offset


class TensorRef:
    """What the pickle asked to rebuild: a strided view of a storage."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)


def _rebuild_tensor(storage, storage_offset, size, stride, *_ignored):
    """Stand-in for torch._utils._rebuild_tensor(_v2): requires_grad, hooks and metadata are dropped."""
    return TensorRef(storage, storage_offset, size, stride)


def _rebuild_parameter(data, *_ignored):
    """Stand-in for torch._utils._rebuild_parameter: a Parameter is its data."""
    return data


ALLOWED_GLOBALS = {
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("collections", "OrderedDict"): collections.OrderedDict,
}


class CheckpointError(ValueError):
    """A checkpoint that cannot be read safely: corrupt, truncated, or asking for a refused global."""


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles only tensors, storages and plain containers; see the module docstring."""

    def __init__(self, file, storage_from_id):
        super().__init__(file)
        self.storage_from_id = storage_from_id

    def find_class(self, module, name):
        if (module, name) in ALLOWED_GLOBALS:
            return ALLOWED_GLOBALS[(module, name)]
        if module == "torch" and name in STORAGE_DTYPES:
            return StorageType(name)
        raise CheckpointError(f"refused to load global '{module}.{name}': a checkpoint may only contain "
                              "tensors and plain containers (this file could run code if unpickled normally)")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage" and isinstance(pid[1], StorageType)):
            raise CheckpointError(f"unexpected persistent id {pid!r}")
        return self.storage_from_id(pid)


def load_torch_checkpoint(path):
    """The tensors of a PyTorch checkpoint as a flat dict name -> numpy array.

    Nested ``{'state_dict': {...}, ...}`` checkpoints are unwrapped, and
    entries that are not tensors (epochs, accuracies) are dropped.
    """
    path = os.fspath(path)
    if path.endswith(".safetensors"):
        from minitl.io.safetensors_io import load_safetensors
        return load_safetensors(path)
    try:
        if zipfile.is_zipfile(path):
            obj = _load_zip(path)
        else:
            with open(path, "rb") as file:
                obj = _load_legacy(file, os.path.getsize(path))
    except CheckpointError as err:
        raise CheckpointError(f"{path}: {err}") from None
    except (pickle.UnpicklingError, EOFError, struct.error, zipfile.BadZipFile, KeyError, IndexError,
            TypeError, ValueError, AttributeError) as err:
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint (corrupt or truncated?): "
                              f"{type(err).__name__}: {err}") from None
    return _flatten(obj, path)


def _load_zip(path):
    with zipfile.ZipFile(path) as archive:
        pickles = [name for name in archive.namelist() if name.endswith("data.pkl")]
        if len(pickles) != 1:
            raise CheckpointError("zip checkpoint without exactly one data.pkl")
        prefix = pickles[0][:-len("data.pkl")]
        byteorder = archive.read(prefix + "byteorder").decode() if prefix + "byteorder" in archive.namelist() \
            else "little"

        def storage_from_id(pid):
            _, storage_type, key, _location, numel = pid
            return StorageRef(storage_type, key, numel)

        obj = RestrictedUnpickler(io.BytesIO(archive.read(pickles[0])), storage_from_id).load()
        raw = {}

        def read(storage):
            if storage.key not in raw:
                info = archive.getinfo(f"{prefix}data/{storage.key}")
                if info.file_size < storage.numel * storage.type.itemsize:
                    raise CheckpointError(f"storage {storage.key} holds {info.file_size} bytes, "
                                          f"fewer than its {storage.numel} elements need")
                raw[storage.key] = archive.read(info)
            return raw[storage.key]

        return _materialize(obj, read, byteorder)


def _load_legacy(file, file_size):
    magic = RestrictedUnpickler(file, None).load()
    if magic != LEGACY_MAGIC:
        raise CheckpointError("not a PyTorch checkpoint (no zip archive, wrong legacy magic number)")
    RestrictedUnpickler(file, None).load()  # protocol version
    sys_info = RestrictedUnpickler(file, None).load()
    little_endian = not isinstance(sys_info, dict) or sys_info.get("little_endian", True)
    storages = {}

    def storage_from_id(pid):
        _, storage_type, key, _location, numel, view = pid
        if key not in storages:
            storages[key] = StorageRef(storage_type, key, numel)
        if view is None:
            return storages[key]
        _view_key, element_offset, view_numel = view
        return StorageRef(storage_type, key, view_numel, element_offset)

    obj = RestrictedUnpickler(file, storage_from_id).load()
    keys = RestrictedUnpickler(file, None).load()
    raw = {}
    for key in keys:
        (numel,) = struct.unpack("<q", file.read(8))
        storage = storages.get(key)
        itemsize = storage.type.itemsize if storage else 1
        if numel < 0 or numel * itemsize > file_size - file.tell():
            raise CheckpointError(f"storage {key} claims {numel} elements, more than the file holds")
        raw[key] = file.read(numel * itemsize)
    return _materialize(obj, lambda storage: raw[storage.key], "little" if little_endian else "big")


def _materialize(obj, read_bytes, byteorder):
    """Replace every TensorRef inside dicts/lists/tuples by its NumPy array."""
    if isinstance(obj, TensorRef):
        return _tensor_array(obj, read_bytes(obj.storage), byteorder)
    if isinstance(obj, dict):
        return type(obj)((key, _materialize(value, read_bytes, byteorder)) for key, value in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_materialize(value, read_bytes, byteorder) for value in obj)
    return obj


def _tensor_array(ref, data, byteorder):
    storage = ref.storage
    is_bfloat16 = storage.type.dtype == "bfloat16"
    dtype = np.dtype(np.uint16 if is_bfloat16 else storage.type.dtype)
    if byteorder == "big":
        dtype = dtype.newbyteorder(">")
    available = len(data) // dtype.itemsize - storage.element_offset
    start = storage.element_offset + ref.offset
    if any(n == 0 for n in ref.size):
        values = np.zeros(ref.size, dtype=dtype)
    else:
        last = start + sum((n - 1) * s for n, s in zip(ref.size, ref.stride))
        if ref.offset < 0 or any(s < 0 for s in ref.stride) or last >= storage.element_offset + available:
            raise CheckpointError(f"tensor of size {ref.size}, stride {ref.stride} and offset {ref.offset} "
                                  f"reaches outside its storage of {available} elements")
        flat = np.frombuffer(data, dtype=dtype, count=last + 1)
        values = np.lib.stride_tricks.as_strided(flat[start:], shape=ref.size,
                                                 strides=[s * dtype.itemsize for s in ref.stride]).copy()
    values = values.astype(dtype.newbyteorder("="), copy=False)
    if is_bfloat16:  # bfloat16 is the top half of a float32
        return (values.astype(np.uint32) << 16).view(np.float32)
    return values.astype(np.float32) if values.dtype == np.float16 else values


def _flatten(obj, path):
    for wrapper in CHECKPOINT_WRAPPERS:
        if isinstance(obj, dict) and isinstance(obj.get(wrapper), dict):
            obj = obj[wrapper]
            break
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: expected a dict of tensors (a state_dict), found {type(obj).__name__}")
    arrays = {key: value for key, value in obj.items() if isinstance(value, np.ndarray)}
    if not arrays:
        raise CheckpointError(f"{path}: no tensors found (keys: {list(obj)[:10]})")
    return arrays
