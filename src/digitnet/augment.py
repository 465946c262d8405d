"""Distortions of training images: random shifts, rotations, scalings, slant, aspect, elastic
deformations, and strokes redrawn at another pen width.

Augmentation only moves pixels, so labels stay as they are. Each image of a batch gets its own
random affine map (and, optionally, its own smooth random displacement field, Simard et al. 2003),
and the whole batch is resampled by ONE ``scipy.ndimage.map_coordinates`` call with bilinear
interpolation (``order=1``) over the images stacked into one tall 2-D image (twice as fast as a 3-D
call with the sample index as a coordinate). A frame of zeros around each image keeps images from
bleeding into each other; what comes from outside an image is background (0).

Backward mapping: for each output pixel ``q`` (row, column) we compute where it comes from,

    p = R(-theta) (q - c - t) / s + c + d(q)

with ``c`` the image centre, ``t`` the shift, ``theta`` the rotation, ``s`` the scale and ``d`` the
elastic displacement; ``output[q] = input[p]``. A shift ``t = (+1, 0)`` in (x, y) therefore moves
the digit one pixel to the right.

Drawing on a canvas differs from ink on paper mostly in the pen: a mouse, a finger or a stylus
draws strokes of one width with round ends, from a hairline to a fat brush. With ``stroke > 0`` an
image is thinned to its skeleton and redrawn with a round brush of a random radius
(:mod:`digitnet.strokes`) before the affine map; ``slant`` shears it (``x += k y``) and ``aspect``
stretches it sideways, as people write leaning and narrow or wide.

``Augmenter(**TrainConfig.augment)`` is what ``digitnet train`` builds, so every argument is a
plain number (JSON-friendly). Randomness comes only from the generator passed to each call.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.ndimage import gaussian_filter, map_coordinates

from .strokes import INK, render, skeleton


class Augmenter:
    """Random affine (and optional elastic) distortions of a batch of square images stored as rows.

    Parameters
    ----------
    shift : float
        Largest translation in pixels; each image moves by ``U(-shift, shift)`` in x and in y.
    rotate : float
        Largest rotation in degrees, ``U(-rotate, rotate)``.
    scale : float
        Largest relative change of size: the factor is ``U(1 - scale, 1 + scale)``.
    elastic_alpha, elastic_sigma : float
        Elastic distortion (Simard et al. 2003): a displacement field of ``U(-1, 1)`` values per
        pixel and axis, smoothed by a Gaussian of standard deviation ``elastic_sigma`` pixels and
        multiplied by ``elastic_alpha`` pixels. 0 turns it off; Simard used about 34 and 4.
    p : float
        Probability that an image is distorted at all; the others pass through unchanged.
    stroke : float
        Probability that an image's strokes are redrawn from its skeleton with a round brush of
        radius ``U(radius_min, radius_max)`` pixels (MNIST's strokes have a radius near 1).
    radius_min, radius_max : float
        The range of brush radii for ``stroke``.
    slant : float
        Largest shear: ``x += k * y`` with ``k ~ U(-slant, slant)`` (0.3 leans about 17 degrees).
    aspect : float
        Largest relative change of width: the x-axis is stretched by ``U(1 - aspect, 1 + aspect)``.
    """

    def __init__(self, shift: float = 2.0, rotate: float = 10.0, scale: float = 0.1,
                 elastic_alpha: float = 0.0, elastic_sigma: float = 5.0, p: float = 1.0,
                 stroke: float = 0.0, radius_min: float = 0.5, radius_max: float = 2.0,
                 slant: float = 0.0, aspect: float = 0.0) -> None:
        values = {"shift": shift, "rotate": rotate, "scale": scale, "elastic_alpha": elastic_alpha,
                  "slant": slant, "aspect": aspect}
        for name, v in values.items():
            if not (np.isfinite(v) and v >= 0):
                raise ValueError(f"augment {name} must be a non-negative number, not {v!r}")
        if not scale < 1:
            raise ValueError(f"augment scale must be below 1 (a factor of 1 +- scale), not {scale!r}")
        if not elastic_sigma > 0:
            raise ValueError(f"augment elastic_sigma must be positive, not {elastic_sigma!r}")
        if not 0 <= p <= 1:
            raise ValueError(f"augment p must be a probability in [0, 1], not {p!r}")
        if not 0 <= stroke <= 1:
            raise ValueError(f"augment stroke must be a probability in [0, 1], not {stroke!r}")
        if not 0 < radius_min <= radius_max:
            raise ValueError(f"augment needs 0 < radius_min <= radius_max, not {radius_min!r}, {radius_max!r}")
        if not aspect < 1:
            raise ValueError(f"augment aspect must be below 1 (a factor of 1 +- aspect), not {aspect!r}")
        self.shift, self.rotate, self.scale = float(shift), float(rotate), float(scale)
        self.elastic_alpha, self.elastic_sigma, self.p = float(elastic_alpha), float(elastic_sigma), float(p)
        self.stroke, self.radius_min, self.radius_max = float(stroke), float(radius_min), float(radius_max)
        self.slant, self.aspect = float(slant), float(aspect)

    def config(self) -> dict[str, Any]:
        """The constructor's arguments: ``Augmenter(**a.config())`` is an equal augmenter."""
        return {"shift": self.shift, "rotate": self.rotate, "scale": self.scale,
                "elastic_alpha": self.elastic_alpha, "elastic_sigma": self.elastic_sigma, "p": self.p,
                "stroke": self.stroke, "radius_min": self.radius_min, "radius_max": self.radius_max,
                "slant": self.slant, "aspect": self.aspect}

    def __repr__(self) -> str:
        return "Augmenter(" + ", ".join(f"{k}={v:g}" for k, v in self.config().items()) + ")"

    def __call__(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Distort each row of ``X (n, side*side)`` (values in [0, 1]); returns a new float32 array."""
        n, side = len(X), _side(X)
        if self.stroke > 0:
            X = redraw_strokes(X, rng.random(n) < self.stroke,
                               rng.uniform(self.radius_min, self.radius_max, n))
        shifts = rng.uniform(-self.shift, self.shift, (n, 2))  # (n, 2): x, y in pixels
        angles = rng.uniform(-self.rotate, self.rotate, n)  # (n,) degrees
        scales = rng.uniform(1 - self.scale, 1 + self.scale, n)  # (n,)
        displacement = None
        if self.elastic_alpha > 0:
            noise = rng.uniform(-1.0, 1.0, (2, n, side, side))  # (2, n, side, side): x and y fields
            # Smooth each image's field over its own pixels only (sigma 0 along the two batch axes).
            displacement = gaussian_filter(noise, (0, 0, self.elastic_sigma, self.elastic_sigma), mode="constant")
            displacement *= self.elastic_alpha
        shears = rng.uniform(-self.slant, self.slant, n) if self.slant else None  # (n,)
        aspects = rng.uniform(1 - self.aspect, 1 + self.aspect, n) if self.aspect else None  # (n,)
        if self.p < 1:
            still = rng.random(n) >= self.p  # (n,) images left as they are
            shifts[still], angles[still], scales[still] = 0.0, 0.0, 1.0
            if displacement is not None:
                displacement[:, still] = 0.0
            if shears is not None:
                shears[still] = 0.0
            if aspects is not None:
                aspects[still] = 1.0
        return transform(X, shifts, angles, scales, displacement, shears, aspects)


def redraw_strokes(X: np.ndarray, which: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Redraw the rows ``which (n,)`` of ``X (n, side*side)`` from their skeletons with brushes of
    ``radii (n,)``; the other rows, and any whose skeleton is empty, are returned unchanged."""
    out = np.array(X, dtype=np.float32)  # (n, side*side)
    if not which.any():
        return out
    side = _side(X)
    images = out[which].reshape(-1, side, side)  # (m, side, side)
    drawn = render(skeleton(images > INK), radii[which])  # (m, side, side)
    empty = drawn.reshape(len(drawn), -1).max(axis=1) == 0  # (m,) nothing above half ink to thin
    drawn[empty] = images[empty]
    out[which] = drawn.reshape(-1, side * side)
    return out


def _side(X: np.ndarray) -> int:
    side = int(round(np.sqrt(X.shape[1])))
    if X.ndim != 2 or side * side != X.shape[1]:
        raise ValueError(f"augmentation expects square images as rows (n, side*side), got shape {X.shape}")
    return side


def transform(X: np.ndarray, shifts: np.ndarray, angles: np.ndarray, scales: np.ndarray,
              displacement: np.ndarray | None = None, shears: np.ndarray | None = None,
              aspects: np.ndarray | None = None) -> np.ndarray:
    """Apply given distortions to each row of ``X (n, side*side)``; bilinear, background 0, clipped to [0, 1].

    ``shifts (n, 2)`` are (x, y) translations in pixels (positive: right, down), ``angles (n,)``
    rotations in degrees about the image centre, ``scales (n,)`` size factors, and
    ``displacement (2, n, side, side)`` optional per-pixel (x, y) offsets of the sampling points.
    ``shears (n,)`` slant each image (``x += k y``) and ``aspects (n,)``
    stretch its x-axis; the backward map undoes them: ``x = x' / a - k y'``.
    """
    n, side = len(X), _side(X)
    centre = (side - 1) / 2
    grid = np.arange(side, dtype=np.float64) - centre  # (side,) pixel positions about the centre
    theta = np.deg2rad(np.asarray(angles, dtype=np.float64))[:, None, None]  # (n, 1, 1)
    cos, sin = np.cos(theta), np.sin(theta)
    inv_scale = 1.0 / np.asarray(scales, dtype=np.float64)[:, None, None]  # (n, 1, 1)
    shifts = np.asarray(shifts, dtype=np.float64)
    x = grid[None, None, :] - shifts[:, 0, None, None]  # (n, 1, side): output column minus the shift
    y = grid[None, :, None] - shifts[:, 1, None, None]  # (n, side, 1)
    if aspects is not None:
        x = x / np.asarray(aspects, dtype=np.float64)[:, None, None]  # (n, 1, side)
    if shears is not None:
        x = x - np.asarray(shears, dtype=np.float64)[:, None, None] * y  # (n, side, side)
    rows = (cos * y - sin * x) * inv_scale + centre  # (n, side, side): rotate back by -theta, undo the scale
    cols = (sin * y + cos * x) * inv_scale + centre  # (n, side, side)
    if displacement is not None:
        rows += displacement[1]
        cols += displacement[0]
    # All images stacked into one tall 2-D image, each framed by a row and a column of zeros.
    # Clipping a coordinate to [-1, side] then reads that frame (background) rather than the next
    # image, and bilinear interpolation between a border pixel and the frame fades to 0.
    framed = np.zeros((n, side + 2, side + 2), np.float32)  # (n, side + 2, side + 2)
    framed[:, 1:-1, 1:-1] = X.reshape(n, side, side)
    np.clip(rows, -1, side, out=rows)
    np.clip(cols, -1, side, out=cols)
    rows += 1 + (side + 2) * np.arange(n)[:, None, None]  # row in the stacked image
    cols += 1
    out = map_coordinates(framed.reshape(n * (side + 2), side + 2), np.stack([rows, cols]),
                          output=np.float32, order=1, mode="constant", cval=0.0)  # (n, side, side)
    np.clip(out, 0.0, 1.0, out=out)
    return out.reshape(n, side * side)  # (n, side*side)
