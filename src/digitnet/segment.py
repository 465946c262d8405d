"""Reading a number: cut a drawing into digits and read each one as a single digit.

The steps, each a function below, in the order :func:`read` runs them::

    ink -> components -> merge_overlapping -> split_touching -> to_mnist + model, left to right

* **Components**: the 8-connected blobs of ink (``scipy.ndimage.label``); specks under
  :data:`MIN_PIXELS` or :data:`MIN_SHARE` of the ink are noise.
* **Merging**: strokes of one digit that do not touch (the flag of a 5, a 4 or a 7 drawn in two
  strokes, the dot a pen leaves) lie above one another, so blobs whose column ranges overlap by
  more than :data:`OVERLAP` of the narrower one's width are one part; and a blob less than
  :data:`SMALL` of the tallest part's height joins its nearest neighbour when the gap between
  them is under :data:`NEAR` of that height (a flag that sticks out to the right).
* **Splitting**: digits written touching are one blob wider than a digit. A part wider than
  :data:`SPLIT_ASPECT` times its height is cut at the valleys of its column profile (the columns
  with the least ink) and at even steps across its middle, each half cut again the same way; the cutting whose parts are most likely
  digits wins, the whole included: the model's confidence in each part times how usual the
  part's width is for a digit (:func:`split_touching`).
* **Reading**: each part goes through :func:`digitnet.preprocess.to_mnist` and the model via
  :func:`digitnet.reject.classify`; parts the reject option refuses are reported, not read.

Boxes are ``(x0, y0, x1, y1)`` in pixels of the input image, ``x1`` and ``y1`` exclusive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.ndimage import find_objects, grey_closing, label

from . import reject
from .preprocess import INK_LEVEL, BlankImageError, check_ink, normalise_polarity, to_grayscale, to_mnist

MIN_PIXELS = 5
"""Blobs with fewer ink pixels than this are noise."""
MIN_SHARE = 0.002
"""Blobs holding less than this share of all the ink are noise."""
OVERLAP = 0.5
"""Blobs whose column ranges overlap by more than this share of the narrower width are one digit."""
SMALL = 0.4
"""A blob lower than this share of the tallest part is a piece of a stroke, not a digit."""
NEAR = 0.25
"""How close, as a share of the tallest part's height, a small blob must be to join a neighbour."""
GAP_CLOSE = 0.1
"""A part made of several blobs is closed (dilated, then eroded) over this share of its height,
so that the model sees the strokes of a 5 or a 4 drawn apart as one digit."""
SPLIT_ASPECT = 0.9
"""A part wider than this times its height may be two touching digits (27 % of MNIST's digits are)."""
CUT_HEIGHT = 0.6
"""A cut-off part lower than this share of the tallest part is a piece of a stroke, not a digit."""
CUT_COST = 1.5
"""What each cut costs in the log score: two digits must be read e^1.5 = 4.5 times more surely
than one to win (the model reads many halves of digits as digits)."""
ASPECT_SCALE = 0.13
"""How fast wide parts become unlikely digits: ``log P(aspect >= a) ~ -(a - SPLIT_ASPECT) / 0.13``
fits MNIST's widths (10 % are wider than 1.0, 1.7 % than 1.3, 0.1 % than 1.67)."""
CUTS = 6
"""Column-profile valleys tried as cuts for each wide part (besides five evenly spaced cuts in its
middle 40 %: the bar of a 7 or a 5 is a valley too, inside one digit)."""
MAX_DEPTH = 4
"""Cuts of cuts: up to 2**4 digits in one blob."""


@dataclass
class Part:
    """One piece of the drawing: a digit, or a piece the model refused (``digit`` None, ``reason``)."""

    box: tuple[int, int, int, int]
    digit: int | None
    confidence: float
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        out = {"box": list(self.box), "digit": self.digit, "confidence": self.confidence}
        return out if self.reason is None else {**out, "reason": self.reason}


