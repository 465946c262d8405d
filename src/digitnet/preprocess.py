"""Turn any image of a digit (a canvas drawing, a photo, a file) into a 784-vector like MNIST's.

The recipe is the one MNIST itself was built with (LeCun, Cortes & Burges): the digit is
size-normalised to fit a 20 x 20 box keeping its aspect ratio, anti-aliased, then placed in a
28 x 28 field so that its centre of mass sits at the centre. A network trained on MNIST has only
ever seen digits prepared this way, so a drawing must be prepared the same way to be read well.

Each step is a small function, in the order :func:`to_mnist` calls them::

    to_grayscale -> normalise_polarity -> check_ink -> crop_to_ink -> normalise_stroke_width
      -> fit_20 -> centre_by_mass

(:func:`ink_to_mnist` is the same from ``check_ink`` on, for ink already bright on 0.)

Coordinates are 0-based pixel indices: pixel ``(i, j)`` is row ``i``, column ``j``, and a centre of
mass is ``sum(i * v) / sum(v)``. In this convention the MNIST digits have their centre of mass
at (14, 14): every one of the 10 000 test digits lies within 0.5 px of it on both axes (mean 13.99
rows, 14.01 columns, std 0.29 = that of an integer shift), so that is the target here, reached by an
integer shift just as in MNIST.
"""

from __future__ import annotations

import math
import warnings
from os import PathLike
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps
from scipy import ndimage

from .strokes import INK, render, skeleton, stroke_width, working_copy

__all__ = [
    "MAX_PIXELS",
    "BlankImageError",
    "NoBackgroundError",
    "to_mnist",
    "ink_to_mnist",
    "load_image",
    "to_grayscale",
    "normalise_polarity",
    "flatten_background",
    "check_ink",
    "crop_to_ink",
    "fit_20",
    "normalise_stroke_width",
    "centre_by_mass",
]

MAX_PIXELS = 40_000_000
"""Images with more pixels than this are refused unread (decompression bombs)."""
WORK_PIXELS = 4_000_000
"""Larger images are shrunk by a whole factor (box filter) in bands as they are converted, so
the float arrays of the later steps never hold more than this many pixels."""
EDGE_CONTRAST = 0.1
"""How much darker or lighter a digit's edge must be than its inside to settle its polarity."""

SIDE = 28
"""Side of the MNIST field."""
BOX = 20
"""Side of the box the digit is fitted into, inside the field."""
CENTRE = (14, 14)
"""Where MNIST puts the centre of mass, as 0-based (row, column) pixel indices."""

NOISE_SIGMAS = 3.0
"""Paper up to this many standard deviations brighter than its median is background, not ink."""
UNEVEN_PAPER = 0.08
"""A border whose brightness quartiles differ by more than this is unevenly lit paper (a photo's
vignette, a shadow, a gradient): its background is estimated locally. Quartiles, so that ink
touching the border (less than a quarter of it) does not count as uneven light."""
BACKGROUND_SIDE = 128
"""Side, in pixels, of the shrunk image on which an uneven background is estimated."""
SURFACE_ROUNDS = 4
"""Least-squares fits of the paper's surface, each without the ink the one before found."""
INK_LEVEL = 0.1
"""Intensity (0..1, after polarity) above which a pixel counts as ink rather than faint noise."""
MIN_INK_PIXELS = 5
"""Fewer ink pixels than this is a blank image (a speck, a stray click)."""
MIN_INK_MASS = 2e-4
"""Total ink below this fraction of the image area is a blank image (a faint dot)."""

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601, as Pillow's "L"


class BlankImageError(ValueError):
    """The image holds no (or almost no) ink: nothing to predict."""


class NoBackgroundError(BlankImageError):
    """The image holds ink but no plain background to tell it from: its border is as marked as
    the rest (a texture, a pattern, a scribble over the whole pad), so no digit stands out."""


def _without_paper(values: np.ndarray) -> np.ndarray:
    """What :func:`normalise_polarity` and :func:`flatten_background` return when the paper's
    noise reaches full ink: zeros for a flat image (blank), else :class:`NoBackgroundError`."""
    if float(values.max() - values.min()) > INK_LEVEL:
        raise NoBackgroundError("no digit found: no plain background around the ink")
    return np.zeros_like(values)


