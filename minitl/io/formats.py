"""Which reader reads a file, chosen by its name: the one place that picks between the three formats.

    NAME.npz           minitl's own format               minitl.io.npz.load
    NAME.safetensors   Hugging Face's safetensors        minitl.io.safetensors_io.load_safetensors
    any other name     a PyTorch checkpoint (.pt/.pth/.th, zip or legacy)
                                                         minitl.io.torch_checkpoint.load_pytorch

`load_torch_checkpoint` reads the last two (the weights published for
PyTorch); `read_state_dict` reads all three and checks that the file holds
a state dict.
"""
import os
import reprlib

import numpy as np

from minitl.io.checks import CheckpointError
from minitl.io.npz import load
from minitl.io.safetensors_io import load_safetensors
from minitl.io.torch_checkpoint import load_pytorch


def load_torch_checkpoint(path):
    """The tensors of a PyTorch checkpoint, or of a .safetensors file, as a flat dict name -> numpy array.

    See `load_pytorch` and `load_safetensors` for what each reads and checks.
    """
    path = os.fspath(path)
    return load_safetensors(path) if path.endswith(".safetensors") else load_pytorch(path)


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
