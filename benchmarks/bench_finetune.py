"""Does fine-tuning learn a handwriting style MNIST lacks, without forgetting MNIST, and how fast?

Three styles that MNIST's American writers of the 1990s rarely used, drawn onto MNIST training
digits: slashed zeros (a stroke across the 0), continental sevens (a crossbar through the stem)
and ones with a long flag. Each drawing goes through ``preprocess.to_mnist`` like a canvas drawing.

For each style a simulated person saves N examples of their style (5, 10, 20) into a real
examples database, as the app's "Right" / "Wrong, it is" buttons do, and the shipped model is
fine-tuned on them exactly as ``digitnet finetune`` does (``finetune.teach``). Measured: accuracy
on 200 other examples of the style (made from other MNIST digits) before and after, MNIST test
accuracy before and after, and the seconds the fine-tuning steps took: wall-clock, and the CPU
time of all threads together (on a machine shared with other work, the wall-clock time grows with
the load; CPU seconds / 2 is what two free cores would take if both were kept busy).

    .venv/bin/python benchmarks/bench_finetune.py [--data-dir DIR] [--counts 5,10,20] [--seeds 1]

Targets: the style read at >= 95% after 10 examples, MNIST test accuracy down by <= 0.2 points,
fine-tuning < 30 s on two cores.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

from digitnet.data import load_dataset
from digitnet.examples import ExampleStore
from digitnet.finetune import FinetuneConfig, accuracy, teach
from digitnet.models import default_model_path
from digitnet.persistence import load_model
from digitnet.preprocess import to_mnist

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared/data/mnist"
HELD_OUT = 200
SCALE = 4  # strokes are drawn on the digit enlarged 4 times, then the whole is prepared as MNIST
INK = 0.3  # a pixel above this belongs to the digit when finding its box


def stroke(shape: tuple[int, int], p0, p1, radius: float) -> np.ndarray:
    """Ink of a straight pen stroke from ``p0`` to ``p1`` ((row, column) in pixels), anti-aliased:
    1 within ``radius`` of the segment, fading to 0 over the next pixel."""
    rows, cols = np.indices(shape, dtype=np.float64)  # (h, w) each
    d = np.subtract(p1, p0, dtype=np.float64)  # (2,)
    t = np.clip(((rows - p0[0]) * d[0] + (cols - p0[1]) * d[1]) / (d @ d), 0, 1)  # (h, w): nearest point
    dist = np.hypot(rows - (p0[0] + t * d[0]), cols - (p0[1] + t * d[1]))  # (h, w)
    return np.clip(radius + 0.5 - dist, 0, 1)


def _box(img: np.ndarray) -> tuple[int, int, int, int]:
    rows, cols = np.flatnonzero(img.max(axis=1) > INK), np.flatnonzero(img.max(axis=0) > INK)
    return rows[0], rows[-1], cols[0], cols[-1]


def slash(img: np.ndarray, rng: np.random.Generator):
    """A stroke from below-left to above-right of the zero, a little beyond its box."""
    top, bottom, left, right = _box(img)
    h, w = bottom - top, right - left
    cy, cx = (top + bottom) / 2, (left + right) / 2
    over = 0.5 + rng.uniform(0.05, 0.2)
    lean = w * rng.uniform(0.6, 1.0, 2)  # (2,) how far left and right of the centre each end goes
    return (cy + over * h, cx - over * lean[0]), (cy - over * h, cx + over * lean[1])


def crossbar(img: np.ndarray, rng: np.random.Generator):
    """A short, slightly tilted bar through the seven's stem, a little below half-way down.

    The stem runs from the foot (the lowest ink) up to the right end of the top bar; of the ink
    runs on the chosen row, the bar crosses the one nearest that line.
    """
    top, bottom, left, right = _box(img)
    row = int(round(top + (bottom - top) * rng.uniform(0.5, 0.62)))
    foot = np.flatnonzero(img[bottom] > INK).mean()
    along = (bottom - row) / (bottom - top)  # 0 at the foot, 1 at the top
    expected = foot + along * (right - foot)
    ink = img[row] > INK
    starts = np.flatnonzero(ink & ~np.r_[False, ink[:-1]])
    stops = np.flatnonzero(ink & ~np.r_[ink[1:], False])
    mids = (starts + stops) / 2
    mid = mids[np.argmin(np.abs(mids - expected))] if mids.size else expected
    half, tilt = rng.uniform(0.15, 0.25) * (right - left + 4), rng.uniform(-1, 1)
    return (row + tilt, mid - half), (row - tilt, mid + half)


def flag(img: np.ndarray, rng: np.random.Generator):
    """A long stroke from the top of the one down to the left, 30-55 degrees below horizontal."""
    top, bottom, _, _ = _box(img)
    x0 = np.flatnonzero(img[top] > INK).mean()
    length, angle = rng.uniform(0.45, 0.6) * (bottom - top), np.deg2rad(rng.uniform(30, 55))
    return (top, x0), (top + length * np.sin(angle), x0 - length * np.cos(angle))


STYLES = {"slashed zero": (0, slash), "crossed seven": (7, crossbar), "flagged one": (1, flag)}


def draw_style(digits: np.ndarray, style: str, rng: np.random.Generator) -> np.ndarray:
    """MNIST digits ``(n, 784)`` with the style's stroke added, prepared as MNIST: ``(n, 784)``."""
    _, where = STYLES[style]
    out = []
    pad = 8 * SCALE  # room for a stroke that leaves the 28 x 28 field
    for x in digits:
        img = x.reshape(28, 28).astype(np.float64)  # (28, 28)
        p0, p1 = where(img, rng)
        big = np.pad(np.kron(img, np.ones((SCALE, SCALE))), pad)  # (28*SCALE + 2*pad,) * 2
        p0, p1 = (tuple(c * SCALE + pad + SCALE / 2 for c in p) for p in (p0, p1))  # pixel centres, enlarged
        ink = stroke(big.shape, p0, p1, rng.uniform(0.9, 1.3) * SCALE)
        out.append(to_mnist(np.maximum(big, ink).astype(np.float32)))
    return np.stack(out)  # (n, 784)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", type=Path, default=DATA_DIR if DATA_DIR.is_dir() else None)
    p.add_argument("--counts", default="5,10,20", help="examples the person saves (default 5,10,20)")
    p.add_argument("--seeds", type=int, default=1, help="simulated people per style and count")
    p.add_argument("--styles", default=",".join(STYLES))
    p.add_argument("--no-rehearsal", action="store_true",
                   help="batches of 64 of the person's examples and no MNIST images (what rehearsal saves)")
    args = p.parse_args(argv)
    mix = {"own_batch": 64, "rehearsal_batch": 0} if args.no_rehearsal else {}
    counts = [int(c) for c in args.counts.split(",")]
    data = load_dataset("mnist", args.data_dir, validation=0, progress=False)
    base = default_model_path()
    net, _ = load_model(base)
    mnist_before = accuracy(net, data.test.X, data.test.y)
    print(f"shipped model: MNIST test {100 * mnist_before:.2f}%")
    print("| style | examples | style before | style after | MNIST test change | fine-tune s | CPU s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for style in args.styles.split(","):
        digit, _ = STYLES[style]
        pool = data.train.X[data.train.y == digit]  # the MNIST digits the style is drawn on
        rng = np.random.default_rng(1)
        held = draw_style(pool[:HELD_OUT], style, rng)  # (200, 784), never trained on
        before = accuracy(net, held, np.full(HELD_OUT, digit))
        for n in counts:
            after, change, seconds, cpu = [], [], [], []
            for seed in range(args.seeds):
                start = HELD_OUT + seed * max(counts)
                person = draw_style(pool[start:start + n], style, np.random.default_rng(100 + seed))
                with tempfile.TemporaryDirectory() as tmp:
                    with ExampleStore(Path(tmp) / "examples.sqlite") as store:
                        for x in person:  # one click each
                            store.add(x, digit, "person", "canvas")
                        X, y, _ = store.arrays("person")
                    out = Path(tmp) / "mine.npz"
                    config = FinetuneConfig(holdout=0, seed=seed, **mix)
                    report = teach(base, X, y, data.train, data.test, out, config, profile="person",
                                   log=lambda line: None)
                    tuned, _ = load_model(out)
                after.append(accuracy(tuned, held, np.full(HELD_OUT, digit)))
                change.append(report.after["mnist_test"] - report.before["mnist_test"])
                seconds.append(report.seconds)
                cpu.append(report.cpu_seconds)
            print(f"| {style} | {n} | {100 * before:.1f}% | {100 * statistics.mean(after):.1f}% "
                  f"| {100 * statistics.mean(change):+.2f} | {statistics.median(seconds):.1f} "
                  f"| {statistics.median(cpu):.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