def to_mnist(image: np.ndarray | Image.Image) -> np.ndarray:
    """Prepare one image of a digit as an MNIST input.

    Parameters
    ----------
    image : array or PIL Image
        ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` or ``(H, W, 4)``; any of the dtypes that
        :func:`to_grayscale` accepts. Light ink on dark, dark ink on light and a canvas with a
        transparent background all work.

    Returns
    -------
    x : ndarray, shape (784,), float32
        The 28 x 28 field, row-major, in [0, 1] with its maximum exactly 1.

    Raises
    ------
    BlankImageError
        There is no digit to read (a ``ValueError``); :class:`NoBackgroundError` where there is
        ink but no plain background around it.
    ValueError
        The array is not an image (bad shape or dtype, NaN or infinity).
    """
    return ink_to_mnist(normalise_polarity(to_grayscale(image)))  # (H, W) ink bright on 0 -> (784,)


def ink_to_mnist(gray: np.ndarray) -> np.ndarray:
    """:func:`to_mnist` of ink already bright on 0, float32 ``(H, W)`` in [0, 1]: a piece of a page
    that :func:`normalise_polarity` has seen whole (:mod:`digitnet.segment`), whose own border,
    cut through the page's ink, says nothing about the paper."""
    check_ink(gray)
    field = centre_by_mass(fit_20(normalise_stroke_width(crop_to_ink(gray))))  # (28, 28)
    peak = field.max()
    if not peak > 0:  # only after extreme downscaling of a few far-apart specks
        raise BlankImageError("no digit found: the image is blank")
    return (field / peak).reshape(SIDE * SIDE)  # (784,) float32; peak / peak == 1 exactly


def to_grayscale(image: np.ndarray | Image.Image) -> np.ndarray:
    """Return the image's intensity as a float32 ``(H, W)`` array in [0, 1].

    Integers are scaled by their range: ``uint8`` by 255, ``uint16`` by 65535, ``bool`` is 0 or 1;
    other integers and floats are taken to be in [0, 1] when their maximum is at most 1, otherwise
    in [0, 255]; values outside are clipped. Colour becomes luminance (ITU-R 601 weights).

    Transparency is composited away: transparent pixels are the background, whatever colour
    they hold (only ``luminance * alpha`` is used). The drawing canvas gives light ink on a
    transparent background, composited over black (``ink = luminance * alpha``); black strokes on
    a transparent PNG are composited over white, so the ink stays visible and polarity is settled
    later. Which one is read from the painted pixels (see :func:`_light_ink`).
    """
    if isinstance(image, Image.Image):
        image = _pil_to_array(image)
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)):
        raise ValueError(
            f"expected an image of shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), got {a.shape}"
        )
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"the image is empty: shape {a.shape}")
    v = _to_unit(a)  # same shape, float32 in [0, 1]
    if v.ndim == 2:
        return v
    lum = v[:, :, :3] @ _LUMA  # (H, W)
    if v.shape[2] == 3:
        return lum
    alpha = v[:, :, 3]  # (H, W)
    if alpha.min() == 1.0:
        return lum
    if alpha.max() == 0:  # fully transparent: nothing drawn
        return np.zeros_like(lum)
    if _light_ink(lum, alpha):
        return lum * alpha  # over black
    return lum * alpha + (1.0 - alpha)  # over white


def _light_ink(lum: np.ndarray, alpha: np.ndarray) -> bool:
    """Whether the painted pixels of an image with a transparent background are light ink.

    The painted pixels next to the transparent background are the digit's edge; an anti-aliased
    digit fades there towards its paper colour (a palette or GIF digit whose paper index was made
    transparent keeps those faint pixels opaque). So where the edge is clearly darker than the
    inside, the ink is light; clearly lighter, dark. Where they do not differ (a canvas stroke of
    one colour whose alpha fades, a stroke too thin to have an inside), the painted pixels' mean
    luminance decides.
    """
    painted = alpha > 0  # (H, W)
    clear = np.pad(~painted, 1, constant_values=True)  # (H+2, W+2): outside the image counts as background
    edge = painted & (clear[:-2, 1:-1] | clear[2:, 1:-1] | clear[1:-1, :-2] | clear[1:-1, 2:])
    inside = painted & ~edge
    weight = lum * alpha  # premultiplied: a transparent pixel's colour never counts
    if edge.any() and inside.any():
        m_edge = weight[edge].sum(dtype=np.float64) / alpha[edge].sum(dtype=np.float64)
        m_inside = weight[inside].sum(dtype=np.float64) / alpha[inside].sum(dtype=np.float64)
        if abs(m_inside - m_edge) > EDGE_CONTRAST:
            return bool(m_inside > m_edge)
    return bool(weight.sum(dtype=np.float64) / alpha.sum(dtype=np.float64) >= 0.5)


