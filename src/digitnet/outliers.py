"""Images that are not digits, for teaching a network to say so (outlier exposure).

Hendrycks, Mazeika & Dietterich (2019) train a classifier on its own data plus a set of outliers
whose target is the uniform distribution: on anything unlike a digit the network learns to spread
its belief evenly, so a low top probability means "not a digit". Here an outlier has the label
:data:`NOT_A_DIGIT` (10), which :func:`digitnet.data.one_hot` turns into the row ``1/10``.

Two families that share nothing but the final 28 x 28 preparation, so that one can measure how
the other generalises:

* :func:`training_outliers`: letters and symbols from the DejaVu fonts redrawn as pen strokes,
  random scribbles, dots and short lines, two digits overlapped, and digits cut in half.
* :func:`held_out_outliers`: letters and symbols from the Liberation and FreeFont fonts, spirals,
  zigzags, waves, triangles and stars: other fonts and other generators.

Fonts come from Debian's ``fonts-dejavu-core``, ``fonts-liberation`` and ``fonts-freefont-ttf``
(``scripts/setup.sh dev``); where a family is missing its share is drawn by the other generators.
Every shape is drawn on a 64 x 64 canvas with a round pen whose width is a random fraction of the
shape's size, then cropped, fitted into 20 x 20 and centred by mass like MNIST
(:mod:`digitnet.preprocess`). Randomness comes only from the generator passed in.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .data import Dataset, Split
from .preprocess import BlankImageError, centre_by_mass, crop_to_ink, fit_20
from .strokes import render, skeleton

NOT_A_DIGIT = 10
"""The label of an outlier."""

FONT_DIR = Path("/usr/share/fonts/truetype")
TRAIN_FONTS = ("dejavu/DejaVu*.ttf",)
HELD_OUT_FONTS = ("liberation/Liberation*.ttf", "freefont/Free*.ttf")
CHARS = "ACEFHKLMNPRUVWXacdefhkmnpruvwx#%@?<>=+*~^{}&"
"""Letters and symbols drawn as outliers: those that a person could not mean as a digit (no O, I,
l, Z, S, B, b, g, q, G, T, t, y, whose handwritten forms are also 0, 1, 2, 5, 8, 6, 9, 7, 4)."""

CANVAS = 64
"""Side of the canvas each outlier is drawn on before it is prepared like an MNIST digit."""


def font_files(patterns: tuple[str, ...]) -> list[Path]:
    """The installed font files matching ``patterns`` under :data:`FONT_DIR` (may be empty)."""
    return sorted(p for pattern in patterns for p in FONT_DIR.glob(pattern) if "Math" not in p.name)


def to_field(canvas: np.ndarray) -> np.ndarray | None:
    """A drawing ``(h, w)`` in [0, 1] as an MNIST row ``(784,)``, or None when it holds no ink."""
    try:
        field = centre_by_mass(fit_20(crop_to_ink(canvas)))  # (28, 28)
    except BlankImageError:
        return None
    peak = float(field.max())
    return (field / peak).reshape(784) if peak > 0 else None  # (784,)


def _pen(rng: np.random.Generator, size: float) -> float:
    """A round pen's radius: its width a random 6 % to 22 % of the shape's size, as on a canvas."""
    return max(0.8, rng.uniform(0.06, 0.22) * size / 2)


def _draw(paths: list[np.ndarray], radius: float) -> np.ndarray:
    """Polylines ``(k, 2)`` of (x, y) canvas points drawn with a round pen of ``radius``."""
    img = Image.new("L", (CANVAS, CANVAS))
    draw = ImageDraw.Draw(img)
    width = max(1, round(2 * radius))
    for path in paths:
        points = [tuple(p) for p in path]
        if len(points) == 1:
            draw.ellipse([points[0][0] - radius, points[0][1] - radius,
                          points[0][0] + radius, points[0][1] + radius], fill=255)
        else:
            draw.line(points, fill=255, width=width, joint="curve")
            for x, y in (points[0], points[-1]):  # round stroke ends
                draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=255)
    return np.asarray(img, np.float32) / 255  # (64, 64)


def _glyphs(fonts: list[Path]) -> Callable[[np.random.Generator], np.ndarray | None]:
    """A generator of letters and symbols from ``fonts``, thinned and redrawn as pen strokes."""
    def make(rng: np.random.Generator) -> np.ndarray | None:
        font = ImageFont.truetype(str(fonts[rng.integers(len(fonts))]), int(rng.integers(36, 52)))
        img = Image.new("L", (CANVAS, CANVAS))
        ImageDraw.Draw(img).text((CANVAS / 2, CANVAS / 2), str(rng.choice(list(CHARS))), fill=255,
                                 font=font, anchor="mm")
        img = img.rotate(rng.uniform(-15, 15), resample=Image.Resampling.BILINEAR)
        skel = skeleton(np.asarray(img) > 127)  # (64, 64)
        if not skel.any():
            return None
        rows, cols = np.nonzero(skel)
        size = max(np.ptp(rows), np.ptp(cols)) + 1
        return to_field(render(skel[None], _pen(rng, size))[0])
    return make


def _scribble(rng: np.random.Generator) -> np.ndarray | None:
    """A random pen walk: 8 to 30 steps whose heading turns by random amounts."""
    k = int(rng.integers(8, 31))
    heading = rng.uniform(0, 2 * np.pi) + np.cumsum(rng.normal(0, 0.9, k))  # (k,)
    steps = rng.uniform(3, 8) * np.stack([np.cos(heading), np.sin(heading)], axis=1)  # (k, 2)
    path = np.cumsum(steps, axis=0)  # (k, 2)
    path = (path - path.mean(axis=0)) / max(np.ptp(path), 1e-6) * 44 + CANVAS / 2  # (k, 2) fit the canvas
    return to_field(_draw([path], _pen(rng, 44)))


def _dots_and_lines(rng: np.random.Generator) -> np.ndarray | None:
    """One to three dots, or one to three lines within 40 degrees of horizontal (never a "1")."""
    count = int(rng.integers(1, 4))
    if rng.random() < 0.5:
        paths = [rng.uniform(10, 54, (1, 2)) for _ in range(count)]
        return to_field(_draw(paths, rng.uniform(2, 10)))
    paths = []
    for _ in range(count):
        angle = np.deg2rad(rng.uniform(-40, 40))
        centre, half = rng.uniform(20, 44, 2), rng.uniform(8, 26)
        step = half * np.array([np.cos(angle), np.sin(angle)])  # (2,)
        paths.append(np.stack([centre - step, centre + step]))  # (2, 2)
    return to_field(_draw(paths, _pen(rng, 40)))


def _overlapped(digits: np.ndarray) -> Callable[[np.random.Generator], np.ndarray | None]:
    """Two digits of ``digits (n, 784)`` on top of each other, one shifted by up to 6 px."""
    def make(rng: np.random.Generator) -> np.ndarray | None:
        a, b = digits[rng.integers(len(digits), size=2)].reshape(2, 28, 28)
        dy, dx = rng.integers(-6, 7, 2)
        canvas = np.zeros((40, 40), np.float32)
        canvas[6:34, 6:34] = a
        canvas[6 + dy:34 + dy, 6 + dx:34 + dx] = np.maximum(canvas[6 + dy:34 + dy, 6 + dx:34 + dx], b)
        return to_field(canvas)
    return make


def _pair(digits: np.ndarray) -> Callable[[np.random.Generator], np.ndarray | None]:
    """Two digits of ``digits (n, 784)`` side by side, touching or up to 2 px apart: what a
    number's reader must not take for one digit."""
    def make(rng: np.random.Generator) -> np.ndarray | None:
        a, b = digits[rng.integers(len(digits), size=2)].reshape(2, 28, 28)
        a, b = a[:, a.max(axis=0) > 0.1], b[:, b.max(axis=0) > 0.1]  # (28, wa), (28, wb): their ink columns
        if not (a.size and b.size):
            return None
        gap = int(rng.integers(-3, 3))  # columns between them; below 0 they overlap
        canvas = np.zeros((28, a.shape[1] + max(gap, 0) + b.shape[1]), np.float32)  # (28, w)
        canvas[:, :a.shape[1]] = a
        start = a.shape[1] + gap
        canvas[:, start:start + b.shape[1]] = np.maximum(canvas[:, start:start + b.shape[1]], b)
        return to_field(canvas)
    return make


