"""The teaching notebook runs end to end on the real MNIST (two epochs) and is stored without outputs."""

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "train.ipynb"


def execute(nb):
    """Run `nb` in place in a fresh kernel, from the notebooks folder; return its printed text."""
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


def test_notebook_trains_the_classic_network_and_draws_its_figures(mnist_dir, monkeypatch):
    monkeypatch.setenv("DIGITNET_DATA_DIR", str(mnist_dir.parent))
    monkeypatch.setenv("NOTEBOOK_EPOCHS", "2")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    outputs = execute(nb)
    assert "a^L equals net.feedforward(X)" in outputs
    assert "nabla_b and nabla_w equal net.backprop(X, Y)" in outputs
    assert "the step equals net.update_mini_batch((X, Y), eta)" in outputs
    assert len(re.findall(r"after epoch \d+:", outputs)) == 2, outputs
    accuracy = float(re.findall(r"^test accuracy: (0\.\d{4})$", outputs, re.M)[-1])
    assert accuracy > 0.85, outputs
    wrong = re.search(r"^(\d+) of 10000 test digits misclassified$", outputs, re.M)
    assert wrong, outputs
    assert int(wrong.group(1)) == 10000 - round(accuracy * 10000)
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) == 4  # training digits, curves, misclassified digits, first-layer weights


@pytest.mark.parametrize("which", ["dataset folder", "its parent"])
def test_the_data_dir_may_name_the_dataset_folder_or_its_parent(mnist_dir, monkeypatch, which):
    monkeypatch.setenv("DIGITNET_DATA_DIR", str(mnist_dir if which == "dataset folder" else mnist_dir.parent))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    data_cell = next(i for i, c in enumerate(nb.cells) if c.get("id") == "data")
    nb.cells = nb.cells[: data_cell + 1]  # the imports and the loading of the data
    assert execute(nb).startswith("50000 10000 10000\n")


def test_notebook_is_stored_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)
