"""Read PyTorch checkpoints (.pt/.pth/.th) into NumPy arrays, without torch and without running code.

A checkpoint is a pickle. Unpickling an arbitrary pickle runs whatever
functions it names (``os.system`` included), so this reader unpickles with
`minitl.io.safe_pickle`: only an allow-list of globals (minitl's stand-ins
for PyTorch's tensor-rebuild functions, with torch's signatures, the storage
type names and ``collections.OrderedDict``) and of opcodes (those
``torch.load(weights_only=True)`` accepts), after a scan that bounds the
memory and time unpickling can take. Where torch refuses a file, so does
this reader (tests/fuzz_checkpoints.py compares the two on mutated files).

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

Guarantees, for any file, however malformed or hostile:

* no code runs, and nothing outside a storage's bytes is ever read: every
  tensor's offset, sizes and strides are checked in absolute element
  indices against its storage before a view is made;
* every failure is a `CheckpointError` naming the file (a missing file is
  a FileNotFoundError);
* memory: each storage the state dict uses is read once, into one array,
  and every tensor is a NumPy view of it, as torch's tensors are views of
  their storages (a tensor pickled 256 times, or a stride-0 "expanded"
  tensor, costs nothing extra). Peak memory is at most the file's size plus
  twice the size of its float16/bfloat16 storages (widened to float32), plus
  a few hundred bytes per pickle opcode; time is linear in the file's size.
  Zip entries are read no further than their declared size, which must be
  exactly what their storage needs, and must be stored uncompressed (as
  torch writes them), so an entry cannot expand beyond the file.
"""
import collections
import os
import struct

import numpy as np

from minitl.io.checks import ZIP_MAGIC, CheckpointError, is_stored, open_zip, read_entry, read_exactly, read_file, replace_leaves
from minitl.io.safe_pickle import Frozen, UnsafePickle, load, scan

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL_VERSION = 1001
STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "BFloat16Storage": "bfloat16", "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}
CHECKPOINT_WRAPPERS = ("state_dict", "model_state_dict", "model")
RECORDS = ("data.pkl", "byteorder", "version", ".data/version", ".format_version", ".storage_alignment")


class StorageType(Frozen):
    """Stands in for torch.FloatStorage & co: only its element type matters."""

    __slots__ = ("dtype", "itemsize", "name")

    def __init__(self, name):
        dtype = STORAGE_DTYPES[name]
        for attribute, value in [("name", name), ("dtype", dtype),
                                 ("itemsize", 2 if dtype == "bfloat16" else np.dtype(dtype).itemsize)]:
            object.__setattr__(self, attribute, value)


class StorageRef(Frozen):
    """A storage whose bytes are read later: its type, key and element count, and, for a legacy view
    into another storage, the element range it covers."""

    __slots__ = ("key", "numel", "type", "view_offset")

    def __init__(self, storage_type, key, numel, view_offset=None):
        for attribute, value in [("type", storage_type), ("key", key), ("numel", numel),
                                 ("view_offset", view_offset)]:
            object.__setattr__(self, attribute, value)


class StateDict(collections.OrderedDict):
    """collections.OrderedDict as a pickle may build it, as torch's reader allows: called (REDUCE) or
    made with NEWOBJ, and given attributes by BUILD with a dict (a state dict's ``_metadata``); BUILD
    with any other state (a slot-state tuple) is refused, as torch refuses it."""

    __slots__ = ()

    def __setstate__(self, state):
        if type(state) is not dict:
            raise UnsafePickle(f"refused to set an OrderedDict's state from a {type(state).__name__} (BUILD)")
        self.__dict__.update(state)


