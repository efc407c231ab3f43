"""Where arrays live: NumPy on the CPU, CuPy on an NVIDIA GPU.

Every part of minitl that touches arrays asks this module for the array
module `xp` that owns them (``get_array_module``) and then calls ``xp.exp``,
``xp.matmul``... so the same line of code runs on either device. CuPy is
imported only when a GPU is first asked for: ``import minitl`` stays light.

Devices are named as in PyTorch: ``'cpu'`` and ``'cuda'`` (``'cuda:0'`` is
accepted as a synonym).
"""
import sys

import numpy as np

CPU = "cpu"
CUDA = "cuda"

_GPU_HINT = ('install CuPy with `pip install "minitl[gpu]"` (cupy-cuda12x) '
             "on a machine with an NVIDIA GPU and its driver")


def _loaded_cupy():
    """CuPy if some code already imported it, else None (never imports it)."""
    return sys.modules.get("cupy")


def import_cupy():
    """Import CuPy for GPU work, or fail saying how to get it."""
    try:
        import cupy
    except ImportError as err:
        raise RuntimeError(f"device 'cuda' needs CuPy, which is not installed: {_GPU_HINT}") from err
    if not cuda_available():
        raise RuntimeError(f"device 'cuda' was requested but CuPy finds no usable GPU: {_GPU_HINT}")
    return cupy


def cuda_available():
    """True when CuPy is installed and sees at least one GPU."""
    try:
        import cupy
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # ImportError, or CUDA driver/runtime errors of any kind
        return False


def is_array(obj):
    """True for a NumPy or CuPy ndarray."""
    if isinstance(obj, np.ndarray):
        return True
    cupy = _loaded_cupy()
    return cupy is not None and isinstance(obj, cupy.ndarray)


def get_array_module(*arrays):
    """The module (numpy or cupy) that owns these arrays; numpy for non-arrays."""
    cupy = _loaded_cupy()
    if cupy is not None:
        for a in arrays:
            if isinstance(a, cupy.ndarray):
                return cupy
    return np


def device_of(array):
    """'cuda' for a CuPy array, 'cpu' otherwise."""
    return CPU if get_array_module(array) is np else CUDA


class device(str):
    """A device as PyTorch names it: ``tl.device('cuda')``, what ``x.device`` gives.

    It is also the plain string 'cpu' or 'cuda' (a ``str`` subclass), so ``x.device == 'cuda'``, a
    device as a dict key and ``tl.zeros(3, device=x.device)`` all work as before.
    """

    def __new__(cls, type, index=None):
        name = normalize_device(type if index is None else f"{type}:{index}")
        made = super().__new__(cls, name)
        made.index = index if index is not None or ":" not in str(type) else int(str(type).split(":")[1])
        return made

    @property
    def type(self):
        return str(self)

    def __repr__(self):
        index = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self}'{index})"

    __hash__ = str.__hash__


_default_device = CPU


def set_default_device(device):
    """Where the factories (``tl.zeros``, ``tl.randn``, ``tl.tensor`` of lists...) put new tensors when no
    ``device=`` is given (``torch.set_default_device``); None restores the CPU."""
    global _default_device
    device = normalize_device(device) or CPU
    module_for(device)  # 'cuda' without CuPy or a GPU: say so now
    _default_device = device


def get_default_device():
    return device(_default_device)


def normalize_device(device):
    """'cpu' or 'cuda' from a user's spelling; a clear error for anything else."""
    if device is None:
        return None
    name = str(device).lower()
    if name == CPU:
        return CPU
    if name in (CUDA, "cuda:0", "gpu"):
        return CUDA
    raise ValueError(f"unknown device {device!r}: expected 'cpu' or 'cuda'")


def module_for(device):
    """The array module of a device name."""
    return import_cupy() if normalize_device(device) == CUDA else np


def to_device(array, device):
    """The array on `device` ('cpu' or 'cuda'); the same object if already there."""
    device = normalize_device(device)
    if device_of(array) == device:
        return array
    if device == CUDA:
        return import_cupy().asarray(array)
    return array.get()  # CuPy -> NumPy


def to_numpy(array):
    """A host NumPy array of any backend array (or scalar)."""
    if isinstance(array, np.ndarray):
        return array
    cupy = _loaded_cupy()
    if cupy is not None and isinstance(array, cupy.ndarray):
        return array.get()
    return np.asarray(array)


def synchronize(device):
    """Wait until `device` has done the work queued on it: GPU kernels run asynchronously, so a
    timer must wait for them. Nothing to wait for on the CPU."""
    if normalize_device(device) == CUDA:
        import_cupy().cuda.Device().synchronize()


def scatter_add(target, indices, values):
    """target[indices] += values, adding repeated indices (unbuffered).

    Plain ``target[idx] += v`` writes only once per repeated index; the
    unbuffered versions add every occurrence, as a gradient needs.
    """
    xp = get_array_module(target)
    if xp is np:
        np.add.at(target, indices, values)
    else:
        import cupyx
        cupyx.scatter_add(target, indices, values)
