"""minitl's own checkpoint format: a NumPy ``.npz`` of name -> array.

Saving is atomic: the archive is written to a temporary file in the same
directory, flushed to disk, and only then renamed over the final name
(``os.replace`` is atomic on POSIX and Windows). A crash or an exception
midway leaves either the old file or nothing under that name, never half a
checkpoint. Loading uses ``allow_pickle=False``: an ``.npz`` can then hold
only plain arrays, so loading one never runs code.
"""
import os
import tempfile

import numpy as np

from minitl import backend


def _host_array(name, value):
    if not isinstance(name, str):
        raise TypeError(f"checkpoint keys must be strings, got {name!r}")
    array = getattr(value, "data", value)  # a minitl Tensor, or already an array
    array = backend.to_numpy(array)
    if array.dtype == object:
        raise TypeError(f"checkpoint entry {name!r} is not numeric (dtype object)")
    return array


def save(state_dict, path):
    """Write name -> array (or Tensor) to `path` as .npz, atomically."""
    path = os.fspath(path)
    arrays = {name: _host_array(name, value) for name, value in state_dict.items()}
    directory = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".npz")
    try:
        with os.fdopen(handle, "wb") as file:
            np.savez(file, **arrays)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def load(path):
    """Read a .npz written by `save` into a dict name -> numpy array (insertion order kept)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint at {path}")
    with np.load(path, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}
