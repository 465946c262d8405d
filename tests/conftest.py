"""Shared pytest fixtures."""

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Callable

import pytest


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The real MNIST (gzip IDX) in ``../shared/data/mnist``, beside the repository as CI clones it."""
    path = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
    assert path.is_dir(), f"real MNIST not found at {path}"
    return path


@pytest.fixture(scope="session")
def benchmark_script() -> Callable[[str], ModuleType]:
    """Loads a script of ``benchmarks/`` as a module, by name: ``benchmark_script("bench_read")``."""
    def load(name: str) -> ModuleType:
        path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    return load
