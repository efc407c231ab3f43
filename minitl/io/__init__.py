"""Saving and loading: minitl's .npz checkpoints and PyTorch / safetensors files.

The modules, each importing only those above it:

    checks.py            what every reader shares: CheckpointError, zip checks, exact reads
    safe_pickle.py       unpickling untrusted bytes with an allow-list (for PyTorch checkpoints and datasets)
    atomic.py            replacing a file atomically (for save, and for the hub's downloads)
    torch_checkpoint.py  the reader of PyTorch checkpoints (.pt/.pth/.th, zip or legacy)
    safetensors_io.py    the reader of Hugging Face .safetensors files
    npz.py               minitl's own format: save, and its reader read
    formats.py           which reader reads a file: load (tl.load), load_torch_checkpoint, read_state_dict
    export.py            weights for PyTorch: save_for_torch (torch.save's zip format), save_safetensors
"""
from minitl.io.checks import CheckpointError
from minitl.io.export import save_for_torch, save_safetensors
from minitl.io.formats import load, load_torch_checkpoint
from minitl.io.npz import save

__all__ = ["CheckpointError", "load", "load_torch_checkpoint", "save", "save_for_torch", "save_safetensors"]