def normalise_polarity(gray: np.ndarray) -> np.ndarray:
    """Make the ink bright on a black background, as in MNIST, and return the result.

    Paper lit unevenly (a border whose quartiles differ by more than ``UNEVEN_PAPER``: a photo's
    dark corners, a shadow) goes to :func:`flatten_background`. Otherwise the outer frame of
    pixels is taken to be background (a digit rarely fills the border). If
    the border's median is brighter than the middle of the image's range, the paper is light
    and the ink dark, so the image is inverted. Then everything up to the paper's level plus
    ``NOISE_SIGMAS`` times its noise (the border's median, and its robust standard deviation
    from the median absolute deviation) becomes 0 and the rest is stretched back to [0, 1]:
    grey, grainy paper in a photo becomes black rather than faint ink everywhere. A clean canvas
    has a flat border, so for it this is only the inversion, if any. A border as varied as the
    ink (the paper's noise reaching full ink) leaves no paper: :class:`NoBackgroundError`.
    """
    border = np.concatenate([gray[0], gray[-1], gray[1:-1, 0], gray[1:-1, -1]])
    if float(np.percentile(border, 75) - np.percentile(border, 25)) > UNEVEN_PAPER:
        return flatten_background(gray)
    lo, hi = float(gray.min()), float(gray.max())
    if np.median(border) > (lo + hi) / 2:
        gray = 1.0 - gray
        border = 1.0 - border
    background = float(np.median(border))
    sigma = 1.4826 * float(np.median(np.abs(border - background)))  # robust std of the paper
    floor = background + NOISE_SIGMAS * sigma
    if floor >= 1.0:
        return _without_paper(gray)
    return np.clip((gray - floor) / (1.0 - floor), 0.0, 1.0, dtype=gray.dtype)


