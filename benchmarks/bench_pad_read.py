"""How well Number mode reads what is written on its pad: as a picture, or with the pen's strokes.

The app knows the pen's path: which stroke painted each pixel (``canvas.stroke_ids``). Numbers of
MNIST test digits are written on the 840 x 280 unit pad from their pen paths
(``strokes.digit_skeletons``, ``strokes.pen_points``), each 120-180 units high, up to a fifth of
that apart vertically, with gaps of 10-40 units, or, for a fifth of neighbours, pushed together
until their ink touches or overlaps by up to 10 units. A pen path's strokes are its connected
pieces, and a sixth of the digits are written in two strokes (the top and the bottom of the path,
which touch, as a "4" or a "5" is often written). The same numbers are written again with their
middle two digits in one stroke, as a pen that is not lifted writes them: the two digits' strokes
are one, joined by a straight line between their nearest points (``--join bottom-top``: from the
first's lowest point to the second's highest). The held-out non-digits (``bench_reject``'s:
letters and symbols of other fonts, spirals, zigzags, stars) are written the same way, alone and
between two digits.

Each drawing is painted as the app paints it (``canvas.rasterize`` with ``canvas.reading_pen``)
and read twice by ``segment.read``, reject option on: from the picture alone (8-connected blobs,
as ``digitnet read`` reads a screenshot) and with the strokes (as the app reads its pad).

    .venv/bin/python benchmarks/bench_pad_read.py [--model PATH] [--numbers 300] [--non-digits 300]
        [--seed 0] [--join nearest|bottom-top]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.ndimage import label

from digitnet import segment
from digitnet.app import canvas, number
from digitnet.data import load_dataset
from digitnet.models import default_model_path
from digitnet.outliers import held_out_outliers
from digitnet.persistence import load_model
from digitnet.preprocess import BlankImageError
from digitnet.strokes import digit_skeletons, pen_points

TOUCHING = 0.2
"""Share of neighbouring digits pushed together until their ink touches."""
TWO_STROKES = 1 / 6
"""Share of digits written in two strokes, the top of the pen path and the bottom."""


def written(skel: np.ndarray, height: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One skeleton ``skel (h, w)`` as pen points ``(n, 2)`` centred on 0, ``height`` units high,
    and the stroke of each point ``(n,)``: the skeleton's connected pieces, one of them cut in two
    at its middle row for a share ``TWO_STROKES`` of the digits."""
    pieces, _ = label(skel, structure=np.ones((3, 3)))  # (h, w)
    rows, _ = np.nonzero(skel)
    points = np.array(pen_points(skel, height, (0.0, 0.0)))  # (n, 2) in the order of np.nonzero
    stroke = pieces[np.nonzero(skel)]  # (n,)
    if rng.random() < TWO_STROKES:
        stroke = np.where(rows > np.median(rows), stroke + pieces.max(), stroke)
    return points, stroke


def layout(paths: list[tuple[np.ndarray, np.ndarray]], pen: float, rng: np.random.Generator, gap: float | None = None,
           joined: int | None = None, join: str = "nearest") -> tuple[list[list[list[float]]], list[int]]:
    """Pen paths side by side on the number pad, left to right: their points as one-point strokes
    (dots, as ``bench_pad`` draws) and the id of the stroke each dot belongs to, unique in the
    drawing. Ink gaps are random (``TOUCHING``) or all ``gap`` units. Path ``joined`` is written
    in one stroke with the path before it: all their dots, and a line between them, share one
    id; the line joins their nearest points, or with ``join="bottom-top"`` the lowest point of the
    path before to the highest of this one (a pen going on from the bottom of one digit to the top
    of the next)."""
    dots, ids = [], []
    x, first, start, before = 20.0, 0, 0, np.zeros((0, 2))
    for k, (points, stroke) in enumerate(paths):
        height = np.ptp(points[:, 1])
        space = gap if gap is not None else (-rng.uniform(0, 10) if rng.random() < TOUCHING else rng.uniform(10, 40))
        shift = x - points[:, 0].min() + (pen + space if k else 0)
        y = canvas.SIDE / 2 + rng.uniform(-0.1, 0.1) * height
        placed = points + [shift, y]  # (n, 2)
        _, index = np.unique(stroke, return_inverse=True)
        if k == joined:
            apart = np.linalg.norm(before[:, None] - placed[None], axis=-1)  # (m, n) from each dot before to each here
            a, b = np.unravel_index(apart.argmin(), apart.shape)
            if join == "bottom-top":  # y grows downwards
                a, b = before[:, 1].argmax(), placed[:, 1].argmin()
            line = np.linspace(before[a], placed[b], max(2, int(apart[a, b])))  # (l, 2) one point a unit
            index = np.zeros(len(placed) + len(line), int)  # (n + l,) one stroke
            placed = np.concatenate([placed, line])  # (n + l, 2)
            ids[start:] = [ids[start]] * (len(ids) - start)
            first = ids[start] - 1
        dots += [[[float(px), float(py)]] for px, py in placed]
        start = len(ids)
        ids += (first + 1 + index).tolist()
        first, before = max(ids), placed[:len(points)]
        x = points[:, 0].max() + shift
    return dots, ids