@dataclass
class Reading:
    """The parts of a drawing from left to right; ``number`` is its digits as a string."""

    parts: list[Part] = field(default_factory=list)

    @property
    def digits(self) -> list[Part]:
        return [p for p in self.parts if p.digit is not None]

    @property
    def rejected(self) -> list[Part]:
        return [p for p in self.parts if p.digit is None]

    @property
    def number(self) -> str:
        return "".join(str(p.digit) for p in self.digits)


@dataclass(frozen=True)
class _Piece:
    """Some blobs of the labelled image, restricted to the columns ``[x0, x1)``."""

    labels: frozenset[int]
    x0: int
    x1: int


class _Page:
    """The ink of one image (bright on 0) and its labelled blobs."""

    def __init__(self, gray: np.ndarray) -> None:
        self.gray = gray  # (H, W) ink in [0, 1]
        self.labels, n = label(gray > INK_LEVEL, structure=np.ones((3, 3)))  # (H, W) blob ids 1..n
        self.slices = find_objects(self.labels)  # n (rows, cols) bounding slices

    def box(self, piece: _Piece) -> tuple[int, int, int, int] | None:
        """The bounding box of the piece's ink, or None if it has none."""
        spans = [self.slices[k - 1] for k in piece.labels]
        y0, y1 = min(r.start for r, _ in spans), max(r.stop for r, _ in spans)
        x0, x1 = max(piece.x0, min(c.start for _, c in spans)), min(piece.x1, max(c.stop for _, c in spans))
        if x1 <= x0:
            return None
        own = np.isin(self.labels[y0:y1, x0:x1], list(piece.labels))  # (h, w)
        ink_rows, ink_cols = np.flatnonzero(own.any(axis=1)), np.flatnonzero(own.any(axis=0))
        if ink_rows.size == 0:
            return None
        return x0 + int(ink_cols[0]), y0 + int(ink_rows[0]), x0 + int(ink_cols[-1]) + 1, y0 + int(ink_rows[-1]) + 1

    def image(self, piece: _Piece, box: tuple[int, int, int, int]) -> np.ndarray:
        """The piece's ink in ``box``, every other blob erased, with a 2 px margin; the faint edge
        below ``INK_LEVEL`` around the strokes is kept (MNIST's strokes have one)."""
        x0, y0, x1, y1 = box
        labels = self.labels[y0:y1, x0:x1]  # (h, w)
        own = np.isin(labels, list(piece.labels)) | (labels == 0)  # (h, w)
        image = np.pad(np.where(own, self.gray[y0:y1, x0:x1], 0.0), 2)  # (h + 4, w + 4)
        if len(piece.labels) > 1:  # strokes of one digit drawn apart: close the small gaps between them
            size = max(3, round(GAP_CLOSE * (y1 - y0)))
            image = grey_closing(image, size=(size, size))
        return image


def components(page: _Page) -> list[_Piece]:
    """The blobs of ink that are not noise, one piece each."""
    sizes = np.bincount(page.labels.ravel())[1:]  # (n,) pixels per blob
    total = max(int(sizes.sum()), 1)
    width = page.gray.shape[1]
    return [_Piece(frozenset([k + 1]), 0, width) for k, s in enumerate(sizes)
            if s >= MIN_PIXELS and s >= MIN_SHARE * total]


def merge_overlapping(page: _Page, pieces: list[_Piece]) -> list[_Piece]:
    """Join pieces whose column ranges overlap by more than ``OVERLAP`` of the narrower width."""
    boxes = {p: page.box(p) for p in pieces}
    merged = True
    while merged:
        merged = False
        order = sorted((p for p in pieces if boxes[p] is not None), key=lambda p: boxes[p][0])
        for a, b in zip(order, order[1:]):
            (ax0, _, ax1, _), (bx0, _, bx1, _) = boxes[a], boxes[b]
            overlap = min(ax1, bx1) - max(ax0, bx0)
            if overlap > OVERLAP * min(ax1 - ax0, bx1 - bx0):
                joined = _Piece(a.labels | b.labels, 0, page.gray.shape[1])
                boxes[joined] = page.box(joined)
                pieces = [p for p in pieces if p not in (a, b)] + [joined]
                merged = True
                break
    pieces = sorted((p for p in pieces if boxes[p] is not None), key=lambda p: boxes[p][0])
    return _merge_small(page, pieces, boxes)