class TensorRef(Frozen):
    """What the pickle asked to rebuild: a strided view of a storage."""

    __slots__ = ("offset", "size", "storage", "stride")

    def __init__(self, storage, offset, size, stride):
        if not isinstance(storage, StorageRef):
            raise CheckpointError(f"a tensor is rebuilt from a {type(storage).__name__}, not a storage")
        if not (isinstance(size, tuple) and isinstance(stride, tuple) and len(size) == len(stride)
                and all(_is_int(n) and n >= 0 for n in (offset, *size, *stride))):
            raise CheckpointError("a tensor's offset, size and stride must be non-negative integers, with one "
                                  f"stride per dimension (got {len(size) if isinstance(size, tuple) else '?'} "
                                  "dimensions)")
        for attribute, value in [("storage", storage), ("offset", offset), ("size", size), ("stride", stride)]:
            object.__setattr__(self, attribute, value)


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _rebuild_tensor(storage, storage_offset, size, stride):
    """Stand-in for torch._utils._rebuild_tensor (the same arguments, so a file torch refuses is refused)."""
    return TensorRef(storage, storage_offset, size, stride)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks, metadata=None):
    """Stand-in for torch._utils._rebuild_tensor_v2: requires_grad (a bool, as torch checks), hooks and
    metadata are dropped."""
    _check_requires_grad(requires_grad)
    return TensorRef(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad, backward_hooks):
    """Stand-in for torch._utils._rebuild_parameter: a Parameter is its data."""
    _check_requires_grad(requires_grad)
    if not isinstance(data, TensorRef):
        raise CheckpointError(f"a Parameter is rebuilt from a {type(data).__name__}, not a tensor")
    return data


def _check_requires_grad(requires_grad):
    if not isinstance(requires_grad, bool):
        raise CheckpointError(f"requires_grad must be a bool, not a {type(requires_grad).__name__}")


# The opcodes torch.load(weights_only=True) accepts: a file torch refuses is refused here too.
TORCH_OPCODES = frozenset({
    "PROTO", "STOP", "MARK", "GLOBAL", "REDUCE", "BUILD", "NEWOBJ", "BINPERSID", "NONE", "NEWTRUE", "NEWFALSE",
    "BININT", "BININT1", "BININT2", "LONG1", "BINFLOAT", "BINUNICODE", "SHORT_BINSTRING", "EMPTY_TUPLE", "TUPLE",
    "TUPLE1", "TUPLE2", "TUPLE3", "EMPTY_LIST", "APPEND", "APPENDS", "EMPTY_DICT", "SETITEM", "SETITEMS",
    "EMPTY_SET", "BINGET", "LONG_BINGET", "BINPUT", "LONG_BINPUT"})
ALLOWED_GLOBALS = {
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("collections", "OrderedDict"): StateDict,
    **{("torch", name): StorageType(name) for name in STORAGE_DTYPES},
}


def load_pytorch(source):
    """The tensors of a PyTorch checkpoint (a path or an open binary file) as a flat dict name -> numpy
    array; see the module docstring.

    Nested ``{'state_dict': {...}, ...}`` checkpoints are unwrapped, and
    entries that are not tensors (epochs, accuracies) are dropped. Arrays
    that share a storage in the file share memory here.
    """
    return read_file(source, lambda file: _flatten(*_load_layout(file)),
                     "not a readable PyTorch checkpoint (corrupt or truncated?)", refused=(CheckpointError, UnsafePickle))


def read_object(file):
    """The whole object pickled in an open PyTorch checkpoint, as ``torch.load(weights_only=True)`` returns
    it (an epoch, an optimizer's state, nested dicts), with every tensor a NumPy array (see `_flatten`)."""
    obj, to_array = _load_layout(file)
    return replace_leaves(obj, lambda value: to_array(value) if isinstance(value, TensorRef) else value)


def _load_layout(file):
    """(the object, with TensorRefs for tensors; a function TensorRef -> array) of an open checkpoint, read
    in the layout its first bytes announce."""
    if file.read(4) == ZIP_MAGIC:
        return _load_zip(file)
    file.seek(0)
    return _load_legacy(file)


def _flatten(obj, to_array):
    """The state dict's name -> array, from the object with TensorRefs and a function TensorRef -> array."""
    for wrapper in CHECKPOINT_WRAPPERS:
        if isinstance(obj, dict) and isinstance(obj.get(wrapper), dict):
            obj = obj[wrapper]
            break
    if not isinstance(obj, dict):
        raise CheckpointError(f"expected a dict of tensors (a state_dict), found {type(obj).__name__}")
    arrays, made = {}, {}  # made: one array per TensorRef object, however often the pickle refers to it
    for name, value in obj.items():
        if isinstance(value, TensorRef):
            if id(value) not in made:
                made[id(value)] = to_array(value)
            arrays[name] = made[id(value)]
    if not arrays:
        raise CheckpointError(f"no tensors found (keys: {[str(key)[:40] for key in list(obj)[:10]]})")
    return arrays


