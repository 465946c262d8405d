"""How well the app reads digits drawn small or large on its pad.

MNIST test digits are thinned to their pen paths (``strokes.digit_skeletons``) and sent as the
pad would send them (``strokes.pen_points``), drawn 30 to 240 canvas units high on the 280-unit
pad. Each drawing is painted again two ways and read like any drawing (``to_mnist`` and the
model, reject option off): with the pad's own pen (``canvas.PEN``, 18 units, as the person sees
it) and with the pen the app reads it with (``canvas.reading_pen``: the pad's pen within 6-20 %
of the drawing's size). A small digit drawn with the pad's pen is a blob whose loops are filled.

    .venv/bin/python benchmarks/bench_pad.py [--model PATH] [--n 1000]
"""

from __future__ import annotations

import argparse

import numpy as np

from digitnet.app import canvas
from digitnet.data import load_dataset
from digitnet.models import default_model_path
from digitnet.persistence import load_model
from digitnet.preprocess import to_mnist
from digitnet.strokes import digit_skeletons, pen_points

HEIGHTS = (30, 40, 60, 100, 160, 240)
"""Heights the digits are drawn at, in canvas units (the pad is 280 high)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=str(default_model_path()))
    parser.add_argument("--n", type=int, default=1000, help="MNIST test digits per height")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    net, _ = load_model(args.model)
    test = load_dataset("mnist", args.data_dir, validation=0).test
    skeletons, y = digit_skeletons(test.X[:args.n].reshape(-1, 28, 28)), test.y[:args.n]
    centre = (canvas.SIDE / 2, canvas.SIDE / 2)
    print(f"model {args.model}; {len(y)} MNIST test digits per height, redrawn from their pen paths")
    print("height  pad's pen  reading pen  (pen width at that height)")
    for height in HEIGHTS:
        drawings = [[[p] for p in pen_points(s, height, centre)] for s in skeletons]  # one dot per point
        pen = canvas.reading_pen(height)
        right = []
        for width in (canvas.PEN, None):
            X = np.array([to_mnist(canvas.rasterize(d, pen=width or canvas.reading_pen(max(canvas.extent(d)))))
                          for d in drawings], np.float32)  # (n, 784)
            right.append(float(np.mean(net.predict(X) == y)))
        print(f"{height:6}  {right[0]:9.1%}  {right[1]:11.1%}  ({pen:.0f} units)")


if __name__ == "__main__":
    main()
