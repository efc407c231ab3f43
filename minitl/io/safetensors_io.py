"""Hugging Face ``.safetensors`` files, read with the `safetensors` package's NumPy API.

A safetensors file is a JSON header (names, dtypes, shapes, byte ranges)
followed by raw bytes: nothing in it can execute, which is why it exists.
The package is optional (``pip install "minitl[io]"``); float16 tensors come
back as float32, as from PyTorch checkpoints.
"""
import numpy as np


def load_safetensors(path):
    """name -> numpy array of every tensor in a .safetensors file."""
    try:
        from safetensors.numpy import load_file
    except ImportError as err:
        raise ImportError(f"reading {path} needs the safetensors package: pip install safetensors "
                          '(or pip install "minitl[io]")') from err
    try:
        arrays = load_file(path)
    except Exception as err:  # safetensors raises its own error types for corrupt headers
        raise ValueError(f"{path}: not a readable safetensors file: {err}") from None
    return {name: array.astype(np.float32) if array.dtype == np.float16 else array
            for name, array in arrays.items()}