# -- zip layout -----------------------------------------------------------------------------------------
def _load_zip(file):
    archive = open_zip(file)
    names = archive.namelist()
    if len(set(names)) != len(names):
        duplicate = collections.Counter(names).most_common(1)[0][0]
        raise CheckpointError(f"the zip archive holds two entries named {duplicate!r}")
    prefix = names[0].split("/")[0] + "/"  # as torch: every entry lives in the first entry's folder
    if not all(name.startswith(prefix) for name in names):
        raise CheckpointError(f"an entry outside the folder {prefix[:80]} of the first")
    records = {name[len(prefix):]: _read_entry(archive, name, None) for name in names
               if name[len(prefix):] in RECORDS}  # as torch, only the records it uses are read
    if "data.pkl" not in records:
        raise CheckpointError(f"a zip checkpoint holds {prefix}data.pkl, this one does not")
    numbers = [name for name in RECORDS[2:] if name in records]
    if not {"version", ".data/version"} & set(numbers) or not all(records[n].strip().isdigit() for n in numbers):
        raise CheckpointError("a zip checkpoint holds its format version as a decimal number (as torch checks)")
    byteorder = records.get("byteorder", b"little").decode("ascii", "replace")
    if byteorder not in ("little", "big"):
        raise CheckpointError(f"unknown byte order {byteorder[:20]!r}")

    def storage_from_id(pid):
        _check_pid(pid, 5)
        _, storage_type, key, _location, numel = pid
        return StorageRef(storage_type, key, numel)

    obj = load(records["data.pkl"], ALLOWED_GLOBALS, storage_from_id, encoding="utf-8", opcodes=TORCH_OPCODES)
    storages = {}  # key -> its array, read when a tensor first names it

    def to_array(ref):
        storage = ref.storage
        if storage.key not in storages:  # named again with another type or size: torch keeps the first
            data = _read_entry(archive, f"{prefix}data/{storage.key}", storage.numel * storage.type.itemsize)
            storages[storage.key] = _storage_array(data, storage.type, byteorder)
        return _tensor_view(ref, storages[storage.key])

    return obj, to_array


