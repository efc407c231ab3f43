"""Saving and loading: minitl's .npz checkpoints and PyTorch / safetensors files."""
from minitl.io.checks import CheckpointError
from minitl.io.npz import load, save
from minitl.io.torch_checkpoint import load_torch_checkpoint

__all__ = ["CheckpointError", "load", "load_torch_checkpoint", "save"]
