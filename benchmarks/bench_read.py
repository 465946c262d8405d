"""How often ``digitnet read`` reads a whole number exactly, by its length.

Numbers of 1 to 8 digits are composed from MNIST test digits the way people write them: random
gaps between digits (some pairs pushed together until their strokes touch), vertical jitter of
up to a fifth of a digit's height, and some digits drawn as two strokes that do not touch (a one-pixel band erased across
the digit). Each number is read by :func:`digitnet.segment.read` with the model given (default:
the shipped one) and counts as right only when every digit is right and none is missing or extra.
"digits alone" is the share of numbers whose digits the model reads right one by one, each from
its own crop: what a cutter that finds every digit's crop would read, without the closing that
:mod:`digitnet.segment` gives a digit in two strokes (so the cutter may do better on those).
"cut at truth" cuts the composed image straight down at the true boundaries between the digits
(the middle of each overlap or gap) and reads each slice as one digit: the most that choosing
among straight cuts could read, where a touching neighbour's strokes cross the cut (the reader's
bent cuts, which go round such strokes, may read more).

    .venv/bin/python benchmarks/bench_read.py [--model PATH] [--per-length 200] [--lengths 1-8] [--no-reject]
                                              [--causes] [--between N] [--split test|validation]
                                              [--set NAME=VALUE] [--marks N]

``--split validation`` composes the numbers from the validation digits (the last 10,000 of MNIST's
training set, which the shipped model was not trained on) instead: the 600 4-digit numbers that
:mod:`digitnet.segment`'s settings were chosen on are ``--split validation --lengths 4
--per-length 300`` with ``--seed 0`` and ``--seed 1``.

``--causes`` counts the misread numbers by cause, digit by digit (:func:`causes`), and by where
they are lost (:func:`where_lost`): among the candidate pieces the reader weighs, none holds one of
the digits; or every digit is held, but the model misreads one of those pieces; or they are all read
right, and one is refused as not a digit or another reading scores higher. Each also says whether
"cut at truth" reads the number.

``--marks N`` also reads N numbers of three digits with a decimal point after the first ("3.14")
and N with a dash there ("12-5"), and counts those read as the three digits with the mark
reported as not a digit.

``--between N`` also takes N held-out non-digits (``outliers.held_out_outliers``, as in
``bench_reject``), counts those ``read`` finds no number in on their own, draws each between two
MNIST test digits, 6 px from each, and counts the lines read as the two digits with the
non-digit left out.

Target: at least 97 % of the 4-digit numbers read exactly.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from typing import Any

import numpy as np

from digitnet.data import load_dataset
from digitnet.models import default_model_path
from digitnet.outliers import held_out_outliers
from digitnet.persistence import load_model
from digitnet import reject
from digitnet.preprocess import INK_LEVEL, to_mnist
from digitnet import segment
from digitnet.segment import Reading, read

TOUCHING = 0.2
"""Share of neighbouring digits pushed together until they touch."""
BROKEN = 0.15
"""Share of digits drawn as two strokes that do not touch."""


def ink_columns(img: np.ndarray) -> np.ndarray:
    """``img (28, w)`` cut to the columns that hold ink: ``(28, w')``."""
    cols = np.flatnonzero(img.max(axis=0) > 0.1)
    return img[:, cols[0]:cols[-1] + 1]


def strokes(images: np.ndarray, rng: np.random.Generator) -> tuple[list[np.ndarray], list[bool]]:
    """The digits of one number, ``images (k, 28, 28)`` cropped to their ink columns, some cut in
    two; and which were cut."""
    crops, broken = [], []
    for img in images:
        img = img.copy()
        rows = np.flatnonzero(img.max(axis=1) > 0.1)
        broken.append(bool(rng.random() < BROKEN and rows.size > 8))
        if broken[-1]:  # a band across the middle: two strokes
            band = int(rng.integers(rows[0] + rows.size // 3, rows[0] + 2 * rows.size // 3))
            img[band] = 0.0
        crops.append(ink_columns(img))  # (28, w)
    return crops, broken


def compose(crops: list[np.ndarray], rng: np.random.Generator, gap: int | None = None
            ) -> tuple[np.ndarray, list[tuple[int, int]], list[bool], np.ndarray]:
    """One number from its digits' crops: side by side on a dark canvas, ink in [0, 1]; each
    digit's columns ``[x0, x1)``; whether it touches a neighbour; and ``owner (H, W)``, the index
    of the digit whose ink is brightest at each pixel (-1 where there is none). The gaps are
    random, or all ``gap`` px."""
    gaps = [gap if gap is not None else int(rng.integers(-2, 1)) if rng.random() < TOUCHING
            else int(rng.integers(2, 9)) for _ in crops[1:]]
    width = 8 + sum(c.shape[1] for c in crops) + sum(gaps) + 8
    canvas = np.zeros((28 + 8, max(width, 16)), np.float32)  # (36, W)
    owner = np.full(canvas.shape, -1)  # (36, W)
    x, spans = 8, []
    for k, crop in enumerate(crops):
        y = int(rng.integers(0, 5))
        region = canvas[y:y + 28, x:x + crop.shape[1]]  # (28, w) a view into the canvas
        owner[y:y + 28, x:x + crop.shape[1]][(crop > region) & (crop > 0)] = k
        np.maximum(region, crop, out=region)
        spans.append((x, x + crop.shape[1]))
        x += crop.shape[1] + (gaps[k] if k < len(gaps) else 0)
    touching = [any(g <= 0 for g in gaps[max(k - 1, 0):k + 1]) for k in range(len(crops))]
    return canvas, spans, touching, owner


def causes(reading: Reading, truth: str, spans: list[tuple[int, int]], touching: list[bool],
           broken: list[bool]) -> set[str]:
    """Why a number was misread, digit by digit: the parts lying mostly within a digit's columns
    are none (read with a neighbour as one), several (cut in two), one refused, or one misread;
    "touching" and "two strokes" say how the digit was drawn."""
    found = set()
    for k, (a, b) in enumerate(spans):
        own = [p for p in reading.parts if min(p.box[2], b) - max(p.box[0], a) > 0.5 * (p.box[2] - p.box[0])]
        if not own:
            cause = "read as one with a neighbour"
        elif len(own) > 1:
            cause = "cut in two"
        elif own[0].digit is None:
            cause = "refused"
        elif own[0].digit != int(truth[k]):
            cause = "misread"
        else:
            continue
        how = [w for w, flag in (("touching", touching[k]), ("two strokes", broken[k])) if flag]
        found.add(cause + (f" ({', '.join(how)})" if how else ""))
    return found


HOLDS = (0.9, 0.85)
"""A candidate piece holds a digit when at least this share of its ink is that digit's, and it
has at least this share of the digit's ink."""


def where_lost(net: Any, meta: dict[str, Any], image: np.ndarray, owner: np.ndarray, truth: str,
               refused: bool) -> str:
    """Where a misread number is lost, from the candidate pieces the reader weighs (the runs
    between its cuts, straight or, where the reader tries them, bent, and the joins,
    :meth:`digitnet.segment._Line.candidates`):
    no candidate holds one of its digits (``HOLDS``: none of the cuts takes the digit's strokes
    apart from its neighbour's, or a stroke is left with its neighbour); each digit is held but the model
    misreads the best of those pieces; or they are all read right, and the reading refused one
    (``refused``: :func:`causes` found a refused digit) or another reading scores higher."""
    page = segment._Page(segment.ink(image))
    reader = segment._Reader(net, meta, page)
    found = segment.line(page, segment.CUT_MIN_DETECTOR if reader.detector else segment.CUT_MIN)
    reader.read(found.candidates())
    found.bend_doubtful(reader)
    reader.read(found.candidates())
    drawn = (owner >= 0) & (page.gray > INK_LEVEL)  # (H, W) the ink the reader sees, with its digit known
    ink = np.bincount(owner[drawn], minlength=len(truth))  # (k,) each digit's ink pixels
    held: dict[int, tuple[float, int]] = {}  # digit index -> (how well the best piece holds it, its reading)
    for piece in found.candidates():
        if reader.seen.get(piece) is None:
            continue
        y0, x0, mask = page.own(piece)
        ids = owner[y0:y0 + mask.shape[0], x0:x0 + mask.shape[1]][mask]  # (m,) the digit under each pixel
        ids = ids[ids >= 0]
        if not ids.size:
            continue
        counts = np.bincount(ids, minlength=len(truth))  # (k,)
        k = int(counts.argmax())
        fit = min(counts[k] / ids.size / HOLDS[0], counts[k] / ink[k] / HOLDS[1])
        if fit > held.get(k, (0.0, -1))[0]:
            held[k] = (fit, int(reader.seen[piece][1].argmax()))
    if any(held.get(k, (0.0, -1))[0] < 1.0 for k in range(len(truth))):
        return "no candidate holds one of its digits"
    if any(held[k][1] != int(digit) for k, digit in enumerate(truth)):
        return "every digit held by a candidate, one misread there"
    if refused:
        return "every digit held and read right, one refused as not a digit"
    return "every digit held and read right, another reading scores higher"


def alone(net: Any, meta: dict[str, Any], crops: list[np.ndarray]) -> str:
    """The number as the model reads its digits one by one, each crop on its own."""
    X = np.array([to_mnist(np.pad(c, 2)) for c in crops], np.float32)  # (k, 784)
    digits, _, _ = reject.classify(net, meta, X.reshape(-1, *net.input_shape), False)
    return "".join(map(str, digits))


def cut_at_truth(net: Any, meta: dict[str, Any], image: np.ndarray, spans: list[tuple[int, int]]) -> str:
    """The number as the model reads ``image`` cut straight down at the true boundaries between
    its digits (the middle of each overlap or gap), each slice read as one digit: what choosing
    among straight cuts could reach, where :func:`alone` is what a cutter that separates every
    digit's own strokes could reach."""
    bounds = [spans[0][0], *((a[1] + b[0]) // 2 for a, b in zip(spans, spans[1:])), spans[-1][1]]
    X = np.array([to_mnist(np.pad(image[:, x0:x1], 2)) for x0, x1 in zip(bounds, bounds[1:])], np.float32)  # (k, 784)
    digits, _, _ = reject.classify(net, meta, X.reshape(-1, *net.input_shape), False)
    return "".join(map(str, digits))


def marks(net: Any, meta: dict[str, Any], X: np.ndarray, y: np.ndarray, n: int,
          rng: np.random.Generator) -> dict[str, float]:
    """For a decimal point and for a dash, the share of ``n`` three-digit numbers with the mark
    between the first two digits ("3.14", "12-5") read as the three digits with the mark reported
    as not a digit. Each mark lies 2-7 px from the digits (gaps as in :func:`compose`); the point
    is a disc 4-5 px across on the baseline, the dash 6-10 px long and 2-3 px thick."""
    shares = {}
    for mark in ("point", "dash"):
        right = 0
        for _ in range(n):
            idx = rng.integers(len(X), size=3)
            if mark == "point":
                r = rng.uniform(2.0, 2.5)
                yy, xx = np.mgrid[:28, :5]  # (28, 5) pixel centres
                drawn = (np.hypot(yy - 23.0, xx - 2.0) <= r).astype(np.float32)  # (28, 5)
            else:
                drawn = np.zeros((28, int(rng.integers(6, 11))), np.float32)  # (28, length)
                drawn[14:14 + int(rng.integers(2, 4))] = 1.0
            image, _, _, _ = compose([ink_columns(X[idx[0]]), drawn, ink_columns(X[idx[1]]), ink_columns(X[idx[2]])],
                                     rng, gap=int(rng.integers(2, 8)))
            reading = read(net, meta, image)
            right += reading.number == "".join(map(str, y[idx])) and len(reading.rejected) == 1
        shares[mark] = right / n
    return shares


def between(net: Any, meta: dict[str, Any], X: np.ndarray, y: np.ndarray, n: int,
            rng: np.random.Generator) -> tuple[float, float, float]:
    """``n`` held-out non-digits: the share the model refuses on their own, the share ``read``
    reads as no number on their own, and the share left out, with both digits read, when drawn
    between two of the digits ``X (m, 28, 28)``."""
    others = held_out_outliers(n, rng).reshape(-1, 28, 28)  # (n, 28, 28)
    digits, _, _ = reject.classify(net, meta, others.reshape(-1, *net.input_shape))
    unread = np.mean([read(net, meta, np.pad(other, 8)).number == "" for other in others])
    left_out = 0
    for other in others:
        i, j = rng.integers(len(X), size=2)
        image, _, _, _ = compose([ink_columns(img) for img in (X[i], other, X[j])], rng, gap=6)
        reading = read(net, meta, image)
        left_out += reading.number == f"{y[i]}{y[j]}" and len(reading.rejected) > 0
    return float(np.mean([d is None for d in digits])), float(unread), left_out / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=str(default_model_path()))
    parser.add_argument("--per-length", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lengths", default="1-8", help="number lengths to measure, e.g. 4 or 1-8")
    parser.add_argument("--no-reject", action="store_true", help="read every part as a digit")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--causes", action="store_true", help="count the misread numbers by cause")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="set one of digitnet.segment's constants for this run, e.g. CUT_STEP=0.12")
    parser.add_argument("--split", choices=("test", "validation"), default="test",
                        help="compose the numbers from MNIST's test digits (the benchmark) or from the "
                             "validation digits that digitnet.segment's settings were chosen on")
    parser.add_argument("--between", type=int, default=0, metavar="N",
                        help="also draw N held-out non-digits between two digits each")
    parser.add_argument("--marks", type=int, default=0, metavar="N",
                        help="also read N numbers with a decimal point and N with a dash (\"3.14\", \"12-5\")")
    args = parser.parse_args()
    for setting in args.set:
        name, _, value = setting.partition("=")
        kind = type(getattr(segment, name, None))
        if not (name.isupper() and kind in (int, float)):
            parser.error(f"--set {setting}: not a number constant of digitnet.segment")
        try:
            setattr(segment, name, kind(value))
        except ValueError:
            parser.error(f"--set {setting}: {name} takes {'an int' if kind is int else 'a number'}")
    low, _, high = args.lengths.partition("-")
    net, meta = load_model(args.model)
    data = load_dataset("mnist", args.data_dir)  # the last 10,000 training digits are the validation split
    digits = data.test if args.split == "test" else data.validation
    X, y = digits.X.reshape(-1, 28, 28), digits.y
    rng = np.random.default_rng(args.seed)
    print(f"model {args.model}; MNIST {args.split} digits; {args.per_length} numbers per length; "
          f"{TOUCHING:.0%} of neighbours touching, "
          f"{BROKEN:.0%} of digits in two strokes; reject option {'off' if args.no_reject else 'on'}")
    print("length  exact    digits right  cut at truth  digits alone  seconds")
    why: Counter[str] = Counter()
    lost: Counter[tuple[str, bool]] = Counter()
    for length in range(int(low), int(high or low) + 1):
        start, exact, right, total, straight, ceiling = time.perf_counter(), 0, 0, 0, 0, 0
        for _ in range(args.per_length):
            idx = rng.integers(len(X), size=length)
            truth = "".join(map(str, y[idx]))
            crops, broken = strokes(X[idx], rng)
            image, spans, touching, owner = compose(crops, rng)
            reading = read(net, meta, image, use_reject=not args.no_reject)
            got, at_truth = reading.number, cut_at_truth(net, meta, image, spans) == truth
            if got != truth and args.causes:
                found = causes(reading, truth, spans, touching, broken)
                why.update(found)
                refused = any(cause.startswith("refused") for cause in found)
                lost.update([(where_lost(net, meta, image, owner, truth, refused), at_truth)])
            exact += got == truth
            right += sum(a == b for a, b in zip(got, truth)) if len(got) == len(truth) else 0
            total += length
            straight += at_truth
            ceiling += alone(net, meta, crops) == truth
        print(f"{length:>6}  {exact / args.per_length:6.1%}  {right / total:12.1%}  "
              f"{straight / args.per_length:12.1%}  {ceiling / args.per_length:12.1%}  "
              f"{time.perf_counter() - start:7.1f}")
    if args.causes:
        print("numbers misread, by cause (a number may have several):")
        for cause, count in why.most_common():
            print(f"{count:6}  {cause}")
        print("numbers misread, by where they are lost (and whether cut at truth reads them right):")
        for (where, at_truth), count in sorted(lost.items()):
            print(f"{count:6}  {where}; cut at truth {'right' if at_truth else 'wrong'}")
    if args.between:
        refused, unread, left_out = between(net, meta, X, y, args.between, rng)
        print(f"held-out non-digits on their own: refused by the model {refused:.1%}, read as no number "
              f"{unread:.1%}; drawn between two digits, left out with both digits read: {left_out:.1%} "
              f"of {args.between}")
    if args.marks:
        shares = marks(net, meta, X, y, args.marks, rng)
        print(f"three digits with a mark after the first, read as the digits with the mark reported as not a digit: "
              f"point {shares['point']:.1%}, dash {shares['dash']:.1%} (of {args.marks} each)")


if __name__ == "__main__":
    main()
