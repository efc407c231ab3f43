"""Record what PyTorch computes with a small CNN's weights, for tests/test_io_parity.py's runs without torch.

Run from the repository root with torch installed (pip install -e ".[oracle]", the pinned torch):

    python tests/golden/make_io_golden.py

It writes tests/golden/io.npz: ``state/NAME`` the weights of CNN-S (minitl.lab.torch_models.cnn_s, the same
names in both engines) as torch.manual_seed(0) initialises them, ``x`` an input batch and ``logits`` what
torch computes from them in eval mode.
"""
import pathlib
import sys

import numpy as np
import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))
from minitl.lab.torch_models import cnn_s  # noqa: E402


def main():
    torch.manual_seed(0)
    net = cnn_s(torch.nn).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        logits = net(x)
    arrays = {f"state/{name}": value.numpy() for name, value in net.state_dict().items()}
    path = pathlib.Path(__file__).with_name("io.npz")
    np.savez(path, x=x.numpy(), logits=logits.numpy(), **arrays)
    print(f"wrote {path} with torch {torch.__version__}")


if __name__ == "__main__":
    main()
