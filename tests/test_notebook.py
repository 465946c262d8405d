"""The notebook runs end to end (kept short: a few epochs on the real MNIST)."""

import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "train.ipynb"


def test_notebook_runs_end_to_end(mnist_dir, monkeypatch):
    monkeypatch.setenv("DIGITNET_DATA_DIR", str(mnist_dir.parent))
    monkeypatch.setenv("NOTEBOOK_EPOCHS", "2")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    outputs = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    accuracy = float(outputs.split("test accuracy: ")[1].split()[0])
    assert accuracy > 0.85, outputs
    assert "misclassified" in outputs
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) == 2
