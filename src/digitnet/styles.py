"""Digits written the way MNIST's writers rarely did: slashed zeros, crossed sevens, flagged ones,
and digits drawn with a fat brush.

MNIST's writers were American; many others slash their zeros (so a 0 is not an O), cross their
sevens and give their ones a long flag from the top. A network that never saw these reads a
flagged one as a 7 and a slashed zero as an 8 or "not a digit". Each style is one straight pen
stroke added to an MNIST digit of the right class:

* :func:`slash`: from below-left to above-right of a zero, a little beyond its box;
* :func:`crossbar`: a short bar through a seven's stem, a little below half-way down;
* :func:`flag`: from the top of a one down to the left, 30-55 degrees below horizontal.

:data:`STYLES` are the styles ``digitnet train --styles N`` teaches; :data:`OTHER_STYLES` holds a
style no preset learns (a zero slashed from top left to bottom right, :func:`backslash`), for
measuring how fast a person can teach a model their own (``digitnet finetune``).

:func:`draw_style` draws a style onto digits and prepares them like any drawing
(:func:`digitnet.preprocess.to_mnist`); :func:`with_styles` appends styled training digits to a
dataset (``digitnet train --styles N``).

A small digit drawn with a fat brush (a brush a quarter to a half of the digit's height) reaches
the network only after :func:`~digitnet.preprocess.to_mnist` has worn its strokes down to a
normal width, which leaves loops filled and gaps closed in shapes no MNIST digit has.
:func:`fat_drawn` redraws training digits that way (:func:`digitnet.strokes.redraw_digits`, then
``to_mnist``) and :func:`with_fat_strokes` appends them (``digitnet train --fat-strokes N``).
Randomness comes only from the generator passed in.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from .data import Dataset, Split
from .preprocess import to_mnist
from .strokes import redraw_digits

FAT_WIDTHS = (0.22, 0.5)
"""The range of :func:`fat_drawn`'s brush widths, as shares of the digit's height: from just over
the widest stroke ``to_mnist`` leaves as it is (``STROKE_RANGE``, 20 % of the long side) to half
the height."""
SCALE = 4
"""Strokes are drawn on the digit enlarged this many times, then the whole is prepared as MNIST."""
INK = 0.3
"""A pixel above this belongs to the digit when finding its box."""

Ends = tuple[tuple[float, float], tuple[float, float]]


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


def slash(img: np.ndarray, rng: np.random.Generator) -> Ends:
    """A stroke from below-left to above-right of the zero, a little beyond its box."""
    top, bottom, left, right = _box(img)
    h, w = bottom - top, right - left
    cy, cx = (top + bottom) / 2, (left + right) / 2
    over = 0.5 + rng.uniform(0.05, 0.2)
    lean = w * rng.uniform(0.6, 1.0, 2)  # (2,) how far left and right of the centre each end goes
    return (cy + over * h, cx - over * lean[0]), (cy - over * h, cx + over * lean[1])


def backslash(img: np.ndarray, rng: np.random.Generator) -> Ends:
    """:func:`slash` seen in a mirror: from above-left to below-right of the zero."""
    (y0, x0), (y1, x1) = slash(img, rng)
    cx = sum(_box(img)[2:]) / 2
    return (y1, 2 * cx - x1), (y0, 2 * cx - x0)


def crossbar(img: np.ndarray, rng: np.random.Generator) -> Ends:
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


def flag(img: np.ndarray, rng: np.random.Generator) -> Ends:
    """A long stroke from the top of the one down to the left, 30-55 degrees below horizontal."""
    top, bottom, _, _ = _box(img)
    x0 = np.flatnonzero(img[top] > INK).mean()
    length, angle = rng.uniform(0.45, 0.6) * (bottom - top), np.deg2rad(rng.uniform(30, 55))
    return (top, x0), (top + length * np.sin(angle), x0 - length * np.cos(angle))


STYLES: dict[str, tuple[int, Callable[[np.ndarray, np.random.Generator], Ends]]] = {
    "slashed zero": (0, slash), "crossed seven": (7, crossbar), "flagged one": (1, flag)}
"""Each style's digit and where its stroke goes: the styles ``digitnet train --styles N`` adds."""
OTHER_STYLES: dict[str, tuple[int, Callable[[np.ndarray, np.random.Generator], Ends]]] = {
    "backslashed zero": (0, backslash)}
