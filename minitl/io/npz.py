"""minitl's own checkpoint format, written by `save` and read by `read`: no pickles, any nesting of plain data.

A checkpoint is a zip archive (NumPy's ``.npz`` container, stored
uncompressed) holding

    structure.json   {"format": "minitl", "version": 1, "object": VALUE}
    arrays/0.npy     the arrays, in NumPy's .npy format
    arrays/1.npy     ...

where VALUE is JSON for Python's plain data, with one-key objects for the
rest:

    null, true, false, 3, 0.5, NaN, "text"   None, bool, int, float, str, as themselves
    {"array": i}                             arrays/i.npy (a minitl Tensor is saved as its array)
    {"scalar": i}                            a NumPy scalar, kept in arrays/i.npy as a 0-d array
    {"list": [VALUE, ...]}                   a list; {"tuple": [...]} a tuple
    {"dict": [[KEY, VALUE], ...]}            a dict, in order; KEY is a string or an integer

So a model's, an optimizer's and a scheduler's ``state_dict()`` can be
saved together and training resumed; any string key round-trips. An array
(or Tensor) that appears twice is stored once and loaded as one array.
Nesting is limited to `MAX_DEPTH` levels. Files written by earlier
versions (a plain ``.npz`` of name -> array) still load, as that dict.

Saving to a path is atomic (`minitl.io.atomic.replacing`): the archive is written to
``.<name>.partial`` beside the destination (through a symlink: beside the
file it points to), flushed to disk, then renamed over the destination, so
a crash leaves the old file or the new one, never half of one. A save killed
midway leaves at most that one temporary file, which the next save to the
same name removes; concurrent saves to one name take turns. The temporary is
created exclusively, never through a link planted at its name, and an
existing checkpoint keeps its permissions (new files: what the umask allows).

Loading never runs code and is bounded by the file: every member must be
stored uncompressed and is read no further than its declared size, once,
into the buffer its array views (the arrays cost their file's bytes); a .npy
header must announce exactly the bytes that follow it, with a numeric dtype;
structure.json is parsed into compact `_Node`s and decoded in place, so it
costs at most about 13 times its bytes (docs/checkpoints.md, "What a reader
guarantees"); any malformed file raises `CheckpointError` naming it.
"""
import io
import json
import zipfile

import numpy as np

from minitl import backend
from minitl.autograd import Tensor
from minitl.io.atomic import writing
from minitl.io.checks import MAX_DEPTH, ZIP_MAGIC, CheckpointError, is_stored, open_zip, read_entry

HEADER_BYTES = 1 << 16  # more than the longest .npy header NumPy reads (max_header_size=10000)
STRUCTURE = "structure.json"
_NUMERIC_KINDS = "biufc"


