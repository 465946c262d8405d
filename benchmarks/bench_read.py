"""How often ``digitnet read`` reads a whole number exactly, by its length.

Numbers of 1 to 8 digits are composed from MNIST test digits the way people write them: random
gaps between digits (some pairs pushed together until their strokes touch), vertical jitter of
up to a fifth of a digit's height, and some digits drawn as two strokes that do not touch (a one-pixel band erased across
the digit). Each number is read by :func:`digitnet.segment.read` with the model given (default:
the shipped one) and counts as right only when every digit is right and none is missing or extra.

    .venv/bin/python benchmarks/bench_read.py [--model PATH] [--per-length 200] [--lengths 1-8] [--no-reject]

Target: at least 97 % of the 4-digit numbers read exactly.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from digitnet.data import load_dataset
from digitnet.models import default_model_path
from digitnet.persistence import load_model
from digitnet.segment import read

TOUCHING = 0.2
"""Share of neighbouring digits pushed together until they touch."""
BROKEN = 0.15
"""Share of digits drawn as two strokes that do not touch."""


def compose(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One number from ``images (k, 28, 28)``: digits side by side on a dark canvas, ink in [0, 1]."""
    crops = []
    for img in images:
        img = img.copy()
        rows = np.flatnonzero(img.max(axis=1) > 0.1)
        if rng.random() < BROKEN and rows.size > 8:  # a band across the middle: two strokes
            band = int(rng.integers(rows[0] + rows.size // 3, rows[0] + 2 * rows.size // 3))
            img[band] = 0.0
        cols = np.flatnonzero(img.max(axis=0) > 0.1)
        crops.append(img[:, cols[0]:cols[-1] + 1])  # (28, w)
    gaps = [int(rng.integers(-2, 1)) if rng.random() < TOUCHING else int(rng.integers(2, 9))
            for _ in crops[1:]]
    width = 8 + sum(c.shape[1] for c in crops) + sum(gaps) + 8
    canvas = np.zeros((28 + 8, max(width, 16)), np.float32)  # (36, W)
    x = 8
    for k, crop in enumerate(crops):
        y = int(rng.integers(0, 5))
        region = canvas[y:y + 28, x:x + crop.shape[1]]
        np.maximum(region, crop, out=region)
        x += crop.shape[1] + (gaps[k] if k < len(gaps) else 0)
    return canvas


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=str(default_model_path()))
    parser.add_argument("--per-length", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lengths", default="1-8", help="number lengths to measure, e.g. 4 or 1-8")
    parser.add_argument("--no-reject", action="store_true", help="read every part as a digit")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    low, _, high = args.lengths.partition("-")
    net, meta = load_model(args.model)
    test = load_dataset("mnist", args.data_dir, validation=0).test
    X, y = test.X.reshape(-1, 28, 28), test.y
    rng = np.random.default_rng(args.seed)
    print(f"model {args.model}; {args.per_length} numbers per length; {TOUCHING:.0%} of neighbours touching, "
          f"{BROKEN:.0%} of digits in two strokes; reject option {'off' if args.no_reject else 'on'}")
    print("length  exact    digits right  seconds")
    for length in range(int(low), int(high or low) + 1):
        start, exact, right, total = time.perf_counter(), 0, 0, 0
        for _ in range(args.per_length):
            idx = rng.integers(len(X), size=length)
            truth = "".join(map(str, y[idx]))
            got = read(net, meta, compose(X[idx], rng), use_reject=not args.no_reject).number
            exact += got == truth
            right += sum(a == b for a, b in zip(got, truth)) if len(got) == len(truth) else 0
            total += length
        print(f"{length:>6}  {exact / args.per_length:6.1%}  {right / total:12.1%}  "
              f"{time.perf_counter() - start:7.1f}")


if __name__ == "__main__":
    main()