def flatten_background(gray: np.ndarray) -> np.ndarray:
    """Ink bright on 0 from a photo of unevenly lit paper, with the paper estimated everywhere.

    The paper's brightness is read from the image itself, not from its border alone: on the
    image shrunk to at most ``BACKGROUND_SIDE`` pixels a side (block means), a smooth surface (a
    cubic in x and y: a vignette, a gradient, both) is fitted to the pixels by least squares,
    then fitted again without the pixels it leaves far on the ink's side, until only paper is
    left. The first fit, to every pixel, splits them by their residuals (Otsu's threshold) into
    two groups: the smaller is the ink, which says whether the paper is light or dark. Ink is then
    the darkening relative to the local paper, ``1 - gray / paper`` (light falls on paper and ink
    alike, so the ratio does not depend on the light; the image is blurred a little first so that
    the grain of dark corners is not magnified), or for dark paper the brightening over it. The paper's noise is removed as in
    :func:`normalise_polarity`, from the flattened border.
    """
    h, w = gray.shape
    step = max(1, math.ceil(max(h, w) / BACKGROUND_SIDE))
    sy, sx = min(step, h), min(step, w)  # block sides: a strip thinner than a block is one block across
    hs, ws = h // sy, w // sx
    small = gray[: hs * sy, : ws * sx].reshape(hs, sy, ws, sx).mean(axis=(1, 3))  # (hs, ws)
    A = _surface_terms(hs, ws, sy, sx, max(h, w))  # (hs * ws, 10)
    values = small.reshape(-1).astype(np.float64)  # (hs * ws,)
    coef = np.linalg.lstsq(A, values, rcond=None)[0]  # (10,): a first fit to every pixel
    residual = values - A @ coef  # (hs * ws,)
    dark = residual < _otsu(residual)  # (hs * ws,): the two kinds of pixel, paper and ink
    light_paper = bool(dark.sum() < dark.size / 2)  # the fewer pixels are the ink
    keep = ~dark if light_paper else dark
    for _ in range(SURFACE_ROUNDS):
        if np.count_nonzero(keep) < A.shape[1]:  # too few paper pixels left to fit: keep the last surface
            break
        coef = np.linalg.lstsq(A[keep], values[keep], rcond=None)[0]  # (10,)
        residual = values - A @ coef  # (hs * ws,)
        sigma = 1.4826 * float(np.median(np.abs(residual[keep])))
        keep = residual > -2.5 * sigma if light_paper else residual < 2.5 * sigma
    paper_small = (A @ coef).reshape(hs, ws).astype(np.float32)  # (hs, ws)
    paper = np.asarray(Image.fromarray(paper_small, mode="F")
                       .resize((w, h), Image.Resampling.BILINEAR))  # (hs, ws) -> (h, w)
    smooth = ndimage.gaussian_filter(gray, sigma=max(1.0, step / 2), mode="nearest")  # (h, w): less grain
    if light_paper:
        ink = 1.0 - smooth / np.maximum(paper, 1e-3)
    else:
        ink = (smooth - paper) / np.maximum(1.0 - paper, 1e-3)
    ink = np.clip(ink, 0.0, 1.0).astype(gray.dtype)  # (h, w)
    border = np.concatenate([ink[0], ink[-1], ink[1:-1, 0], ink[1:-1, -1]])
    background = float(np.median(border))
    floor = background + NOISE_SIGMAS * 1.4826 * float(np.median(np.abs(border - background)))
    if floor >= 1.0:
        return _without_paper(ink)
    return np.clip((ink - floor) / (1.0 - floor), 0.0, 1.0, dtype=gray.dtype)


def _otsu(values: np.ndarray, bins: int = 256) -> float:
    """The threshold that splits ``values`` into two groups with the largest variance between
    them (Otsu 1979), from a histogram of ``bins`` bins."""
    counts, edges = np.histogram(values, bins=bins)
    centres = (edges[:-1] + edges[1:]) / 2  # (bins,)
    w0 = np.cumsum(counts)[:-1]  # (bins - 1,): pixels at or below each cut
    w1 = counts.sum() - w0
    m0 = np.cumsum(counts * centres)[:-1] / np.maximum(w0, 1)
    m1 = ((counts * centres).sum() - np.cumsum(counts * centres)[:-1]) / np.maximum(w1, 1)
    return float(edges[1:-1][np.argmax(w0 * w1 * (m0 - m1) ** 2)])


def _surface_terms(rows: int, cols: int, sy: int, sx: int, side: int) -> np.ndarray:
    """The ten monomials ``x**i * y**j`` (``i + j <= 3``) at the centres of a ``rows`` x ``cols``
    grid of ``sy`` x ``sx``-pixel blocks, coordinates scaled by ``side`` to [-0.5, 0.5]:
    ``(rows * cols, 10)``."""
    y = (np.arange(rows) * sy + (sy - 1) / 2) / side - 0.5  # (rows,)
    x = (np.arange(cols) * sx + (sx - 1) / 2) / side - 0.5  # (cols,)
    Y, X = np.meshgrid(y, x, indexing="ij")  # (rows, cols) each
    return np.stack([X.ravel() ** i * Y.ravel() ** j for i in range(4) for j in range(4 - i)], axis=1)


def check_ink(gray: np.ndarray) -> None:
    """Raise :class:`BlankImageError` unless there is enough ink to be a digit.

    ``gray`` has bright ink on 0 (after :func:`normalise_polarity`). Ink is whatever lies above
    ``INK_LEVEL``; fewer than ``MIN_INK_PIXELS`` such pixels, or a total ink mass below
    ``MIN_INK_MASS`` of the image area, is blank. The later steps stretch whatever they get to
    fill the 20 x 20 box at full intensity, so without this check a speck of dust or a faint dot
    would become a bold blob that the network reads with confidence.
    """
    ink = gray > INK_LEVEL
    n_ink = int(np.count_nonzero(ink))
    if n_ink < MIN_INK_PIXELS or float(gray[ink].sum(dtype=np.float64)) < MIN_INK_MASS * gray.size:
        raise BlankImageError("no digit found: the image is blank")


