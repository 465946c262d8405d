"""What the app does for one drawing, timed; and how much accuracy the real preprocessing keeps.

1. Latency: ``to_mnist`` on a 280 x 280 RGBA canvas plus ``predict_proba``, the work the app does
   after each stroke; the median over many repeats (target: under 5 ms with the default model).
2. Pasted digits: MNIST test digits enlarged 2x to 9x (random scale) and pasted at a random place
   on a black 280 x 280 canvas, then read back through ``to_mnist``. Their accuracy is compared with
   the plain accuracy on the same digits (target: the ratio is at least 0.99).

    python benchmarks/bench_predict.py [--model PATH] [--n 2000] [--data-dir DIR]

The test set is found as ``digitnet.data.load_dataset`` finds it (``$DIGITNET_DATA_DIR`` or the
cache). ``tests/test_pasted_accuracy.py`` imports ``pasted_accuracy`` from here.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from PIL import Image

from digitnet.data import DataError, load_dataset
from digitnet.models import default_model_path
from digitnet.nn.network import Network
from digitnet.persistence import load_model
from digitnet.preprocess import to_mnist

CANVAS = 280


def paste(x: np.ndarray, scale: float, top: int, left: int) -> np.ndarray:
    """A 784-vector digit enlarged ``scale`` times (bilinear) on a black RGBA canvas at
    ``(top, left)``, as the drawing canvas would send it: ``(280, 280, 4)`` uint8, opaque."""
    side = round(28 * scale)
    digit = Image.fromarray(x.reshape(28, 28).astype(np.float32), mode="F")
    big = np.asarray(digit.resize((side, side), Image.Resampling.BILINEAR))  # (side, side)
    canvas = np.zeros((CANVAS, CANVAS, 4), np.uint8)
    canvas[..., 3] = 255
    ink = np.round(np.clip(big, 0, 1) * 255).astype(np.uint8)
    canvas[top:top + side, left:left + side, :3] = ink[..., None]
    return canvas


def random_paste(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``paste`` at a random scale in [2, 9] and a random position where the digit fits."""
    scale = float(rng.uniform(2.0, 9.0))
    side = round(28 * scale)
    top, left = (int(v) for v in rng.integers(0, CANVAS - side + 1, size=2))
    return paste(x, scale, top, left)


def pasted_accuracy(net: Network, X: np.ndarray, y: np.ndarray, n: int = 2000,
                    seed: int = 0) -> tuple[float, float]:
    """Accuracy on ``n`` test digits drawn with ``seed``: plain, and pasted then preprocessed."""
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(X), size=min(n, len(X)), replace=False)  # (n,)
    plain = net.evaluate(X[idx].reshape(len(idx), *net.input_shape), y[idx])
    inputs = np.stack([to_mnist(random_paste(X[i], rng)) for i in idx])  # (n, 784)
    pasted = net.evaluate(inputs.reshape(len(idx), *net.input_shape), y[idx])
    return plain, pasted


def latency(net: Network, canvas: np.ndarray, repeats: int = 300) -> dict[str, float]:
    """Median milliseconds of preprocessing, of the forward pass, and of both, for one canvas."""
    pre, fwd, both = [], [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        x = to_mnist(canvas)
        t1 = time.perf_counter()
        net.predict_proba(x.reshape(1, *net.input_shape))
        t2 = time.perf_counter()
        pre.append(t1 - t0)
        fwd.append(t2 - t1)
        both.append(t2 - t0)
    return {k: 1000 * float(np.median(v)) for k, v in (("preprocess", pre), ("forward", fwd), ("total", both))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=default_model_path())
    parser.add_argument("--n", type=int, default=2000, help="test digits to paste (default 2000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--data-dir", type=Path, help="folder with the MNIST IDX files")
    args = parser.parse_args()

    net, meta = load_model(args.model)
    try:
        test = load_dataset("mnist", args.data_dir, validation=0, progress=False).test
    except DataError as e:
        raise SystemExit(f"bench_predict: {e} (or give --data-dir, or set DIGITNET_DATA_DIR)") from None
    print(f"model {args.model}: {net.describe()}")

    canvas = paste(test.X[0], 8.0, 20, 30)  # a 224-pixel digit, about what a person draws
    ms = latency(net, canvas, args.repeats)
    print(f"latency per drawing (median of {args.repeats}): {ms['total']:.2f} ms "
          f"= preprocess {ms['preprocess']:.2f} ms + forward {ms['forward']:.2f} ms  (target < 5 ms)")

    plain, pasted = pasted_accuracy(net, test.X, test.y, args.n, args.seed)
    print(f"accuracy on {args.n} test digits: plain {plain:.4f}, pasted at 2x-9x through to_mnist "
          f"{pasted:.4f}, ratio {pasted / plain:.4f}  (target >= 0.99)")


if __name__ == "__main__":
    main()