def _read_entry(archive, name, nbytes):
    """The bytes of entry `name`, which must be stored uncompressed and (when given) exactly `nbytes` long."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise CheckpointError(f"the zip archive has no entry {name!r}") from None
    if not is_stored(info):
        raise CheckpointError(f"entry {name!r} is compressed (torch.save stores every entry uncompressed)")
    if nbytes is not None and info.file_size != nbytes:
        raise CheckpointError(f"entry {name!r} holds {info.file_size} bytes, its storage needs {nbytes}")
    return read_entry(archive, info)


# -- legacy layout -----------------------------------------------------------------------------------------
def _load_legacy(file):
    size = file.seek(0, os.SEEK_END)
    file.seek(0)

    def next_pickle(storage_from_id=None):
        start = file.tell()
        end = scan(file, TORCH_OPCODES)
        file.seek(start)
        return load(file.read(end - start), ALLOWED_GLOBALS, storage_from_id, encoding="utf-8",
                    opcodes=TORCH_OPCODES)

    if next_pickle() != LEGACY_MAGIC:
        raise CheckpointError("not a PyTorch checkpoint (not a zip archive, and no legacy magic number)")
    if next_pickle() != LEGACY_PROTOCOL_VERSION:
        raise CheckpointError("unsupported legacy protocol version")
    next_pickle()  # system info: its "little_endian" is ignored, as torch ignores it (storages are little-endian)
    byteorder = "little"
    roots = {}  # key -> StorageRef of the whole storage

    def storage_from_id(pid):
        _check_pid(pid, 6)
        _, storage_type, key, _location, numel, view = pid
        root = roots.setdefault(key, StorageRef(storage_type, key, numel))  # named again: torch keeps the first
        storage_type, numel = root.type, root.numel
        if view is None:
            return root
        if not (isinstance(view, tuple) and len(view) == 3 and isinstance(view[0], str)
                and _is_int(view[1]) and _is_int(view[2])):
            raise CheckpointError("a storage view must be (key, element offset, element count)")
        _view_key, offset, view_numel = view
        if offset < 0 or view_numel < 0 or offset + view_numel > numel:
            raise CheckpointError(f"a view of elements [{offset}, {offset + view_numel}) of storage {key!r}, "
                                  f"which has {numel}")
        return StorageRef(storage_type, key, view_numel, offset)

    obj = next_pickle(storage_from_id)
    keys = next_pickle()
    if not (isinstance(keys, list) and all(isinstance(key, str) for key in keys)) or sorted(keys) != sorted(roots):
        raise CheckpointError("the list of storage keys does not match the storages the object uses")
    arrays = {}
    for key in keys:
        storage = roots[key]
        count = file.read(8)
        if len(count) < 8:
            raise CheckpointError(f"storage {key!r} is missing: the file is truncated")
        (numel,) = struct.unpack("<q", count)
        nbytes = numel * storage.type.itemsize
        if numel != storage.numel:
            raise CheckpointError(f"storage {key!r} holds {numel} elements, the object declares {storage.numel}")
        if nbytes > size - file.tell():
            raise CheckpointError(f"storage {key!r} needs {nbytes} bytes and {size - file.tell()} bytes are "
                                  "left: the file is truncated")
        arrays[key] = _storage_array(read_exactly(file, nbytes, f"storage {key}"), storage.type, byteorder)

    def to_array(ref):
        array = arrays[ref.storage.key]
        if ref.storage.view_offset is not None:
            array = array[ref.storage.view_offset:ref.storage.view_offset + ref.storage.numel]
        return _tensor_view(ref, array)

    return obj, to_array


def _check_pid(pid, length):
    if not (isinstance(pid, tuple) and len(pid) == length and pid[0] == "storage"
            and isinstance(pid[1], StorageType) and isinstance(pid[2], str) and _is_int(pid[4]) and pid[4] >= 0):
        raise CheckpointError(f"unexpected persistent id (a {type(pid).__name__}): a storage is named by "
                              "('storage', type, key, location, element count" + (", view)" if length == 6 else ")"))


# -- storages and tensors ---------------------------------------------------------------------------------
def _storage_array(buffer, storage_type, byteorder):
    """A writable native-order array over the storage's bytes (widened to float32 for float16/bfloat16)."""
    is_bfloat16 = storage_type.dtype == "bfloat16"
    dtype = np.dtype(np.uint16 if is_bfloat16 else storage_type.dtype).newbyteorder(
        "<" if byteorder == "little" else ">")
    array = np.frombuffer(buffer, dtype=dtype)
    if is_bfloat16:  # bfloat16 is the top half of a float32
        return (array.astype(np.uint32) << 16).view(np.float32)
    if array.dtype == np.float16:
        return array.astype(np.float32)
    return array if array.dtype.isnative else array.astype(array.dtype.newbyteorder("="))


def _tensor_view(ref, storage):
    """The tensor `ref` as a view of its storage's array, after checking it stays inside."""
    if any(n == 0 for n in ref.size):
        return np.zeros(ref.size, dtype=storage.dtype)
    last = ref.offset + sum((n - 1) * s for n, s in zip(ref.size, ref.stride))  # exact: Python integers
    if last >= len(storage):
        raise CheckpointError(f"a tensor of size {ref.size}, stride {ref.stride} and offset {ref.offset} reaches "
                              f"element {last} of a storage of {len(storage)} elements")
    return np.lib.stride_tricks.as_strided(storage[ref.offset:], shape=ref.size,  # a size-1 dimension's stride
                                           strides=[0 if n == 1 else s * storage.itemsize  # is never used (torch
                                                    for n, s in zip(ref.size, ref.stride)])  # accepts any)
