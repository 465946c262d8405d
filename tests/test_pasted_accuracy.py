"""The preprocessing keeps the network's accuracy: MNIST test digits pasted at 2x-9x at random
places on a 280 x 280 canvas and read back through ``to_mnist`` keep >= 99% of the plain accuracy."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from digitnet.data import load_dataset
from digitnet.models import default_model_path
from digitnet.persistence import load_model
from digitnet.preprocess import to_mnist

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_predict.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_predict", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pasted_digits_keep_99_percent_of_the_accuracy(mnist_dir):
    bench = _bench()
    net, _ = load_model(default_model_path())
    test = load_dataset("mnist", mnist_dir, validation=0, progress=False).test
    plain, pasted = bench.pasted_accuracy(net, test.X, test.y, n=2000, seed=0)
    assert plain > 0.95
    assert pasted >= 0.99 * plain, f"plain {plain:.4f}, pasted {pasted:.4f}"


def test_paste_puts_the_digit_where_asked(mnist_dir):
    bench = _bench()
    x = load_dataset("mnist", mnist_dir, validation=0, progress=False).test.X[0]
    canvas = bench.paste(x, 4.0, top=10, left=150)
    assert canvas.shape == (280, 280, 4) and canvas.dtype == np.uint8 and (canvas[..., 3] == 255).all()
    ink = np.argwhere(canvas[..., 0] > 0)
    assert ink.min(axis=0).tolist() >= [10, 150] and ink.max(axis=0).tolist() < [10 + 112, 150 + 112]
    assert np.abs(to_mnist(canvas) - x).mean() < 0.05  # back through to_mnist: nearly the original
