"""What on-the-fly augmentation costs per epoch, alone and as a share of a training epoch.

1. The ``Augmenter`` alone, on the 50,000 MNIST training images in batches of 128, for the
   settings the presets and the README use: the default (shifts of 2 px, rotations of 10 degrees,
   rescaling by 10%), shifts of 1 px only (the Fashion-MNIST run), and the default plus Simard's
   elastic distortion (alpha 34, sigma 4).
2. One training epoch of the ``mlp`` and ``cnn`` presets with and without the default
   augmentation, timed in turns in the same run (on a part of the training set, scaled to 50,000
   images), so that the overhead is a ratio measured side by side.

    .venv/bin/python benchmarks/bench_augment.py [--data-dir DIR] [--repeats 3] [--threads 1]

Medians of the repeats, in seconds per epoch of 50,000 images.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared/data/mnist"
N_TRAIN = 50_000
BATCH = 128
SPECS = {
    "default (shift 2, rotate 10, scale 0.1)": {"shift": 2.0, "rotate": 10.0, "scale": 0.1},
    "shift 1 only (the Fashion-MNIST run)": {"shift": 1.0, "rotate": 0.0, "scale": 0.0},
    "default + elastic (alpha 34, sigma 4)": {"shift": 2.0, "rotate": 10.0, "scale": 0.1,
                                              "elastic_alpha": 34.0, "elastic_sigma": 4.0},
}
PRESET_IMAGES = {"mlp": 10_000, "cnn": 2_000}  # images timed per epoch, scaled to 50,000


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", type=Path, default=DATA_DIR if DATA_DIR.is_dir() else None,
                   help=f"folder with the MNIST IDX files (default {DATA_DIR}, else the cache)")
    p.add_argument("--repeats", type=int, default=3, help="timings of each; the table shows the median")
    p.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    args = p.parse_args(argv)
    if min(args.repeats, args.threads) < 1:
        p.error("--repeats and --threads must be at least 1")
    return args


if __name__ == "__main__":
    # OpenBLAS reads its thread count when it loads: set it before numpy is imported.
    os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = str(parse_args().threads)

import numpy as np  # noqa: E402

from digitnet.augment import Augmenter  # noqa: E402
from digitnet.data import load_dataset, one_hot  # noqa: E402
from digitnet.nn.layers import layer_from_config  # noqa: E402
from digitnet.nn.network import Network  # noqa: E402
from digitnet.nn.optimizers import make_optimizer  # noqa: E402
from digitnet.presets import PRESETS  # noqa: E402
from digitnet.training import run_epoch  # noqa: E402


def augment_epoch(augment: Augmenter, X: np.ndarray, rng: np.random.Generator) -> float:
    """Seconds to distort every image of ``X`` once, a batch at a time."""
    start = time.perf_counter()
    for i in range(0, len(X), BATCH):
        augment(X[i:i + BATCH], rng)
    return time.perf_counter() - start


def preset_epoch(name: str, X: np.ndarray, Y: np.ndarray, augment: Augmenter | None) -> float:
    """Seconds per epoch of 50,000 images of preset ``name`` (timed on ``PRESET_IMAGES[name]``)."""
    preset = PRESETS[name]
    net = Network([layer_from_config(c) for c in preset["layers"]], cost=preset["cost"], seed=0)
    optimizer = make_optimizer(preset["optimizer"], preset["eta"])
    n = PRESET_IMAGES[name]
    start = time.perf_counter()
    run_epoch(net, X[:n], Y[:n], preset["batch_size"], optimizer, augment)
    return (time.perf_counter() - start) * N_TRAIN / n


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    data = load_dataset("mnist", args.data_dir, progress=False)
    X, Y = data.train.X, one_hot(data.train.y)
    rng = np.random.default_rng(0)
    print(f"augmentation alone, seconds per epoch of {N_TRAIN:,} images (batch {BATCH}, "
          f"median of {args.repeats}):")
    for label, spec in SPECS.items():
        augment = Augmenter(**spec)
        seconds = statistics.median(augment_epoch(augment, X, rng) for _ in range(args.repeats))
        print(f"  {label:<42} {seconds:6.2f} s")
    print(f"\na training epoch with and without the default augmentation (seconds per epoch, "
          f"{args.threads} BLAS thread(s), median of {args.repeats}, taking turns):")
    default = Augmenter(**SPECS["default (shift 2, rotate 10, scale 0.1)"])
    for name in PRESET_IMAGES:
        times: dict[str, list[float]] = {"plain": [], "augmented": []}
        for _ in range(args.repeats):
            times["plain"].append(preset_epoch(name, X, Y, None))
            times["augmented"].append(preset_epoch(name, X, Y, default))
        plain, augmented = (statistics.median(t) for t in times.values())
        print(f"  {name}: {plain:7.2f} s plain, {augmented:7.2f} s augmented: "
              f"+{augmented - plain:.2f} s ({augmented / plain - 1:+.0%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