def crop_to_ink(gray: np.ndarray, level: float = INK_LEVEL) -> np.ndarray:
    """Return the smallest rectangle holding every pixel above ``level``.

    Faint noise below ``level`` does not widen the box, so the digit, not the paper, is what
    :func:`fit_20` scales. Raises :class:`BlankImageError` if no pixel is above ``level``.
    """
    rows = np.flatnonzero((gray > level).any(axis=1))
    cols = np.flatnonzero((gray > level).any(axis=0))
    if rows.size == 0:
        raise BlankImageError("no digit found: the image is blank")
    return gray[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def fit_20(crop: np.ndarray) -> np.ndarray:
    """Scale ``crop`` so its longer side is 20 px, keeping its aspect ratio.

    MNIST fitted every digit into a 20 x 20 box without stretching it, so a "1" stays a thin
    upright stroke (e.g. 20 x 3), not a square. Shrinking averages areas (Pillow's BOX filter):
    each output pixel is the ink coverage of its patch, which gives MNIST's anti-aliased grey
    edges. Enlarging a tiny crop interpolates bilinearly. Neither filter overshoots, so the result
    stays in [0, 1] and is linear in the input: a fainter stroke gives the same digit, only dimmer.
    Returns float32 of shape ``(20, w)`` or ``(h, 20)``.
    """
    h, w = crop.shape
    scale = BOX / max(h, w)
    out_h = min(BOX, max(1, round(h * scale)))
    out_w = min(BOX, max(1, round(w * scale)))
    img = Image.fromarray(np.ascontiguousarray(crop, dtype=np.float32), mode="F")
    shrink = out_h <= h and out_w <= w
    img = img.resize((out_w, out_h), Image.Resampling.BOX if shrink else Image.Resampling.BILINEAR)
    return np.clip(np.asarray(img, dtype=np.float32), 0.0, 1.0)


STROKE_SIDE = 112
"""Long side, in pixels, of the working image on which :func:`normalise_stroke_width` measures."""
STROKE_RANGE = (0.035, 0.2)
"""Stroke widths, as fractions of the digit's long side, left as they are: those of 97 % of
MNIST's test digits (all but 0.1 % lie within 3.5-30 %; the bold ones are grey, ``SOLID_INK``)."""
STROKE_TARGET = 0.116
"""The width a stroke thinner than ``STROKE_RANGE`` is redrawn at: MNIST's median."""
FAT_TARGET = 0.15
"""The width a stroke fatter than ``STROKE_RANGE`` is worn down to, a bold MNIST stroke: the
outline thinned less keeps more of the shape that tells a filled 8 from a filled 0."""
SOLID_INK = 0.85
"""A fat stroke is worn down only if at least this share of its ink is at full strength (over 90 %
of the peak): a brush's solid ink with an edge one pixel wide (88-95 % in MNIST digits redrawn
with a fat brush), not a bold pen's grey strokes (63-79 % in MNIST's fattest test digits), whose
grey holes and uneven width wearing down would erase."""


def normalise_stroke_width(crop: np.ndarray) -> np.ndarray:
    """Bring a digit whose strokes are far thinner or fatter than MNIST's to MNIST's width.

    A small digit drawn with a fat brush would otherwise reach :func:`fit_20` as a blob, and a
    large one drawn with a hairline as faint threads. The crop is scaled so its long side is
    ``STROKE_SIDE`` px; the stroke width there is twice the median distance transform on the
    skeleton (:func:`digitnet.strokes.stroke_width`). Inside ``STROKE_RANGE`` of the long side the
    crop is returned unchanged. A hairline's skeleton is its path, redrawn with a round brush
    ``STROKE_TARGET`` times the long side wide. A fat stroke of solid ink (``SOLID_INK``) is worn
    down from its outline instead (ink deeper than ``(width - FAT_TARGET) / 2`` from the background
    is kept): a fat brush fills the loops of a 0, 6, 8 or 9, and the skeleton of a filled loop is a
    line through it, while the outline still has the digit's shape. Either way the working-size
    image is returned.
    """
    work = working_copy(crop, STROKE_SIDE / max(crop.shape))  # (h' + 2, w' + 2), long side STROKE_SIDE + 2
    skel = skeleton(work > INK)  # (h' + 2, w' + 2)
    width = stroke_width(work, skel) / STROKE_SIDE
    if width == 0 or STROKE_RANGE[0] <= width <= STROKE_RANGE[1]:
        return crop
    if width < STROKE_RANGE[0]:
        radius = STROKE_TARGET * STROKE_SIDE / 2
        pad = int(np.ceil(radius)) + 1  # room for the brush beyond the centre lines
        return crop_to_ink(render(np.pad(skel, pad)[None], radius)[0])  # (h' + 2 + 2 pad, ...) drawn
    peak = float(crop.max())
    if np.mean(crop[crop > INK_LEVEL * peak] > 0.9 * peak) < SOLID_INK:
        return crop
    depth = (width - FAT_TARGET) * STROKE_SIDE / 2  # px of ink worn off each side of a stroke
    edt = ndimage.distance_transform_edt(work > INK)  # (h' + 2, w' + 2): distance to the background
    return crop_to_ink(np.clip(edt - depth, 0.0, 1.0).astype(np.float32))  # (h' + 2, w' + 2) worn down


def centre_by_mass(digit: np.ndarray) -> np.ndarray:
    """Paste ``digit`` (at most 20 x 20) into a 28 x 28 field with its centre of mass at (14, 14).

    The shift is a whole number of pixels, the centre of mass rounded, as in MNIST (whose digits
    all sit within 0.5 px of (14, 14)); it keeps strokes crisp. The shift is clamped so that
    the digit stays wholly inside the field: a very lopsided digit may then end up to a few
    pixels off centre rather than lose ink over the edge.
    """
    h, w = digit.shape
    if h > SIDE or w > SIDE:
        raise ValueError(f"expected a digit at most {BOX} x {BOX} (see fit_20), got {h} x {w}")
    mass = float(digit.sum(dtype=np.float64))
    if mass > 0:
        cy = float(np.arange(h) @ digit.sum(axis=1, dtype=np.float64)) / mass
        cx = float(np.arange(w) @ digit.sum(axis=0, dtype=np.float64)) / mass
    else:
        cy, cx = (h - 1) / 2, (w - 1) / 2
    top = min(max(int(np.floor(CENTRE[0] - cy + 0.5)), 0), SIDE - h)
    left = min(max(int(np.floor(CENTRE[1] - cx + 0.5)), 0), SIDE - w)
    field = np.zeros((SIDE, SIDE), dtype=np.float32)
    field[top : top + h, left : left + w] = digit
    return field


def load_image(path: str | PathLike[str] | BinaryIO, name: str | None = None) -> np.ndarray:
    """Read an image file (PNG, JPEG, GIF, BMP, TIFF, WebP...) with Pillow.

    The pixel count is checked from the header before any pixel is decoded; more than
    ``MAX_PIXELS`` is refused. The EXIF orientation of a phone photo is applied. Palette,
    grey-with-alpha, 1-bit, 16-bit and CMYK images are converted to 8-bit grey, RGB or RGBA.

    Parameters
    ----------
    path : path or binary file object
    name : what error messages call the image (default: ``path``), e.g. "standard input"

    Returns
    -------
    image : ndarray, uint8, shape (H, W), (H, W, 3) or (H, W, 4)

    Raises
    ------
    ValueError
        ``"image too large: ..."`` or ``"cannot read image <path>: ..."``, one line.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:  # lazy: reads the header, not the pixels
                w, h = img.size
                if w * h <= MAX_PIXELS:
                    img.load()
                    ImageOps.exif_transpose(img, in_place=True)  # not a copy of the whole image
                    return _shrink(img)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ValueError(f"image too large: {one_line(e)}") from None
    except (OSError, SyntaxError, ValueError, TypeError, EOFError) as e:
        reason = one_line(e) if name is None else one_line(e).replace(f" {path!r}", "")  # no object address
        raise ValueError(f"cannot read image {path if name is None else name}: {reason}") from None
    raise ValueError(f"image too large: {w} x {h} = {w * h} pixels, more than {MAX_PIXELS}")


def _shrink(img: Image.Image) -> np.ndarray:
    """``_pil_to_array(img)``, shrunk by a whole factor to at most ``WORK_PIXELS`` pixels.

    The image is converted and shrunk in bands of about a million pixels, so beyond the decoded
    image itself this takes a few MB, not the several copies of it a whole-image conversion
    would. Colour with transparency is averaged premultiplied (``RGBa``): a transparent pixel's
    colour never leaks into its neighbours.
    """
    w, h = img.size
    f = math.ceil(math.sqrt(w * h / WORK_PIXELS))
    if f <= 1:
        return _pil_to_array(img)
    rows = f * max(1, (1 << 20) // (w * f))  # a band: whole boxes of f rows
    parts = []
    for top in range(0, h, rows):
        band = Image.fromarray(_pil_to_array(img.crop((0, top, w, min(h, top + rows)))))
        if band.mode == "RGBA":
            parts.append(np.asarray(band.convert("RGBa").reduce(f).convert("RGBA")))
        else:
            parts.append(np.asarray(band.reduce(f)))
    return np.concatenate(parts)  # (ceil(h / f), ceil(w / f)[, c])


def _pil_to_array(img: Image.Image) -> np.ndarray:
    """uint8 ``(H, W)``, ``(H, W, 3)`` or ``(H, W, 4)`` from a Pillow image of any mode.

    Transparency in every form becomes an alpha channel: the modes with alpha (``LA``, ``PA``,
    premultiplied ``La`` and ``RGBa``) and a transparent colour or palette index (PNG ``tRNS``,
    GIF) in ``P``, ``L``, ``RGB``, ``1`` and 16-bit grey.
    """
    mode = img.mode
    keyed = "transparency" in img.info and mode != "RGBA"  # one colour or palette index is transparent
    if mode in ("L", "RGB", "RGBA") and not keyed:
        return np.asarray(img)
    if mode.startswith("I") or mode == "F":
        # 16- or 32-bit grey: scale the integer or float range down to 8 bits. "I;16" files are
        # 16-bit; 32-bit "I" images use 16 bits when a value needs them, else they hold 8-bit values.
        a = np.asarray(img)
        if mode.startswith("I"):
            v = a.astype(np.float64) / (255.0 if mode == "I" and a.max() <= 255 else 65535.0)
        else:
            v = _to_unit(a)
        grey = np.round(np.clip(v, 0.0, 1.0) * 255.0).astype(np.uint8)  # (H, W)
        if not keyed:
            return grey
        alpha = np.where(a == img.info["transparency"], 0, 255).astype(np.uint8)  # (H, W)
        return np.stack([grey, grey, grey, alpha], axis=-1)  # (H, W, 4)
    if mode in ("LA", "La", "PA", "RGBa") or keyed:
        return np.asarray(img.convert("RGBA"))
    if mode == "1":
        return np.asarray(img.convert("L"))
    return np.asarray(img.convert("RGB"))  # P, CMYK, YCbCr, LAB, HSV


def _to_unit(a: np.ndarray) -> np.ndarray:
    """Pixel values of any supported dtype as float32 in [0, 1] (see :func:`to_grayscale`)."""
    if a.dtype == np.bool_:
        return a.astype(np.float32)
    if a.dtype == np.uint8:
        return a.astype(np.float32) / np.float32(255)  # division keeps 255 / 255 == 1 exactly
    if a.dtype == np.uint16:
        return a.astype(np.float32) / np.float32(65535)
    if not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise ValueError(f"expected an image of integer, float or bool pixels, got dtype {a.dtype}")
    v = a.astype(np.float64)  # float64 first: a huge float64 or int64 would overflow float32
    if not np.isfinite(v).all():
        raise ValueError("the image holds NaN or infinite values")
    if v.max() > 1.0:
        v /= 255.0
    return np.clip(v, 0.0, 1.0).astype(np.float32)


def one_line(error: BaseException) -> str:
    """An exception as one line of text (its message, else its type's name)."""
    return " ".join(str(error).split()) or type(error).__name__
