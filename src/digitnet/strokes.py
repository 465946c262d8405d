"""Stroke geometry: the skeleton of a drawing, its stroke width, and the same skeleton redrawn.

A digit is a pen path plus a pen width. MNIST was written with pens on paper, the canvas with a
brush of any size; separating the two lets training vary the width (``digitnet.augment``) and
preprocessing bring any width back to MNIST's (``digitnet.preprocess.normalise_stroke_width``).

* :func:`skeleton` thins ink to one-pixel-wide centre lines (Zhang & Suen 1984), every image of a
  batch at once: each pass removes the boundary pixels whose removal keeps the shape connected.
* :func:`working_copy` scales a drawing to the size it is measured at, framed by background.
* :func:`stroke_width` reads the width off the distance transform: on the centre line the
  distance to the background is half the width, so ``width = 2 * median(edt[skeleton])``.
* :func:`redraw_digits` turns 28 x 28 digits into canvas drawings: enlarged, thinned, and drawn
  again with a round brush whose width is a given fraction of the digit's height.
* :func:`render` draws a skeleton with a round brush of radius ``r``: a pixel at distance ``d``
  from the centre line gets ``clip(r + 0.5 - d, 0, 1)``, an anti-aliased edge one pixel wide, and
  round stroke ends like a canvas brush.
* :func:`pen_points` turns a skeleton into the points a pen on the app's pad would send.

Images are ``(n, h, w)`` stacks (batches are the first axis); one image is ``(h, w)``.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy.ndimage import distance_transform_edt, zoom

INK = 0.5
"""Intensity above which a pixel is inside a stroke (half of full ink: the stroke's edge)."""


def removable(p: list[np.ndarray], sub: int) -> np.ndarray:
    """Zhang-Suen's rule: which pixels one sub-pass removes, from their eight neighbours ``p``
    (``p2..p9`` clockwise from north, 0 or 1, any shape): those with 2 to 6 ink neighbours, exactly
    one 0 -> 1 step around them, and not on both the north/east/south (``sub`` 0) or the
    east/south/west side (``sub`` 1) of the shape."""
    B = sum(q.astype(np.int8) for q in p)  # ink neighbours
    A = sum(((p[k] == 0) & (p[(k + 1) % 8] == 1)).astype(np.int8) for k in range(8))  # 0 -> 1 steps
    p2, p4, p6, p8 = p[0], p[2], p[4], p[6]
    if sub == 0:
        side = ((p2 & p4 & p6) == 0) & ((p4 & p6 & p8) == 0)
    else:
        side = ((p2 & p4 & p8) == 0) & ((p2 & p6 & p8) == 0)
    return (B >= 2) & (B <= 6) & (A == 1) & side


_CODES = np.arange(256, dtype=np.uint8)
_REMOVABLE = np.stack([removable([(_CODES >> k) & 1 for k in range(8)], sub) for sub in (0, 1)])
"""``(2, 256)``: :func:`removable` for each sub-pass and each neighbourhood, coded ``sum p_k << k``."""


def skeleton(mask: np.ndarray) -> np.ndarray:
    """Thin each boolean image of ``mask (n, h, w)`` (or one ``(h, w)``) to its centre lines.

    Zhang-Suen: each sub-pass removes, all at once, the ink pixels that :func:`removable` says
    it may, alternating the two sub-passes until a pass removes nothing. Only the ink is visited:
    each ink pixel's eight neighbours are read from the flattened images (a frame of background
    round each keeps them apart), coded as one byte and looked up in ``_REMOVABLE``, the rule
    worked out once for all 256 neighbourhoods.
    """
    single = mask.ndim == 2
    framed = np.pad(np.asarray(mask, bool).reshape((1,) * single + mask.shape), ((0, 0), (1, 1), (1, 1)))
    P = framed.astype(np.uint8).ravel()  # (n (h + 2) (w + 2),)
    row = framed.shape[2]
    steps = [-row, -row + 1, 1, row + 1, row, row - 1, -1, -row - 1]  # p2 N, p3 NE, ..., p9 NW
    ink = np.flatnonzero(P)  # (m,) the ink pixels left
    removed = True
    while removed:
        removed = False
        for sub in (0, 1):
            code = np.zeros(len(ink), np.uint8)  # (m,) each pixel's neighbourhood as one byte
            for k, step in enumerate(steps):
                code |= P[ink + step] << k
            drop = _REMOVABLE[sub][code]  # (m,)
            if drop.any():
                P[ink[drop]] = 0
                ink = ink[~drop]
                removed = True
    out = P.reshape(framed.shape)[:, 1:-1, 1:-1].astype(bool)
    return out[0] if single else out


def working_copy(image: np.ndarray, scale: float) -> np.ndarray:
    """``image (h, w)`` scaled by ``scale`` (area-averaged when shrinking, bilinear when enlarging),
    its peak brought to 1 (a faint drawing measured as a dark one) and framed by one pixel of
    background, so that strokes at its edge end there: ``(h' + 2, w' + 2)`` float32 in [0, 1]."""
    h, w = image.shape
    img = Image.fromarray(np.ascontiguousarray(image, dtype=np.float32), mode="F")
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    work = np.asarray(img.resize(size, Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR))
    return np.pad(np.clip(work / max(float(work.max()), 1e-12), 0.0, 1.0), 1)  # (h' + 2, w' + 2)


def stroke_width(image: np.ndarray, skel: np.ndarray | None = None) -> float:
    """The median stroke width of one image ``(h, w)`` in pixels (0 when it has no ink).

    Twice the median distance to the background over the skeleton (``skel``, computed when not
    given); the distance of a centre pixel counts the pixel itself as half a pixel, hence the
    ``- 1`` on the doubled value. Beyond the image's edge is background: a stroke cut by the edge
    ends there.
    """
    mask = image > INK
    skel = skeleton(mask) if skel is None else skel
    if not skel.any():
        return 0.0
    edt = distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]  # (h, w): distance to the background
    return max(1.0, 2.0 * float(np.median(edt[skel])) - 1.0)


