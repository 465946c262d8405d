"""How the model reads digits written the way MNIST's writers did not: a slashed zero and a one
with a long flag.

MNIST's writers were American: their zeros have no slash and their ones no flag, which many
European writers add. Each MNIST test 0 gets a slash corner to corner
through it, and each 1 a flag from its top, down and to the left, a third to a half of its
height long; both drawn 2.25 px wide (9 px on a 4x enlargement, about MNIST's stroke), then
read like any image (``to_mnist``, the model and its reject option).

    .venv/bin/python benchmarks/bench_styles.py [--model PATH] [--n 300]
"""

from __future__ import annotations

import argparse

import numpy as np
from PIL import Image, ImageDraw

from digitnet import reject
from digitnet.data import load_dataset
from digitnet.models import default_model_path
from digitnet.persistence import load_model
from digitnet.preprocess import to_mnist

SCALE = 4
"""The digits are enlarged this many times before a stroke is added."""
PEN = 9
"""Width of the added stroke on the enlarged digit, in pixels."""


def with_stroke(image: np.ndarray, start: tuple[float, float], end: tuple[float, float]) -> np.ndarray:
    """The digit ``image (28, 28)`` enlarged ``SCALE`` times with a stroke from ``start`` to ``end``
    (``(x, y)`` in the 28 px digit's pixels)."""
    big = Image.fromarray((image * 255).astype(np.uint8)).resize((28 * SCALE, 28 * SCALE), Image.Resampling.BILINEAR)
    ImageDraw.Draw(big).line([(x * SCALE, y * SCALE) for x, y in (start, end)], fill=255, width=PEN)
    return np.asarray(big, np.float32) / 255  # (112, 112)


def slashed_zero(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A slash from just past the top-right corner of the ink to just past its bottom-left."""
    rows, cols = np.nonzero(image > 0.3)
    return with_stroke(image, (cols.max() + 1, rows.min() - 1), (cols.min() - 1, rows.max() + 1))


def flagged_one(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A flag from the top of the stroke, down and to the left, 0.3 to 0.5 of its height long."""
    rows, cols = np.nonzero(image > 0.3)
    top = rows.min()
    x = cols[rows == top].mean()
    length = rng.uniform(0.3, 0.5) * (rows.max() - top)
    return with_stroke(image, (x, top), (x - length, top + 0.6 * length))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=str(default_model_path()))
    parser.add_argument("--n", type=int, default=300, help="test digits of each kind")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    net, meta = load_model(args.model)
    test = load_dataset("mnist", args.data_dir, validation=0).test
    rng = np.random.default_rng(0)
    print(f"model {args.model}; {args.n} MNIST test digits of each kind, reject option on")
    print("style          read right  refused  most read as")
    for name, digit, draw in (("slashed zero", 0, slashed_zero), ("flagged one", 1, flagged_one)):
        images = test.X[test.y == digit][:args.n].reshape(-1, 28, 28)
        X = np.array([to_mnist(draw(img, rng)) for img in images], np.float32)  # (n, 784)
        digits, _, _ = reject.classify(net, meta, X.reshape(-1, *net.input_shape))
        read = np.array([-1 if d is None else d for d in digits])  # (n,), -1: refused
        wrong = np.bincount(read[(read >= 0) & (read != digit)], minlength=10)  # (10,)
        most = f"{int(wrong.argmax())} ({wrong.max() / len(read):.1%})" if wrong.any() else "-"
        print(f"{name:13}  {np.mean(read == digit):10.1%}  {np.mean(read == -1):7.1%}  {most}")


if __name__ == "__main__":
    main()
