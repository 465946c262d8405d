"""How well a model reads digits drawn as canvas strokes: MNIST test digits redrawn at six widths.

Each MNIST test digit is enlarged 4x (a 112 px canvas), thinned to its skeleton and drawn again
with a round brush 4 %, 8 %, 12 %, 20 %, 30 % or 45 % of its height wide (MNIST's own strokes are
about 12 %; 45 % is a small digit drawn with a fat brush), then read like any drawing:
``digitnet.preprocess.to_mnist`` and the model, with the reject option off.

    .venv/bin/python benchmarks/bench_strokes.py [--model PATH] [--n 10000]

Target: the shipped model reads at least 99.3 % of them right.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from digitnet.data import load_dataset
from digitnet.models import default_model_path
from digitnet.persistence import load_model
from digitnet.preprocess import to_mnist
from digitnet.strokes import redraw_digits

WIDTHS = (0.04, 0.08, 0.12, 0.2, 0.3, 0.45)
"""Brush widths as shares of the digit's height."""


def stroke_set(images: np.ndarray, width: float, batch: int = 500) -> np.ndarray:
    """``images (n, 28, 28)`` redrawn at ``width`` and prepared by ``to_mnist``: ``(n, 784)``."""
    out = np.empty((len(images), 784), np.float32)
    for i in range(0, len(images), batch):
        drawn = redraw_digits(images[i:i + batch], np.full(len(images[i:i + batch]), width))  # (b, 112, 112)
        out[i:i + batch] = [to_mnist(d) for d in drawn]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=str(default_model_path()))
    parser.add_argument("--n", type=int, default=10_000, help="test digits per width")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    net, _ = load_model(args.model)
    test = load_dataset("mnist", args.data_dir, validation=0).test
    images, y = test.X[:args.n].reshape(-1, 28, 28), test.y[:args.n]
    print(f"model {args.model}; {len(y)} MNIST test digits per width")
    print(f"plain MNIST: {np.mean(net.predict(test.X[:args.n]) == y):.2%}")
    right = 0
    for width in WIDTHS:
        start = time.perf_counter()
        acc = float(np.mean(net.predict(stroke_set(images, width)) == y))
        right += acc * len(y)
        print(f"brush {width:4.0%} of the height: {acc:.2%}  ({time.perf_counter() - start:.0f} s)")
    print(f"all widths: {right / (len(y) * len(WIDTHS)):.2%}  (target >= 99.30%)")


if __name__ == "__main__":
    main()
