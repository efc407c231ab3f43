"""Which reader reads a file: the one place that picks between the three formats.

`load` (``tl.load``) reads any of them, as ``torch.load`` reads what
``torch.save`` wrote, telling them apart by their first bytes:

    PK\\x03\\x04 ... structure.json   minitl's own format (or a plain .npz)   minitl.io.npz.read
    PK\\x03\\x04 ... data.pkl         a PyTorch checkpoint, zip layout       minitl.io.torch_checkpoint.read_object
    \\x80 (a pickle)                  a PyTorch checkpoint, legacy layout    minitl.io.torch_checkpoint.read_object
    8-byte length, then {           Hugging Face's safetensors             minitl.io.safetensors_io.read

`load_torch_checkpoint` reads the last two and returns only the tensors of
the state dict (the weights published for PyTorch); `read_state_dict` reads
all three and checks that the file holds a state dict.
"""
import os
import reprlib

import numpy as np

from minitl import backend
from minitl.io import npz, safetensors_io, torch_checkpoint
from minitl.io.checks import ZIP_MAGIC, CheckpointError, file_name, open_zip, read_file, replace_leaves
from minitl.io.safe_pickle import UnsafePickle

NOT_READABLE = "not a readable minitl checkpoint (nor a PyTorch or safetensors file)"
PICKLE_PROTOCOL = 0x80  # a pickle of protocol 2 or later starts with this byte (PROTO)


def load(f, map_location=None, *, weights_only=None):
    """The object saved in `f` (a path or an open binary file): by ``tl.save``, by ``torch.save`` (both of
    its layouts) or as safetensors. Arrays come back as NumPy arrays (see docs/differences.md).

    As ``torch.load``: `map_location` says where the arrays go: ``'cpu'``
    (the default here), ``'cuda'`` or a ``tl.device`` (CuPy arrays), a dict
    ``{saved location: device}`` (every array is read onto the CPU, so only
    a ``'cpu'`` key moves it), or a callable ``(array, 'cpu') -> array`` (None
    keeps the array). `weights_only` is accepted either way and changes
    nothing: every file is read as ``torch.load(weights_only=True)`` reads
    one, never running code from it, and False cannot mean more here.
    """
    if weights_only not in (None, True, False):
        raise TypeError(f"weights_only must be a bool, not {type(weights_only).__name__}")
    place = _placement(map_location)
    obj = read_file(f, _read_any, NOT_READABLE, refused=(CheckpointError, UnsafePickle))
    return obj if place is None else replace_leaves(obj, lambda v: place(v) if isinstance(v, np.ndarray) else v)


def _read_any(file):
    head = file.read(9)
    file.seek(0)
    if head[:4] == ZIP_MAGIC:
        names = open_zip(file).namelist()
        file.seek(0)
        return torch_checkpoint.read_object(file) if any(n.endswith("data.pkl") for n in names) else npz.read(file)
    if head[:1] == bytes([PICKLE_PROTOCOL]):
        return torch_checkpoint.read_object(file)
    if len(head) == 9 and head[8:] == b"{":
        return safetensors_io.read(file)
    if len(head) < 9:
        raise CheckpointError(f"a file of {len(head)} bytes is no checkpoint (empty or truncated)")
    raise CheckpointError("not a minitl checkpoint (a zip archive), nor a PyTorch checkpoint (zip or legacy), "
                          "nor a safetensors file")


def _placement(map_location):
    """array -> array where `map_location` puts it, or None to leave every array on the CPU."""
    if map_location is None:
        return None
    if callable(map_location):
        def call(array):
            moved = map_location(array, "cpu")
            return array if moved is None else moved
        return call
    if isinstance(map_location, dict):
        map_location = map_location.get("cpu", "cpu")
    device = backend.normalize_device(map_location)  # a clear error for a device that does not exist here
    backend.module_for(device)  # 'cuda' without CuPy: said now, before the file is read
    return lambda array: backend.to_device(array, device)


def load_torch_checkpoint(path):
    """The tensors of a PyTorch checkpoint, or of a .safetensors file, as a flat dict name -> numpy array.

    See `load_pytorch` and `load_safetensors` for what each reads and checks.
    """
    if file_name(path).endswith(".safetensors"):
        return safetensors_io.load_safetensors(path)
    return torch_checkpoint.load_pytorch(path)


def read_state_dict(path):
    """name -> array from a minitl .npz, a PyTorch checkpoint or a .safetensors file.

    Anything else (a checkpoint of nested objects, keys that are not
    strings) is a CheckpointError naming the file.
    """
    path = os.fspath(path)
    state = load(path) if path.endswith(".npz") else load_torch_checkpoint(path)
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: expected a state_dict (name -> array), found a {type(state).__name__}")
    for key, value in state.items():
        if not isinstance(key, str):
            raise CheckpointError(f"{path}: a state_dict's keys are parameter names, found the key {reprlib.repr(key)} "
                                  f"of type {type(key).__name__}")
        if not isinstance(value, np.ndarray):
            raise CheckpointError(f"{path}: entry {key!r} is a {type(value).__name__}, not an array")
    return state
