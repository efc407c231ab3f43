"""Record what PyTorch computes with a small CNN's weights, for tests/test_io_parity.py's runs without torch.

Run from the repository root with torch installed (pip install -e ".[oracle]", the pinned torch):

    python tests/golden/make_io_golden.py

It writes tests/golden/io.npz: ``x`` an input batch and ``logits`` what torch computes from it in eval mode
with CNN-S (minitl.lab.torch_models.cnn_s, the same names in both engines) holding the seeded weights of
tests/cases/io_cases.py, which the test draws again.
"""
import pathlib
import sys

import numpy as np
import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from minitl.lab.torch_models import cnn_s  # noqa: E402

from cases.io_cases import seeded_state  # noqa: E402


def main():
    torch.manual_seed(0)
    net = cnn_s(torch.nn).eval()
    state = seeded_state({name: tuple(value.shape) for name, value in net.state_dict().items()})
    net.load_state_dict({name: torch.from_numpy(value) for name, value in state.items()})
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        logits = net(x)
    path = pathlib.Path(__file__).with_name("io.npz")
    np.savez(path, x=x.numpy(), logits=logits.numpy())
    print(f"wrote {path} with torch {torch.__version__}")


if __name__ == "__main__":
    main()
