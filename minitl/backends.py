"""``tl.backends``: PyTorch's switches for its accelerator libraries, so the standard device-selection lines run.

    device = "cuda" if tl.cuda.is_available() else "mps" if tl.backends.mps.is_available() else "cpu"
    tl.backends.cudnn.benchmark = True

minitl computes with NumPy, or CuPy on an NVIDIA GPU; it uses neither cuDNN nor Apple's MPS, so these
flags are kept (a script may set and read them) but change nothing, and MPS is never available. Not to be
confused with ``minitl.backend``, which picks NumPy or CuPy for an array.
"""
from minitl.backend import cuda_available


class _CudnnFlags:
    """``tl.backends.cudnn``: flags a script may set; minitl has no cuDNN, so they change nothing."""
    enabled = True
    benchmark = False
    deterministic = False
    allow_tf32 = True

    @staticmethod
    def is_available():
        return False  # CuPy's GPU path runs its own kernels, not cuDNN


class _Mps:
    """``tl.backends.mps``: Apple's Metal backend, which minitl does not have."""

    @staticmethod
    def is_available():
        return False

    @staticmethod
    def is_built():
        return False


class _CudaMatmulFlags:
    allow_tf32 = False


class _Cuda:
    """``tl.backends.cuda``: whether minitl can use an NVIDIA GPU (CuPy and a device present)."""
    matmul = _CudaMatmulFlags()

    @staticmethod
    def is_built():
        return cuda_available()


cudnn = _CudnnFlags()
mps = _Mps()
cuda = _Cuda()