def _cut(digits: np.ndarray) -> Callable[[np.random.Generator], np.ndarray | None]:
    """A digit of ``digits (n, 784)`` with 40 % to 60 % of it erased from one side."""
    def make(rng: np.random.Generator) -> np.ndarray | None:
        image = digits[rng.integers(len(digits))].reshape(28, 28).copy()
        rows, cols = np.nonzero(image > 0.1)
        if rows.size == 0:
            return None
        side = int(rng.integers(4))
        lo, hi = (rows.min(), rows.max()) if side < 2 else (cols.min(), cols.max())
        at = int(lo + rng.uniform(0.4, 0.6) * (hi - lo))
        view = image if side < 2 else image.T  # (28, 28): cut across rows of the view
        if side % 2:
            view[at:] = 0
        else:
            view[:at] = 0
        return to_field(image)
    return make


def _spiral(rng: np.random.Generator) -> np.ndarray | None:
    """An Archimedean spiral of 2.5 to 4 turns."""
    t = np.linspace(0, 2 * np.pi * rng.uniform(2.5, 4), 120)  # (120,)
    r = t / t[-1] * 26
    path = CANVAS / 2 + np.stack([r * np.cos(t), r * np.sin(t) * rng.choice([-1, 1])], axis=1)  # (120, 2)
    return to_field(_draw([path], _pen(rng, 30) * 0.6))