def save(obj, f):
    """Write `obj` (a state_dict, or any nesting of the types in the module docstring) to `f`: a path,
    replaced atomically, or an open binary file (``io.BytesIO``), written from where it stands as
    ``torch.save`` writes one."""
    arrays = []
    structure = {"format": "minitl", "version": 1, "object": _encode(obj, arrays, {}, 0)}
    with writing(f) as file, zipfile.ZipFile(file, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        archive.writestr(STRUCTURE, json.dumps(structure))
        for index, array in enumerate(arrays):
            with archive.open(f"arrays/{index}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)


def _encode(value, arrays, stored, depth):
    """The JSON VALUE of `value`; arrays are appended to `arrays` (`stored`: id -> index, to store each once)."""
    if depth > MAX_DEPTH:
        raise ValueError(f"cannot save: nested deeper than {MAX_DEPTH} levels")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return {"scalar": _store(np.asarray(value), arrays, stored)}
    if type(value) in (list, tuple):
        return {type(value).__name__: [_encode(item, arrays, stored, depth + 1) for item in value]}
    if isinstance(value, dict):
        for key in value:
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise TypeError(f"cannot save a dict key {key!r} of type {type(key).__name__}: keys must be "
                                "strings or integers")
        return {"dict": [[key, _encode(item, arrays, stored, depth + 1)] for key, item in value.items()]}
    array = value.data if isinstance(value, Tensor) else value  # a Tensor is saved as its array
    if not backend.is_array(array):
        if callable(getattr(value, "state_dict", None)):  # a Module or an Optimizer: its state, never its code
            kind = type(value).__name__
            raise TypeError(f"cannot save a whole {kind}: minitl's checkpoints hold values, never code (PyTorch's "
                            f"torch.save(model) pickles the class). Save its state instead: tl.save(obj.state_dict(), "
                            f"path), and later obj.load_state_dict(tl.load(path)) into a new {kind}")
        raise TypeError(f"cannot save a {type(value).__name__}: a checkpoint holds arrays, Tensors, numbers, "
                        "strings, None, and lists, tuples and dicts of them")
    if array.dtype.kind not in _NUMERIC_KINDS or array.dtype.fields is not None:
        raise TypeError(f"cannot save an array of dtype {array.dtype}: only numeric arrays")
    return {"array": _store(array, arrays, stored)}


def _store(array, arrays, stored):
    if id(array) not in stored:
        stored[id(array)] = len(arrays)
        arrays.append(backend.to_numpy(array))
    return stored[id(array)]


# -- loading ---------------------------------------------------------------------------------------------
def read(file):
    """The object saved by `save` in an open file (arrays come back as NumPy arrays); see the module docstring."""
    if file.read(4) != ZIP_MAGIC:
        raise CheckpointError("not a minitl checkpoint (those are zip archives, as .npz files)")
    archive = open_zip(file)
    names = archive.namelist()
    if not names:
        raise CheckpointError("an empty zip archive")
    if len(set(names)) != len(names):
        raise CheckpointError("the zip archive holds two entries with the same name")
    if STRUCTURE not in names:  # an earlier minitl checkpoint, or any plain .npz: name -> array
        if not all(name.endswith(".npy") for name in names):
            odd = next(name for name in names if not name.endswith(".npy"))
            raise CheckpointError(f"not a minitl checkpoint: the zip archive holds {odd[:80]!r}")
        return {name[:-len(".npy")]: _read_npy(archive, name) for name in names}
    expected = {STRUCTURE} | {f"arrays/{index}.npy" for index in range(len(names) - 1)}
    if set(names) != expected:
        raise CheckpointError(f"expected {STRUCTURE} and arrays/0.npy ... arrays/{len(names) - 2}.npy")
    structure = json.loads(_read_member(archive, STRUCTURE).decode("utf-8"), object_pairs_hook=_Node)
    header = structure.pairs() if isinstance(structure, _Node) else []
    if [key for key, _ in header] != ["format", "version", "object"] or header[0][1] != "minitl" \
            or type(header[1][1]) is not int or header[1][1] != 1:
        raise CheckpointError(f"{STRUCTURE} does not describe a version-1 minitl checkpoint")
    arrays = [_read_npy(archive, f"arrays/{index}.npy") for index in range(len(names) - 1)]
    return _decode(header[2][1], arrays, 0)


def _read_member(archive, name):
    """The bytes of member `name`, which must be stored uncompressed, read no further than its declared size."""
    info = archive.getinfo(name)
    if not is_stored(info):
        raise CheckpointError(f"member {name!r} is compressed (minitl writes uncompressed archives)")
    return read_entry(archive, info)


def _read_npy(archive, name):
    """The array in .npy member `name`: a numeric dtype, and exactly the bytes its header announces."""
    data = _read_member(archive, name)
    stream = io.BytesIO(data[:HEADER_BYTES])  # only the header: a BytesIO copies what it is given
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(stream)
    elif version == (2, 0):
        shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(stream)
    else:
        raise CheckpointError(f"member {name!r}: .npy format version {version} is not read")
    if dtype.kind not in _NUMERIC_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise CheckpointError(f"member {name!r} holds dtype {dtype}, not a plain numeric type")
    count = 1
    for n in shape:
        count *= n
    if min(shape, default=0) < 0 or count * dtype.itemsize != len(data) - stream.tell():
        raise CheckpointError(f"member {name!r}: its header announces shape {shape} of {dtype} "
                              f"({count * dtype.itemsize} bytes), {len(data) - stream.tell()} bytes follow")
    array = np.frombuffer(data, dtype=dtype, offset=stream.tell()).reshape(shape, order="F" if fortran_order else "C")
    return array.astype(dtype.newbyteorder("="), copy=False)


class _Node:
    """A JSON object as parsed, before `_decode`: its first key and value and any other pairs, in a 56-byte
    object where a dict would take 184 bytes and more, so that a structure of many small objects costs a
    small multiple of its bytes (see "What a reader guarantees" in docs/checkpoints.md)."""

    __slots__ = ("key", "rest", "value")

    def __init__(self, pairs):
        (self.key, self.value), self.rest = pairs[0] if pairs else (None, None), pairs[1:] or None

    def pairs(self):
        return [(self.key, self.value)] + (self.rest or []) if self.key is not None else []


def _decode(node, arrays, depth):
    """The value JSON `node` describes. Lists are decoded in place, each item replaced by its value as it
    is decoded, so the parsed form and the decoded one are never both held whole."""
    if depth > MAX_DEPTH:
        raise CheckpointError(f"nested deeper than {MAX_DEPTH} levels")
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if isinstance(node, _Node) and node.rest is None and node.key is not None:
        tag, content = node.key, node.value
        index = content if type(content) is int and 0 <= content < len(arrays) else None
        if tag == "array" and index is not None:
            return arrays[index]
        if tag == "scalar" and index is not None and arrays[index].ndim == 0:
            return arrays[index][()]
        if tag in ("list", "tuple") and type(content) is list:
            for position, item in enumerate(content):
                content[position] = _decode(item, arrays, depth + 1)
            return content if tag == "list" else tuple(content)
        if tag == "dict" and type(content) is list and all(
                type(pair) is list and len(pair) == 2 and isinstance(pair[0], (str, int))
                and not isinstance(pair[0], bool) for pair in content):
            decoded = {}
            for position, (key, value) in enumerate(content):
                content[position] = None  # the pair is freed as its entry is made
                if key in decoded:
                    raise CheckpointError(f"{STRUCTURE} holds a dict with a repeated key")
                decoded[key] = _decode(value, arrays, depth + 1)
            return decoded
    kind = "object" if isinstance(node, _Node) else type(node).__name__
    raise CheckpointError(f"{STRUCTURE} holds a value of an unknown form (a JSON {kind})")