def _merge_small(page: _Page, pieces: list[_Piece], boxes: dict) -> list[_Piece]:
    """Join each blob lower than ``SMALL`` of the tallest to its nearest neighbour within ``NEAR``."""
    tall = max((b[3] - b[1] for b in boxes.values() if b is not None), default=0)
    changed = True
    while changed and len(pieces) > 1:
        changed = False
        for a in pieces:
            ax0, ay0, ax1, ay1 = boxes[a]
            if ay1 - ay0 >= SMALL * tall:
                continue
            gaps = [(max(boxes[b][0] - ax1, ax0 - boxes[b][2]), i) for i, b in enumerate(pieces) if b is not a]
            gap, i = min(gaps)
            if gap <= NEAR * tall:
                joined = _Piece(a.labels | pieces[i].labels, 0, page.gray.shape[1])
                boxes[joined] = page.box(joined)
                pieces = sorted([p for p in pieces if p not in (a, pieces[i])] + [joined], key=lambda p: boxes[p][0])
                changed = True
                break
    return pieces


def valleys(profile: np.ndarray, k: int = CUTS) -> list[int]:
    """Up to ``k`` cut columns in the middle 80 % of a column ``profile (w,)`` (a "1" touching a
    wide digit is a tenth of the pair), least ink first, at least 2 columns apart, none within 2
    columns of an edge."""
    w = len(profile)
    smooth = np.convolve(profile, np.ones(3) / 3, mode="same")  # (w,)
    inner = np.arange(max(2, int(0.1 * w)), min(w - 2, int(np.ceil(0.9 * w))))
    cuts: list[int] = []
    for c in inner[np.argsort(smooth[inner], kind="stable")]:
        if all(abs(int(c) - d) > 2 for d in cuts):
            cuts.append(int(c))
        if len(cuts) == k:
            break
    return cuts


class _Reader:
    """Reads pieces with one model, remembering each piece's answer."""

    def __init__(self, net: Any, meta: dict[str, Any], page: _Page, use_reject: bool) -> None:
        self.net, self.meta, self.page, self.use_reject = net, meta, page, use_reject
        self.seen: dict[_Piece, tuple[tuple[int, int, int, int], int | None, float, str | None] | None] = {}

    def read(self, pieces: list[_Piece]) -> None:
        """Classify every piece not yet seen, in one batch."""
        todo = [p for p in dict.fromkeys(pieces) if p not in self.seen]
        rows, keys = [], []
        for p in todo:
            box = self.page.box(p)
            try:
                rows.append(to_mnist(self.page.image(p, box)) if box else None)
            except BlankImageError:
                rows.append(None)
            keys.append((p, box))
        X = np.array([r for r in rows if r is not None], np.float32).reshape(-1, 784)  # (m, 784)
        if len(X):
            digits, scores, reasons = reject.classify(self.net, self.meta, X.reshape(-1, *self.net.input_shape),
                                                      self.use_reject)
        answers = iter(range(len(X)))
        for (p, box), r in zip(keys, rows):
            if r is None:
                self.seen[p] = None
                continue
            i = next(answers)
            self.seen[p] = (box, digits[i], float(scores[i].max()), reasons[i])

    def confidence(self, piece: _Piece) -> float:
        """The piece's top score; 0 for a refused or empty piece, so that a cut may beat it."""
        answer = self.seen[piece]
        return 0.0 if answer is None or answer[1] is None else answer[2]