def render(skel: np.ndarray, radius: np.ndarray | float) -> np.ndarray:
    """Draw each skeleton of ``skel (n, h, w)`` with a round brush of ``radius`` (one per image).

    Returns float32 ``(n, h, w)`` in [0, 1]; an image without skeleton pixels comes back blank.
    """
    n = len(skel)
    if not skel.any():
        return np.zeros(skel.shape, np.float32)
    # One 3-D transform with a huge step along the batch axis: the nearest skeleton pixel is
    # always in the same image (an empty image finds one 1e6 away, which draws nothing).
    d = distance_transform_edt(~skel, sampling=(1e6, 1.0, 1.0))  # (n, h, w)
    r = np.broadcast_to(np.asarray(radius, np.float64), (n,))[:, None, None]  # (n, 1, 1)
    return np.clip(r + 0.5 - d, 0.0, 1.0).astype(np.float32)


def digit_skeletons(images: np.ndarray, factor: int = 4) -> np.ndarray:
    """The centre lines of digits ``images (n, 28, 28)`` enlarged ``factor`` times: each framed by 5
    more pixels of background, enlarged bilinearly and thinned; ``(n, 38 factor, 38 factor)`` bool."""
    framed = np.pad(np.asarray(images, np.float32), ((0, 0), (5, 5), (5, 5)))  # (n, 38, 38)
    big = zoom(framed, (1, factor, factor), order=1)  # (n, 38 f, 38 f)
    return skeleton(big > INK)  # (n, 38 f, 38 f)


def redraw_digits(images: np.ndarray, widths: np.ndarray, factor: int = 4) -> np.ndarray:
    """Digits ``images (n, 28, 28)`` as drawn on a canvas ``factor`` times larger, with a brush
    ``widths (n,)`` times the digit's height wide (MNIST's own strokes: about 0.12).

    Each digit's skeleton (:func:`digit_skeletons`, whose frame leaves room for a fat brush) is
    drawn again (:func:`render`). Returns float32 ``(n, 38 factor, 38 factor)`` in [0, 1].
    """
    skel = digit_skeletons(images, factor)  # (n, 38 f, 38 f)
    rows = skel.any(axis=2)  # (n, 38 f) rows holding skeleton
    heights = np.array([np.ptp(np.flatnonzero(r)) + 1 if r.any() else 0 for r in rows])  # (n,)
    return render(skel, np.maximum(np.asarray(widths) * heights / 2, 0.5))


def pen_points(skel: np.ndarray, height: float, centre: tuple[float, float]) -> list[list[float]]:
    """The pixels of one skeleton ``skel (h, w)`` as ``[x, y]`` points of a pen, scaled so the
    skeleton is ``height`` high and centred on ``centre``: a digit as the app's pad would get it
    (each point a stroke of its own paints a round dot, so together they draw the skeleton)."""
    rows, cols = np.nonzero(skel)
    scale = height / (np.ptp(rows) + 1)
    x = (cols - cols.mean()) * scale + centre[0]  # (n,)
    y = (rows - rows.mean()) * scale + centre[1]  # (n,)
    return [[float(a), float(b)] for a, b in zip(x, y)]