def reads(net, meta, dots: list, ids: list[int]) -> tuple[str, str]:
    """The number read from the painted drawing: from the picture alone, and with its strokes; none
    from a drawing with too little ink to read (a speck, for which the app asks for larger writing)."""
    pen = canvas.reading_pen(canvas.extent(dots)[1])
    image = canvas.rasterize(dots, number.WIDTH, pen)
    try:
        picture = segment.read(net, meta, image).number
    except BlankImageError:
        return "", ""
    with_strokes = segment.read(net, meta, image, strokes=canvas.stroke_ids(dots, number.WIDTH, pen, ids)).number
    return picture, with_strokes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=str(default_model_path()))
    parser.add_argument("--numbers", type=int, default=300, help="4-digit numbers to write")
    parser.add_argument("--non-digits", type=int, default=300,
                        help="held-out non-digits to write, alone and between digits (those that thin to nothing left out)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--join", choices=["nearest", "bottom-top"], default="nearest",
                        help="where the line that writes the middle two digits in one stroke runs (layout)")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    net, meta = load_model(args.model)
    rng = np.random.default_rng(args.seed)
    joins = np.random.default_rng([args.seed, 1])  # the one-stroke layouts' own, so the other drawings stay as they are
    test = load_dataset("mnist", args.data_dir, validation=0).test
    X, y = test.X.reshape(-1, 28, 28), test.y
    print(f"model {args.model}; reject option on; the same drawings read from the picture and with the strokes")
    print("drawings                                  picture  strokes  seconds")
    start, right, one_stroke = time.perf_counter(), np.zeros(2), np.zeros(2)
    for _ in range(args.numbers):
        pick = rng.choice(len(X), 4, replace=False)
        height = rng.uniform(120, 180)
        paths = [written(s, height, rng) for s in digit_skeletons(X[pick])]
        truth = "".join(map(str, y[pick]))
        pen = canvas.reading_pen(height)
        right += [r == truth for r in reads(net, meta, *layout(paths, pen, rng))]
        one_stroke += [r == truth for r in reads(net, meta, *layout(paths, pen, joins, joined=2, join=args.join))]
    print(f"4-digit numbers read exactly ({args.numbers:5})      {right[0] / args.numbers:7.1%}  "
          f"{right[1] / args.numbers:7.1%}")
    print(f"  the middle two digits in one stroke         {one_stroke[0] / args.numbers:7.1%}  "
          f"{one_stroke[1] / args.numbers:7.1%}  {time.perf_counter() - start:7.1f}")
    if args.non_digits == 0:
        return
    others = [s for s in digit_skeletons(held_out_outliers(args.non_digits, rng).reshape(-1, 28, 28)) if s.any()]
    start, alone, between = time.perf_counter(), np.zeros(2), np.zeros(2)
    for other in others:
        height = rng.uniform(120, 180)
        alone += [r == "" for r in reads(net, meta, *layout([written(other, height, rng)], 0, rng))]
        i, j = rng.choice(len(X), 2, replace=False)
        paths = [written(s, height, rng) for s in digit_skeletons(X[[i, j]])]
        paths.insert(1, written(other, height, rng))
        between += [r == f"{y[i]}{y[j]}" for r in reads(net, meta, *layout(paths, canvas.reading_pen(height), rng, 30))]
    n = max(len(others), 1)
    print(f"non-digits alone read as no number ({n:5}) {alone[0] / n:7.1%}  {alone[1] / n:7.1%}")
    print(f"non-digits between two digits left out      {between[0] / n:7.1%}  {between[1] / n:7.1%}  "
          f"{time.perf_counter() - start:7.1f}")


if __name__ == "__main__":
    main()