"""Styles no training recipe adds: a style the shipped model never saw, for Teach's benchmark."""


def draw_style(digits: np.ndarray, style: str, rng: np.random.Generator) -> np.ndarray:
    """MNIST digits ``(n, 784)`` with the style's stroke added, prepared as MNIST: ``(n, 784)``."""
    _, where = {**STYLES, **OTHER_STYLES}[style]
    out = []
    pad = 8 * SCALE  # room for a stroke that leaves the 28 x 28 field
    for x in digits:
        img = x.reshape(28, 28).astype(np.float64)  # (28, 28)
        p0, p1 = where(img, rng)
        big = np.pad(np.kron(img, np.ones((SCALE, SCALE))), pad)  # (28*SCALE + 2*pad,) * 2
        p0, p1 = (tuple(c * SCALE + pad + SCALE / 2 for c in p) for p in (p0, p1))  # pixel centres, enlarged
        ink = stroke(big.shape, p0, p1, rng.uniform(0.9, 1.3) * SCALE)
        out.append(to_mnist(np.maximum(big, ink).astype(np.float32)))
    return np.stack(out).astype(np.float32)  # (n, 784)


def styled(X: np.ndarray, y: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` digits of each style drawn onto digits of ``X (m, 784)`` (labels ``y (m,)``) of the
    style's class picked at random: ``(3 n, 784)`` and their labels ``(3 n,)``."""
    X_out, y_out = [], []
    for style, (digit, _) in STYLES.items():
        pool = X[y == digit]  # (k, 784)
        X_out.append(draw_style(pool[rng.integers(len(pool), size=n)], style, rng).astype(X.dtype))
        y_out.append(np.full(n, digit, y.dtype))
    return np.concatenate(X_out), np.concatenate(y_out)


def with_styles(data: Dataset, n: int, seed: int) -> Dataset:
    """``data`` with ``n`` digits of each style (:func:`styled`) appended to its training split."""
    if not n:
        return data
    X, y = styled(data.train.X, data.train.y, n, np.random.default_rng([seed, len(STYLES)]))
    return dataclasses.replace(data, train=Split(np.concatenate([data.train.X, X]), np.concatenate([data.train.y, y])))


def fat_drawn(X: np.ndarray, y: np.ndarray, n: int, rng: np.random.Generator,
              batch: int = 250) -> tuple[np.ndarray, np.ndarray]:
    """``n`` digits of ``X (m, 784)`` (labels ``y (m,)``, those over 9 left alone) picked at random,
    each redrawn from its skeleton with a round brush ``U(*FAT_WIDTHS)`` of its height wide and
    prepared by ``to_mnist``: ``(n, 784)`` and their labels ``(n,)``."""
    which = rng.choice(np.flatnonzero(y < 10), n, replace=False)  # (n,)
    widths = rng.uniform(*FAT_WIDTHS, n)  # (n,)
    out = np.empty((n, 784), X.dtype)
    for i in range(0, n, batch):
        drawn = redraw_digits(X[which[i:i + batch]].reshape(-1, 28, 28), widths[i:i + batch])  # (b, 152, 152)
        out[i:i + batch] = [to_mnist(d) for d in drawn]
    return out, y[which]


def with_fat_strokes(data: Dataset, n: int, seed: int) -> Dataset:
    """``data`` with ``n`` fat-brush drawings of its training digits (:func:`fat_drawn`) appended
    to its training split."""
    if not n:
        return data
    X, y = fat_drawn(data.train.X, data.train.y, n, np.random.default_rng([seed, len(STYLES), 1]))
    return dataclasses.replace(data, train=Split(np.concatenate([data.train.X, X]), np.concatenate([data.train.y, y])))