def _log_width_prior(w: int, h: int) -> float:
    """How usual a digit ``w`` wide is in a line ``h`` high: 0 up to ``SPLIT_ASPECT``, then falling."""
    return -max(0.0, w / max(h, 1) - SPLIT_ASPECT) / ASPECT_SCALE


def split_touching(reader: _Reader, piece: _Piece, tall: int, depth: int = 0) -> tuple[float, list[_Piece]]:
    """The best cut of a piece into digits, left to right, and its score.

    A cutting scores ``sum(log confidence + log width prior) - CUT_COST * cuts`` over its parts,
    ``-inf`` when the
    reject option refuses a part: a touching pair read as one confident but far too wide digit
    loses to two digits of usual width, and halves of one digit, which the model refuses, never
    win; nor does a sliver lower than ``CUT_HEIGHT`` of the line's digits (``tall`` px, the median
    height of the parts), which the
    model would read as a "1". The whole piece is one candidate; each valley of the column profile
    is another, both halves cut further the same way. A refused piece that no cutting reads stays
    whole.
    """
    page = reader.page
    box = page.box(piece)
    if box is None:
        return -np.inf, []
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    if depth > 0 and h < CUT_HEIGHT * tall:
        return -np.inf, [piece]
    reader.read([piece])
    conf = reader.confidence(piece)
    whole = np.log(conf) + _log_width_prior(w, max(h, tall)) if conf > 0 else -np.inf
    if depth >= MAX_DEPTH or w <= SPLIT_ASPECT * max(h, tall):
        return whole, [piece]
    own = np.isin(page.labels[y0:y1, x0:x1], list(piece.labels))  # (h, w)
    profile = np.where(own, page.gray[y0:y1, x0:x1], 0.0).sum(axis=0)  # (w,) ink per column
    columns = sorted(set(valleys(profile)) | {int(round(f * w)) for f in np.linspace(0.3, 0.7, 5)})
    cuts = [(_Piece(piece.labels, piece.x0, x0 + c), _Piece(piece.labels, x0 + c, piece.x1)) for c in columns]
    reader.read([half for pair in cuts for half in pair])
    best_score, best_parts = whole, [piece]
    for left, right in cuts:
        left_score, left_parts = split_touching(reader, left, tall, depth + 1)
        if left_score - CUT_COST <= best_score:  # scores are at most 0: the right half cannot make up for it
            continue
        right_score, right_parts = split_touching(reader, right, tall, depth + 1)
        if left_score + right_score - CUT_COST > best_score:
            best_score, best_parts = left_score + right_score - CUT_COST, left_parts + right_parts
    return best_score, best_parts


def ink(image: Any) -> np.ndarray:
    """The image's ink, bright on 0, ``(H, W)`` float32; raises ``BlankImageError`` without any."""
    gray = normalise_polarity(to_grayscale(image))  # (H, W)
    check_ink(gray)
    return gray


def read(net: Any, meta: dict[str, Any], image: Any, use_reject: bool = True) -> Reading:
    """Read the number in ``image`` (anything :func:`digitnet.preprocess.to_grayscale` takes)."""
    page = _Page(ink(image))
    reader = _Reader(net, meta, page, use_reject)
    pieces = merge_overlapping(page, components(page))
    heights = [b[3] - b[1] for b in map(page.box, pieces) if b is not None]
    tall = int(np.median(heights)) if heights else 0  # the height of a digit in this line
    parts = [q for p in pieces for q in split_touching(reader, p, tall)[1]]
    reader.read(parts)
    reading = Reading()
    for p in parts:
        answer = reader.seen[p]
        if answer is not None:
            box, digit, confidence, reason = answer
            reading.parts.append(Part(box, digit, confidence, reason))
    reading.parts.sort(key=lambda part: part.box[0])
    return reading
