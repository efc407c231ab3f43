"""``tl.cuda.is_available()``, as in PyTorch."""
from minitl.backend import cuda_available as is_available

__all__ = ["is_available"]
