"""Shared pytest fixtures."""

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The real MNIST (gzip IDX) in ``../shared/data/mnist``, beside the repository as CI clones it."""
    path = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
    assert path.is_dir(), f"real MNIST not found at {path}"
    return path