def _zigzag(rng: np.random.Generator) -> np.ndarray | None:
    """A zigzag of 4 to 7 teeth, or a wave of 2 to 4 periods, within 30 degrees of horizontal."""
    if rng.random() < 0.5:
        k = int(rng.integers(4, 8))
        x = np.linspace(-26, 26, 2 * k + 1)  # (2k+1,)
        y = np.where(np.arange(2 * k + 1) % 2, -1.0, 1.0) * rng.uniform(6, 14)
    else:
        x = np.linspace(-26, 26, 100)  # (100,)
        y = np.sin(x / 52 * 2 * np.pi * rng.uniform(2, 4)) * rng.uniform(5, 12)
    angle = np.deg2rad(rng.uniform(-30, 30))
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])  # (2, 2)
    path = np.stack([x, y], axis=1) @ rotation.T + CANVAS / 2  # (k, 2)
    return to_field(_draw([path], _pen(rng, 40)))


def _polygon(rng: np.random.Generator) -> np.ndarray | None:
    """The outline of a triangle or a five-pointed star."""
    star = rng.random() < 0.5
    k = 5 if star else 3
    angles = rng.uniform(0, 2 * np.pi) + 2 * np.pi * np.arange(k) / k * (2 if star else 1)  # (k,)
    path = CANVAS / 2 + 26 * np.stack([np.cos(angles), np.sin(angles)], axis=1)  # (k, 2)
    return to_field(_draw([np.vstack([path, path[:1]])], _pen(rng, 50)))


def _sample(makers: list[tuple[float, Callable]], n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` rows drawn from the weighted ``makers``; a maker that draws nothing is asked again."""
    weights = np.array([w for w, _ in makers], np.float64)
    choice = rng.choice(len(makers), size=n, p=weights / weights.sum())  # (n,)
    X = np.empty((n, 784), np.float32)
    for i, k in enumerate(choice):
        row = None
        while row is None:
            row = makers[k][1](rng)
        X[i] = row
    return X


def training_outliers(n: int, digits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``n`` training outliers ``(n, 784)``: DejaVu letters and symbols as strokes (40 %), scribbles
    (20 %), dots and lines (10 %), overlapped (10 %), cut (10 %) and side-by-side pairs of (10 %)
    digits from ``digits (m, 784)``."""
    fonts = font_files(TRAIN_FONTS)
    makers = [(0.20, _scribble), (0.10, _dots_and_lines), (0.10, _overlapped(digits)), (0.10, _cut(digits)),
              (0.10, _pair(digits))]
    if fonts:
        makers.append((0.40, _glyphs(fonts)))
    return _sample(makers, n, rng)


def held_out_outliers(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` outliers for measurement only ``(n, 784)``: Liberation and FreeFont letters and symbols
    (50 %), spirals, zigzags and waves, triangles and stars."""
    fonts = font_files(HELD_OUT_FONTS)
    makers = [(0.15, _spiral), (0.2, _zigzag), (0.15, _polygon)]
    if fonts:
        makers.append((0.5, _glyphs(fonts)))
    return _sample(makers, n, rng)


def with_outliers(data: Dataset, n: int, seed: int) -> Dataset:
    """``data`` with ``n`` training outliers (label 10) appended to its training split; the
    overlapped and cut digits are made from that split's own digits."""
    X = training_outliers(n, data.train.X, np.random.default_rng([seed, NOT_A_DIGIT]))  # (n, 784)
    train = Split(np.concatenate([data.train.X, X]), np.concatenate([data.train.y, np.full(n, NOT_A_DIGIT)]))
    return dataclasses.replace(data, train=train)
