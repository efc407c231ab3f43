"""The notebooks of demos/notebooks run top to bottom in a real Jupyter kernel (nbclient), as a student runs them.

They are committed without outputs, so what a reader sees is always what the current code prints. A
notebook that needs the real MNIST file or the ResNet-20 checkpoint is skipped, saying how to supply it.
"""
import os
import pathlib

import pytest

from local_files import MNIST_SKIP, WEIGHTS_SKIP, checkpoint_path, mnist_dir

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

FOLDER = pathlib.Path(__file__).resolve().parents[1] / "demos" / "notebooks"
NOTEBOOKS = sorted(FOLDER.glob("*.ipynb"))
NEEDS = {"2_optimizer_internals.ipynb": (mnist_dir, MNIST_SKIP),
         "4_transfer_learning.ipynb": (lambda: mnist_dir() and checkpoint_path(), MNIST_SKIP + "; " + WEIGHTS_SKIP)}


def test_there_are_four_notebooks_without_outputs():
    assert [path.name for path in NOTEBOOKS] == ["1_autograd_from_the_inside.ipynb", "2_optimizer_internals.ipynb",
                                                 "3_gradient_check_tests.ipynb", "4_transfer_learning.ipynb"]
    for path in NOTEBOOKS:
        cells = nbformat.read(path, as_version=4).cells
        assert all(not cell.get("outputs") and cell.get("execution_count") is None
                   for cell in cells if cell.cell_type == "code"), f"{path.name} was committed with outputs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path, monkeypatch):
    available, reason = NEEDS.get(path.name, (lambda: True, ""))
    if not available():
        pytest.skip(reason)
    monkeypatch.setenv("MPLBACKEND", "Agg")  # the kernel draws figures without a display
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(FOLDER.parents[1]), os.environ.get("PYTHONPATH", "")]))
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(FOLDER)}})
    client.execute()  # raises CellExecutionError, with the cell and its traceback, if any cell fails
    errors = [output for cell in notebook.cells for output in cell.get("outputs", []) if output.output_type == "error"]
    assert not errors
