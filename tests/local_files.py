"""Where tests find the real MNIST test set and ResNet-20 checkpoint, and the skips that say how to supply them.

No test downloads: these files come from the folders named by the environment variables, so the full
suite runs offline as

    MINITL_DATA_DIR=../shared/data MINITL_WEIGHTS_DIR=../shared/pretrained pytest
"""
import os
import pathlib

import pytest

MNIST_FILES = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
CHECKPOINT = "resnet20-12fca82f.th"
MNIST_SKIP = ("needs the MNIST test set: set MINITL_DATA_DIR to a folder holding mnist/" + " and mnist/".join(MNIST_FILES)
              + " (e.g. MINITL_DATA_DIR=../shared/data pytest)")
WEIGHTS_SKIP = (f"needs the CIFAR-10 ResNet-20 checkpoint: set MINITL_WEIGHTS_DIR to a folder holding {CHECKPOINT} "
                "(e.g. MINITL_WEIGHTS_DIR=../shared/pretrained pytest)")


def mnist_dir():
    """$MINITL_DATA_DIR when it holds both MNIST test files, else None."""
    local = os.environ.get("MINITL_DATA_DIR")
    return local if local and all((pathlib.Path(local) / "mnist" / name).exists() for name in MNIST_FILES) else None


def checkpoint_path():
    """The ResNet-20 checkpoint in $MINITL_WEIGHTS_DIR, or None."""
    local = os.environ.get("MINITL_WEIGHTS_DIR")
    path = pathlib.Path(local or ".") / CHECKPOINT
    return path if local and path.exists() else None


needs_mnist = pytest.mark.skipif(mnist_dir() is None, reason=MNIST_SKIP)
needs_weights = pytest.mark.skipif(checkpoint_path() is None, reason=WEIGHTS_SKIP)
