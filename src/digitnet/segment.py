"""Reading a number: cut a drawing into digits and read each one as a single digit.

The steps, each a function below, in the order :func:`read` runs them::

    ink -> components -> lines_across, merge_overlapping -> line (cut columns, joins)
        -> every candidate read -> bent cuts where in doubt, read -> best reading (dynamic
        programming) -> refused parts reported

* **Components**: the 8-connected blobs of ink (``scipy.ndimage.label``); specks under
  :data:`MIN_PIXELS` or :data:`MIN_SHARE` of the ink are noise.
* **Lines across digits**: a low blob over the columns of two or more digits (an underline, a
  line over them) is no digit and no stroke of one (:func:`lines_across`): it is reported apart.
* **Merging**: strokes of one digit that do not touch (the flag of a 5, a 4 or a 7 drawn in two
  strokes, the dot a pen leaves) lie above one another, so blobs whose column ranges overlap by
  more than :data:`OVERLAP` of the narrower one's width are one part.
* **Marks**: a part lower than :data:`SMALL` of the tallest (a decimal point, a comma, a dash, a
  flag that sticks out to the right) is never a digit on its own: the choosing either joins it
  to a neighbour, as a stroke of that digit, or leaves it out as not a digit (:data:`MARK_COST`),
  with the reject option or without.
* **Candidates**: digits written touching are one blob wider than a digit. A part wider than
  :data:`CUT_MIN` times the line height (:data:`CUT_MIN_DETECTOR` for a model with a detector)
  may be cut at the valleys of its column profile (the columns with the least ink) and at even
  steps (:func:`lattice`), unless its strokes are too wide for a digit (:func:`blot`) or it is
  wider than :data:`LONG` line heights (a scribble). Every run between two of those cuts is a
  candidate digit, and so is each pair of neighbouring parts taken as one (strokes of one digit
  that the column rule left apart), whole or, where their columns overlap, the end of one with
  the start of the other (:meth:`_Line.end_joins`: a digit in two strokes, one of them touching
  its neighbour). A line with more than :data:`MAX_PIECES` candidates is not read: each costs
  milliseconds.
* **Strokes**: where the pen's path is known (the app's pad, ``read(..., strokes=)``), the
  strokes are merged by their columns first, and those that touch are then one part, as their
  ink is (:func:`merge_touching`); a part is cut between its strokes only (:func:`stroke_lattice`),
  never through one, since a digit is written with whole strokes: digits written touching come
  apart where one ends and the next begins, and an "x" or an "A" is not cut into two digits.
  Only a stroke as wide as two digits that is refused whole, and reads as two sure digits cut
  by columns (:data:`THROUGH`, :data:`THROUGH_SURE`; :data:`THROUGH_NARROW`,
  :data:`THROUGH_NARROW_SURE`), is split in two first (:func:`split_strokes`): two digits
  written without lifting the pen.
* **Bent cuts**: where the stroke of one digit reaches over its neighbour's columns, no straight
  cut parts them. In a line of several parts, a part whose straight cuts leave doubt (it reads
  as several digits, or as one with little confidence: :data:`BEND_DOUBT`) is tried with each
  cut also bent round the strokes (:func:`bend`, :meth:`_Line.bend_doubtful`), and the runs
  between bent cuts are candidates too, unless they would take the line's candidates over
  :data:`MAX_PIECES`. A drawing of one part is cut straight only: bent, a letter's strokes come
  apart as digits.
* **Choosing**: each candidate goes through :func:`digitnet.preprocess.ink_to_mnist` and the model,
  in a batch for the straight cuts and one for the bent ones; the reading whose digits are most
  likely wins (:meth:`_Line.best`): the product of the model's confidence in each and how usual
  its width is for the digit it reads as (:func:`_part_score`). A part cut into "1"s that lean
  one way and the other in turn is a zigzag, or a "V", read whole (:data:`ZIGZAG`, :data:`V_LEAN`).
* **Refusing**: a part the detector is sure is no digit may be left out in the choosing
  (:data:`SKIP_COST`); a part the model reads with too little confidence is reported as not a
  digit; for a digit-sized part in a line of digits the bar is lower than the model's own reject
  threshold (:data:`READ_THRESHOLD`, :data:`READ_EVIDENCE`), since one refused digit loses the
  whole number, and a part read whole is judged by the detector alone, without the model's floor
  on the top probability (:meth:`_Reader.evidence`). A drawing of one part is held to the model's
  own bar.

Boxes are ``(x0, y0, x1, y1)`` in pixels of the input image, ``x1`` and ``y1`` exclusive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.ndimage import binary_dilation, distance_transform_edt, find_objects, grey_closing, label

from . import reject
from .preprocess import (INK_LEVEL, BlankImageError, check_ink, ink_to_mnist, normalise_polarity,
                         to_grayscale)
from .strokes import INK, skeleton, stroke_width, working_copy

MIN_PIXELS = 5
"""Blobs with fewer ink pixels than this are noise."""
MIN_SHARE = 0.002
"""Blobs holding less than this share of all the ink are noise."""
OVERLAP = 0.5
"""Blobs whose column ranges overlap by more than this share of the narrower width are one digit."""
SMALL = 0.4
"""A part lower than this share of the tallest is a mark (a dot, a comma, a dash, a stroke cut
from a digit), never a digit on its own; a blob this low over several digits is a line across them."""
GAP_CLOSE = 0.1
"""A part made of several blobs is closed (dilated, then eroded) over this share of its height
in the gaps between its blobs (:meth:`_Page.gaps`), so that the model sees the strokes of a 5 or
a 4 drawn apart as one digit."""
CUT_MIN = 0.6
"""A part wider than this times the line height may be digits that touch, and is tried cut (a
"1" touching a narrow digit is this wide)."""
CUT_MIN_DETECTOR = 0.4
"""For a model with a detector, which scores halves of digits low, a part is tried cut from this
width instead: two upright "1"s touching. Without one, the narrower cuts misread more numbers
than they read right (halves of a narrow digit read as "1"s)."""
CUT_STEP = 0.15
"""Besides the valleys of its column profile, a part is tried cut every this share of the line
height (the bar of a 7 or a 5 is a valley inside one digit; the contact of two digits may not be)."""
CUTS = 3
"""Column-profile valleys tried as cuts in each part that may hold touching digits."""
LONG = 10.0
"""A part wider than this many line heights is not tried cut: ten digits in one stroke are a
scribble, a zigzag or a line, not a number. Read whole, it is far too wide to be a digit."""
MAX_PIECES = 1000
"""A line whose straight cuts make more candidates than this is not read (a :class:`ValueError`),
and no bent cuts are tried where they would take its candidates over it: each takes about 2 ms to
prepare and read. The numbers of ``bench_read`` make 47 (4 digits, the median) to 241 (8 digits,
the most of 300) straight, and 25 MNIST digits all touching about 720; four digits written apart
on the app's pad, 109 from the picture and 4 with the strokes."""
BEND = 0.1
"""Each cut is also tried bent round the strokes: the path of least ink from top to bottom within
this share of the line height of the straight cut (:func:`bend`)."""
BEND_DOUBT = 0.9
"""A part is tried with bent cuts only when cut straight it reads as more than one digit, or as
one digit that scores under the log of this (:func:`_part_score`): a digit the model reads
whole with confidence is no pair of touching digits to cut round."""
CUT_HEIGHT = 0.8
"""A cut-off piece whose longer side is shorter than this share of the line height is a piece of a
stroke, not a digit. The longer side, since MNIST scales each digit by it: a wide "2" is lower
than the "1" beside it."""
CUT_WIDTH = 0.18
"""A cut-off piece narrower than this share of the line height is a sliver of a stroke, which the
model would read as a "1". An upright "1" cut from its neighbour is wider: 99 % of MNIST's ones
are at least a fifth of their height wide; the detector scores the slivers between the two low."""
SLIVER_HEIGHT = 1.0
"""A cut-off piece narrower than ``CUT_WIDTH`` is a sliver only when lower than this share of the
line height: one as tall as the line is an upright "1" cut from the digit it touches (the sliver
cut off the side of a "0" or a "4" is lower)."""
MAX_WIDTH = 1.7
"""No digit is wider than this times the line height (0.1 % of MNIST's are wider than high by this)."""
WIDTHS = ((0.89, 0.12), (0.45, 0.19), (0.91, 0.12), (0.81, 0.14), (0.81, 0.14),
          (0.89, 0.14), (0.75, 0.15), (0.79, 0.14), (0.78, 0.15), (0.70, 0.14))
"""Mean and standard deviation of each digit's width over its line height, measured on MNIST's
50,000 training digits (width over 20 px, the height of all but the widest)."""
WIDTH_SPREAD = 2.0
"""Widths within this many standard deviations of a digit's mean are all as likely."""
WIDTH_WEIGHT = 0.25
"""Weight of the width prior (:func:`_log_width_prior`) against the log confidence."""
SHORT_COST = 2.0
"""What a part of its own whose longer side is under ``CUT_HEIGHT`` of the line height costs in
the log score."""
JOIN_GAP = 0.25
"""Neighbouring parts less than this many line heights apart may be strokes of one digit."""
JOIN_COST = 1.0
"""What reading two neighbouring parts as one digit costs in the log score."""
SKIP_COST = 6.0
"""What leaving a part out as no digit costs in the log score, beside the log of the detector's
probability that it is no digit: a part is left out only when the detector is surer of that than
the model is of any reading of it (600 validation numbers read as without it; 3.0 loses 3)."""
MARK_COST = 0.75
"""What leaving out a mark (a part lower than ``SMALL`` of the tallest) costs in the log score. A
mark may be a stroke of its neighbour instead (read with it at ``JOIN_COST``): it joins when the
neighbour reads better with it than alone, by more than ``JOIN_COST - MARK_COST`` (a point beside
a digit its reading hardly changes is left out, and reported); two marks join when they read as a
digit with a probability over ``exp(-0.5)``. At 0.75, 1, 2 or 3, 578 of the 600 validation
numbers are read; at 0.5, 577."""
ZIGZAG = 0.15
"""Three pieces in a row of those of one part read as "1"s, leaning one way, the other, then the
first again, each by more than this many columns per row, are a scribble's teeth, and the part
is read whole. Ones written side by side lean the same way: of MNIST's training ones, 6 % lean
more than this "\\" and 58 % "/" (top to the right)."""
V_LEAN = 0.25
"""Two pieces in a row of those of one part read as "1"s, leaning apart by more than this many
columns per row each, are a "V" or a "Λ", and the part is read whole. Of pairs of MNIST's
training ones, from different writers, 1.5 % lean apart this far (7.4 % by ``ZIGZAG``): of 147
pairs of test ones pushed together until they touch, 114 are read as "11" with this rule, 117
without; one person's ones lean alike."""
STROKES = 10
"""On a page of strokes, a part of more strokes than this is not cut: digits are written with one
to three strokes each, and a part holds the few digits written touching; dozens of taps or dashes
in one place are shading or a scribble (cut between them, 60 taps make over a thousand candidates)."""
THROUGH = 1.2
"""On a page of strokes, a stroke wider than this many line heights may write two digits without
the pen lifted between them (:func:`split_strokes`); 3 % of MNIST's digits are wider than 1.2
times their height (fives 14 %, twos 8 %, zeros 6 %), and they are read whole when not refused."""
THROUGH_NARROW = 0.8
"""A stroke from this many line heights wide, up to ``THROUGH``, may write two digits without the
pen lifted too: a "1" and its neighbour. It is split at a column only where both halves read
with ``THROUGH_NARROW_SURE``. 40 % of MNIST's test digits are wider than 0.8 times their height:
written alone in one stroke, the 6,705 at least 0.6 times as wide as high read the same with this
rule and without."""
THROUGH_NARROW_SURE = 0.9999
"""The confidence both halves of a stroke from ``THROUGH_NARROW`` to ``THROUGH`` line heights wide
need to be split there. At the best column rather than at the best cutting's own, a letter's
halves read sure more often: split so from 0.8 line heights at 0.999, 6 of 1,200 held-out
non-digits written on the pad were read as digits (``bench_pad_read --seed 0`` and ``1``); with
this bar and up to ``THROUGH`` only, none of 2,400 (seeds 0 to 3) is read otherwise."""
THROUGH_SURE = 0.999
"""A stroke is split in two only where both digits cut from it are read with at least this
calibrated confidence, and not refused: cut by columns, a letter, a spiral or a zigzag in one
stroke reads as digits too, but seldom as two sure ones (of 2,400 held-out non-digits written on
the pad, none at 0.999, 3 at 0.995; ``bench_pad_read --seed 0`` to ``3``)."""
FRAGMENT = 0.1
"""Bits of a cut piece with less than this share of its ink belong to the digit on the other side."""
BLOT_WIDTH = 0.3
"""A part whose strokes are wider than this share of the line height is a blot (all but 0.1 % of
MNIST's digits have thinner strokes, as a share of their height)."""
BLOT_SIDE = 56
"""Height, in pixels, of the working copy on which :func:`blot` measures a part's strokes."""
READ_THRESHOLD = 0.5
"""A digit-sized part that the top-probability reject option refuses is still read unless its
calibrated confidence is under this: 99.9 % of the shipped model's validation digits reach 0.5,
while its own threshold keeps 99 % and so would lose one 4-digit number in 25 over one digit."""
READ_EVIDENCE = 0.1
"""For a model with a detector, a digit-sized part is refused only when the detector's score is
under this share of its threshold: a digit cut from its neighbour keeps a bit of it, and scores
lower than a digit on its own."""


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
    """Some blobs of the labelled image, restricted to the columns ``[x0, x1)``; a bent cut on
    the ``left`` or ``right`` gives, for each row of the image, the column where the piece
    starts or ends (``x0`` is then the least of the left one, ``x1`` the greatest of the right one)."""

    labels: frozenset[int]
    x0: int
    x1: int
    left: tuple[int, ...] | None = None
    right: tuple[int, ...] | None = None


class _Page:
    """The ink of one image (bright on 0) and its labelled blobs: its 8-connected blobs of ink, or,
    given ``strokes (H, W)`` (the pen stroke that painted each pixel, 1, 2, ..., 0 for none), the
    ink of each stroke."""

    def __init__(self, gray: np.ndarray, strokes: np.ndarray | None = None) -> None:
        self.gray = gray  # (H, W) ink in [0, 1]
        self.by_stroke = strokes is not None
        if strokes is None:
            self.labels, _ = label(gray > INK_LEVEL, structure=np.ones((3, 3)))  # (H, W) blob ids 1..n
        else:
            self.labels = np.where(gray > INK_LEVEL, strokes, 0)  # (H, W) stroke ids
        self.slices = find_objects(self.labels)  # (rows, cols) bounding slices of ids 1, 2, ...
        self.last: tuple[_Piece, tuple[int, int, np.ndarray] | None] | None = None

    def own(self, piece: _Piece) -> tuple[int, int, np.ndarray] | None:
        """``(y0, x0, mask (h, w))``: where the piece's ink lies (:meth:`find_own`); the last
        piece's is kept, for its :meth:`box` and then its :meth:`image`."""
        if self.last is None or self.last[0] != piece:
            self.last = (piece, self.find_own(piece))
        return self.last[1]

    def find_own(self, piece: _Piece) -> tuple[int, int, np.ndarray] | None:
        """``(y0, x0, mask (h, w))``: where the piece's ink lies, or None if it has none. In a
        piece cut from a part, the bits holding under ``FRAGMENT`` of its ink are the
        neighbouring digit's strokes that the cut took along, and are left out."""
        spans = [self.slices[k - 1] for k in piece.labels]
        y0, y1 = min(r.start for r, _ in spans), max(r.stop for r, _ in spans)
        x0, x1 = max(piece.x0, min(c.start for _, c in spans)), min(piece.x1, max(c.stop for _, c in spans))
        if x1 <= x0:
            return None
        mask = np.isin(self.labels[y0:y1, x0:x1], list(piece.labels))  # (h, w)
        if piece.left is not None or piece.right is not None:
            start = np.array(piece.left[y0:y1] if piece.left else [piece.x0] * (y1 - y0))  # (h,)
            stop = np.array(piece.right[y0:y1] if piece.right else [piece.x1] * (y1 - y0))  # (h,)
            cols = np.arange(x0, x1)  # (w,)
            mask &= (cols >= start[:, None]) & (cols < stop[:, None])  # (h, w)
        if piece.x0 > 0 or piece.x1 < self.gray.shape[1]:
            bits, _ = label(mask, structure=np.ones((3, 3)))  # (h, w) the cut piece's own blobs
            sizes = np.bincount(bits.ravel())[1:]  # (m,) pixels per blob
            mask &= np.isin(bits, 1 + np.flatnonzero(sizes >= FRAGMENT * sizes.sum()))
        return (y0, x0, mask) if mask.any() else None

    def holds(self, piece: _Piece, labels: frozenset[int]) -> bool:
        """Whether any of the piece's own ink (:meth:`own`) belongs to the blobs ``labels``."""
        found = self.own(piece)
        if found is None:
            return False
        y0, x0, mask = found
        return bool(np.isin(self.labels[y0:y0 + mask.shape[0], x0:x0 + mask.shape[1]][mask], list(labels)).any())

    def box(self, piece: _Piece) -> tuple[int, int, int, int] | None:
        """The bounding box of the piece's ink, or None if it has none."""
        found = self.own(piece)
        if found is None:
            return None
        y0, x0, mask = found
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        return x0 + int(cols[0]), y0 + int(rows[0]), x0 + int(cols[-1]) + 1, y0 + int(rows[-1]) + 1

    def image(self, piece: _Piece, box: tuple[int, int, int, int]) -> np.ndarray:
        """The piece's ink in ``box``, every other blob erased, with a 2 px margin; the faint edge
        below ``INK_LEVEL`` around the strokes is kept (MNIST's strokes have one)."""
        x0, y0, x1, y1 = box
        my0, mx0, mask = self.own(piece)
        mine = mask[y0 - my0:y1 - my0, x0 - mx0:x1 - mx0]  # (h, w)
        own = mine | (self.labels[y0:y1, x0:x1] == 0)  # (h, w)
        image = np.pad(np.where(own, self.gray[y0:y1, x0:x1], 0.0), 2)  # (h + 4, w + 4)
        if len(piece.labels) > 1 and self.apart(mine):  # strokes of one digit drawn apart: close the gaps
            size = max(3, round(GAP_CLOSE * (y1 - y0)))
            image = np.where(self.gaps(mine, box, size), grey_closing(image, size=(size, size)), image)
        return image

    def gaps(self, mine: np.ndarray, box: tuple[int, int, int, int], size: int) -> np.ndarray:
        """Where closing the image of a piece of several blobs (its ink ``mine (h, w)`` in
        ``box``) over ``size`` px may add ink, ``(h + 4, w + 4)`` with the image's margin: within
        ``size // 2`` px of two of its blobs, in the gaps between them; not in the loops of one,
        which closing would fill (a small "8" in two strokes would read as a "1")."""
        x0, y0, x1, y1 = box
        ids = np.pad(np.where(mine, self.labels[y0:y1, x0:x1], 0), 2)  # (h + 4, w + 4) the blobs' ids
        near = [binary_dilation(ids == k, np.ones((size, size), bool)) for k in np.unique(ids[ids > 0])]
        return np.sum(near, axis=0) >= 2  # (h + 4, w + 4)

    def apart(self, mask: np.ndarray) -> bool:
        """Whether the ink of ``mask (h, w)`` lies in more than one blob: always, for the blobs of
        a piece of several; strokes may touch."""
        return not self.by_stroke or label(mask, structure=np.ones((3, 3)))[1] > 1


def components(page: _Page) -> list[_Piece]:
    """The blobs of ink that are not noise (on a page of strokes, the strokes), one piece each."""
    sizes = np.bincount(page.labels.ravel())[1:]  # (n,) pixels per blob
    total = max(int(sizes.sum()), 1)
    width = page.gray.shape[1]
    return [_Piece(frozenset([k + 1]), 0, width) for k, s in enumerate(sizes)
            if s >= MIN_PIXELS and s >= MIN_SHARE * total]


def lines_across(page: _Page, pieces: list[_Piece]) -> list[_Piece]:
    """The blobs lower than ``SMALL`` of the tallest whose column range overlaps, by more than
    ``OVERLAP`` of their widths, two or more blobs at least ``CUT_HEIGHT`` of the tallest high: a
    line under or over several digits that touches none. A stroke of one digit overlaps one such
    blob (the crossbar of a 7, the flag of a 5)."""
    boxes = {p: page.box(p) for p in pieces if page.box(p) is not None}
    tall = max((b[3] - b[1] for b in boxes.values()), default=0)
    digits = [b for b in boxes.values() if b[3] - b[1] >= CUT_HEIGHT * tall]
    return [p for p, (x0, y0, x1, y1) in boxes.items() if y1 - y0 < SMALL * tall
            and sum(min(x1, b[2]) - max(x0, b[0]) > OVERLAP * (b[2] - b[0]) for b in digits) > 1]


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
    return sorted((p for p in pieces if boxes[p] is not None), key=lambda p: boxes[p][0])


def merge_touching(page: _Page, pieces: list[_Piece]) -> list[_Piece]:
    """On a page of strokes, join the pieces whose ink touches, as a picture's blobs are joined:
    the part is then cut between its strokes (:func:`stroke_lattice`), and a "V" of two strokes
    is one part, whose halves :func:`_zigzag` sees."""
    blobs, _ = label(page.gray > INK_LEVEL, structure=np.ones((3, 3)))  # (H, W) 8-connected blob ids
    groups: list[tuple[set[int], frozenset[int]]] = []  # (blob ids, stroke ids) of each part
    for piece in pieces:
        found = np.unique(blobs[np.isin(page.labels, list(piece.labels))])
        touching = [g for g in groups if g[0] & set(found.tolist())]
        groups = [g for g in groups if g not in touching]
        groups.append((set(found.tolist()).union(*(g[0] for g in touching)),
                       piece.labels.union(*(g[1] for g in touching))))
    return [_Piece(ids, 0, page.gray.shape[1]) for _, ids in groups]


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
    """Reads pieces with one model, remembering each piece's box, calibrated scores ``(10,)``,
    whether the model's reject option refuses it, and its evidence of being a digit
    (:func:`digitnet.reject.assess` without the floor on the top probability: for a model with a
    detector, the detector's score alone; :meth:`evidence` applies the floor). ``whole``: the
    pieces that are whole parts of the line, or two neighbouring parts joined."""

    def __init__(self, net: Any, meta: dict[str, Any], page: _Page) -> None:
        self.net, self.meta, self.page = net, meta, page
        self.detector = getattr(net, "detector", None) is not None and reject.settings(meta) is not None
        self.floor = float(meta["reject"]["detector"]["floor"]) if self.detector else 0.0
        self.seen: dict[_Piece, tuple[tuple[int, int, int, int], np.ndarray, bool, float] | None] = {}
        self.threshold = 0.0
        self.whole: set[_Piece] = set()

    def evidence(self, piece: _Piece) -> float:
        """The evidence that the read ``piece`` is a digit: for a model with a detector, the
        detector's score, but 0 where the top probability is under the model's floor, unless the
        piece is whole (:attr:`whole`). The floor keeps the pieces cut from a scribble, which the
        detector may take for digits, from being read; a digit written apart from the others and
        read whole is judged by the detector alone, as the model may hesitate between two readings
        of it (0.1 % of MNIST's digits are under the floor, most read right)."""
        _, scores, _, evidence = self.seen[piece]
        return evidence if piece in self.whole or scores.max() >= self.floor else 0.0

    def read(self, pieces: list[_Piece]) -> None:
        """Classify every piece not yet seen, in one batch; an empty piece is None."""
        todo = [p for p in dict.fromkeys(pieces) if p not in self.seen]
        rows, keys = [], []
        for p in todo:
            box = self.page.box(p)
            try:
                rows.append(ink_to_mnist(self.page.image(p, box)) if box else None)
            except BlankImageError:
                rows.append(None)
            keys.append((p, box))
        X = np.array([r for r in rows if r is not None], np.float32).reshape(-1, 784)  # (m, 784)
        if len(X):
            scores, evidence, self.threshold = reject.assess(self.net, self.meta, X.reshape(-1, *self.net.input_shape),
                                                             floor=0.0)
        answers = iter(range(len(X)))
        for (p, box), r in zip(keys, rows):
            if r is None:
                self.seen[p] = None
                continue
            i = next(answers)
            refused = evidence[i] < self.threshold or scores[i].max() < self.floor
            self.seen[p] = (box, scores[i], bool(refused), float(evidence[i]))


def _size(box: tuple[int, int, int, int]) -> int:
    """The longer side of a box: what MNIST scales a digit by."""
    x0, y0, x1, y1 = box
    return max(x1 - x0, y1 - y0)


def _log_width_prior(digit: int, w: int, h: int) -> float:
    """How usual a ``digit`` ``w`` wide is in a line ``h`` high: 0 within ``WIDTH_SPREAD``
    standard deviations of its mean width (:data:`WIDTHS`), then minus half the square of the excess."""
    mean, std = WIDTHS[digit]
    return -0.5 * max(0.0, abs(w / max(h, 1) - mean) / std - WIDTH_SPREAD) ** 2


@dataclass
class _Lattice:
    """One part of the line and the columns it may be cut at, from its left edge to its right
    edge; ``bends[i]``: the cut at ``columns[i]`` bent round the strokes, a column for each row
    of the image, or None.

    A part of a page of strokes is cut between its strokes instead: ``strokes`` holds their ids
    from left to right (by the middle of each), ``spans`` their column ranges, and cut ``i`` lies
    between stroke ``i - 1`` and stroke ``i`` (``columns`` counts the cuts: ``0 .. len(strokes)``).
    """

    piece: _Piece
    columns: list[int]
    bends: list[tuple[int, ...] | None]
    strokes: list[int] | None = None
    spans: list[tuple[int, int]] | None = None

    def run(self, i: int, j: int, bent_i: bool = False, bent_j: bool = False) -> _Piece:
        """The piece between ``columns[i]`` and ``columns[j]``, each cut straight or bent (or
        the strokes between cuts ``i`` and ``j``); the whole part for the whole run."""
        if i == 0 and j == len(self.columns) - 1:
            return self.piece
        if self.strokes is not None:
            return _Piece(frozenset(self.strokes[i:j]), self.piece.x0, self.piece.x1)
        left, right = self.bends[i] if bent_i else None, self.bends[j] if bent_j else None
        return _Piece(self.piece.labels, min(left) if left else self.columns[i],
                      max(right) if right else self.columns[j], left, right)

    def width(self, i: int, j: int) -> int:
        """How many columns the run from cut ``i`` to cut ``j`` spans (straight cuts)."""
        if self.spans is None:
            return self.columns[j] - self.columns[i]
        return max(x1 for _, x1 in self.spans[i:j]) - min(x0 for x0, _ in self.spans[i:j])

    def runs(self, tall: int) -> list[tuple[int, int, bool, bool]]:
        """Every run of consecutive slices a digit may fill, ``(i, j, bent_i, bent_j)``: the whole
        part, or at most ``MAX_WIDTH`` line heights, between any of the cuts' forms."""
        n = len(self.columns)
        forms = [[False] + ([True] if b is not None else []) for b in self.bends]
        return [(i, j, a, b) for i in range(n - 1) for j in range(i + 1, n)
                if (i, j) == (0, n - 1) or self.width(i, j) <= MAX_WIDTH * tall
                for a in forms[i] for b in forms[j]]


def blot(part: np.ndarray, tall: int) -> bool:
    """Whether the strokes of ``part (h, w)`` (ink bright on 0) are wider than ``BLOT_WIDTH`` of
    the line height ``tall``, the widest MNIST's digits have: a dot or a smear, which cut into
    slices would read as "1"s side by side. Measured on a copy scaled so the line is
    ``BLOT_SIDE`` px high, as :func:`digitnet.strokes.stroke_width`, or from the deepest point of a
    dot that thins to nothing."""
    work = working_copy(part, BLOT_SIDE / max(tall, 1))  # (h' + 2, w' + 2)
    skel = skeleton(work > INK)  # (h' + 2, w' + 2): empty for a round dot, which thins away
    width = stroke_width(work, skel) if skel.any() else 2.0 * float(distance_transform_edt(work > INK).max()) - 1.0
    return width > BLOT_WIDTH * BLOT_SIDE


def bend(part: np.ndarray, c: int, reach: int) -> np.ndarray:
    """The path of least ink through ``part (h, w)`` from its top row to its bottom one, a column
    for each row, at most ``reach`` columns from column ``c`` and moving at most one column from a
    row to the next (dynamic programming, row by row); of paths with as little ink, the nearest
    to ``c``. The pixel the path crosses in a row goes to the right of the cut."""
    h, w = part.shape
    lo, hi = max(0, c - reach), min(w, c + reach + 1)
    cost = part[:, lo:hi] + 1e-3 * np.abs(np.arange(lo, hi) - c)  # (h, k) ink, then distance to c
    total, back = cost[0].copy(), np.zeros(cost.shape, int)  # (k,), (h, k)
    for r in range(1, h):
        padded = np.pad(total, 1, constant_values=np.inf)  # (k + 2,)
        came = np.stack([padded[:-2], padded[1:-1], padded[2:]])  # (3, k): from the left, above, the right
        step = came.argmin(axis=0)  # (k,)
        total = came[step, np.arange(len(total))] + cost[r]  # (k,)
        back[r] = step - 1
    path = np.zeros(h, int)  # (h,)
    path[-1] = int(total.argmin())
    for r in range(h - 1, 0, -1):
        path[r - 1] = path[r] + back[r, path[r]]
    return lo + path


def _part_ink(page: _Page, piece: _Piece) -> tuple[tuple[int, int, int, int], np.ndarray]:
    """The box of a whole part and its ink alone in it, ``(h, w)``: other blobs erased."""
    x0, y0, x1, y1 = page.box(piece)
    own = np.isin(page.labels[y0:y1, x0:x1], list(piece.labels))  # (h, w)
    return (x0, y0, x1, y1), np.where(own, page.gray[y0:y1, x0:x1], 0.0)  # (h, w)


def lattice(page: _Page, piece: _Piece, tall: int, cut_min: float = CUT_MIN) -> _Lattice:
    """The straight columns ``piece`` may be cut at: none for a part at most ``cut_min`` line
    heights wide, too narrow to hold two digits, wider than ``LONG``, or a :func:`blot`, else its
    ``CUTS`` deepest valleys and a cut every ``CUT_STEP`` line heights, 3 px apart at least. On a
    page of strokes, a part is cut between its strokes only (:func:`stroke_lattice`), if it has
    at most ``STROKES`` of them, at any width (two ones written touching are narrower than
    ``cut_min``; cut between strokes, no half of a stroke is read as a "1")."""
    (x0, _, x1, _), part = _part_ink(page, piece)
    w = x1 - x0
    if page.by_stroke:
        cuttable = len(piece.labels) <= STROKES and w <= LONG * tall and not blot(part, tall)
        return stroke_lattice(page, piece) if cuttable else _Lattice(piece, [x0, x1], [None, None])
    return column_lattice(page, piece, tall, cut_min)


def column_lattice(page: _Page, piece: _Piece, tall: int, cut_min: float = CUT_MIN) -> _Lattice:
    """The straight columns ``piece`` may be cut at, through its strokes (:func:`lattice`)."""
    (x0, _, x1, _), part = _part_ink(page, piece)
    w = x1 - x0
    cuttable = cut_min * tall < w <= LONG * tall and not blot(part, tall)
    profile = part.sum(axis=0)  # (w,) ink per column
    cuts: list[int] = []
    if cuttable:
        step = max(2, round(CUT_STEP * tall))
        for c in valleys(profile, CUTS) + list(range(step, w - 2, step)):
            if c >= 3 and c <= w - 3 and all(abs(c - d) >= 3 for d in cuts):
                cuts.append(c)
    columns = [0, *sorted(cuts), w]
    return _Lattice(piece, [x0 + c for c in columns], [None] * len(columns))


def stroke_lattice(page: _Page, piece: _Piece) -> _Lattice:
    """``piece``, a part of a page of strokes, cut between its strokes: a digit is written with
    whole strokes, so no piece takes part of one (a stroke across an "x" or an "A" is not cut into
    two digits), and one whose strokes reach over its neighbour's columns is still taken whole."""
    spans = {k: (page.slices[k - 1][1].start, page.slices[k - 1][1].stop) for k in piece.labels}
    order = sorted(spans, key=lambda k: (spans[k][0] + spans[k][1], k))  # by the middle of each stroke
    cuts = len(order) + 1
    return _Lattice(piece, list(range(cuts)), [None] * cuts, order, [spans[k] for k in order])


def with_bends(page: _Page, grid: _Lattice, tall: int) -> _Lattice:
    """``grid`` with each inner cut also bent round the strokes (:func:`bend`, within ``BEND``
    line heights of it), where that differs from the straight cut."""
    (x0, y0, _, _), part = _part_ink(page, grid.piece)
    bends: list[tuple[int, ...] | None] = [None] * len(grid.columns)
    for k, column in enumerate(grid.columns[1:-1], start=1):
        c = column - x0
        path = bend(part, c, round(BEND * tall))  # (h,)
        if (path != c).any():
            rows = [column] * page.gray.shape[0]
            rows[y0:y0 + len(path)] = (x0 + path).tolist()
            bends[k] = tuple(rows)
    return _Lattice(grid.piece, grid.columns, bends)


def _part_score(reader: _Reader, piece: _Piece, tall: int, cut: bool) -> float:
    """How likely ``piece`` is one digit: ``log confidence + WIDTH_WEIGHT * log width prior``, plus
    the log of the detector's probability that it is a digit for a model that has one;
    a piece whose longer side is under ``CUT_HEIGHT`` of the line height ``tall``, or narrower than
    ``CUT_WIDTH`` and lower than ``SLIVER_HEIGHT`` of it, scores ``-inf`` when cut from a part (a
    sliver the model would read as a "1"); a short one scores ``SHORT_COST`` less when it is a part
    of its own (a stroke of a digit drawn apart, or a mark that is no digit). The piece must be read."""
    answer = reader.seen[piece]
    if answer is None:
        return -np.inf
    (x0, y0, x1, y1), scores, _, _ = answer
    short = _size((x0, y0, x1, y1)) < CUT_HEIGHT * tall
    if cut and (short or (x1 - x0 < CUT_WIDTH * tall and y1 - y0 < SLIVER_HEIGHT * tall)):
        return -np.inf
    digit = int(scores.argmax())
    score = np.log(max(float(scores[digit]), 1e-12)) + WIDTH_WEIGHT * _log_width_prior(digit, x1 - x0, max(y1 - y0, tall))
    if reader.detector:  # its probability that the piece is a digit: low for halves of digits
        score += np.log(max(reader.evidence(piece), 1e-12))
    return score - SHORT_COST if short else score


def split_touching(reader: _Reader, grid: _Lattice, tall: int, start: int = 0, stop: int | None = None
                   ) -> tuple[float, list[_Piece]]:
    """The best cutting of one part into digits, left to right, and its score; of its ink between
    cuts ``start`` and ``stop`` only, where a neighbouring digit takes the strokes beyond them
    (:meth:`_Line.end_joins`).

    A cutting scores the sum of its pieces' :func:`_part_score`: each piece's confidence is at
    most 1, so two pieces win over the whole only when the model is surer of both together than
    of the whole, or when the whole is far too wide for the digit it reads as. The best cutting
    is found by dynamic programming over the cuts (``best[j, bent]``: the best cutting of the
    ink left of cut ``j``, straight or bent); the part's pieces must already be read. A best
    cutting whose "1"s lean one way and the other in turn (:func:`_zigzag`) gives way to the
    whole part: a scribble's teeth are no row of ones.
    """
    n = len(grid.columns)
    stop = n - 1 if stop is None else stop
    best: dict[tuple[int, bool], float] = {(start, False): 0.0}  # (cut, bent) -> the best score left of it
    back = {(stop, False): (start, False)}  # (cut, bent) -> where the best run ending there starts
    for i, j, bent_i, bent_j in grid.runs(tall):
        if j > stop or best.get((i, bent_i), -np.inf) == -np.inf:
            continue
        piece = grid.run(i, j, bent_i, bent_j)
        if reader.seen[piece] is None and j - i < n - 1:
            score = 0.0  # no ink between these cuts: nothing to read
        else:
            score = _part_score(reader, piece, tall, cut=j - i < n - 1)
        if best[(i, bent_i)] + score > best.get((j, bent_j), -np.inf):
            best[(j, bent_j)], back[(j, bent_j)] = best[(i, bent_i)] + score, (i, bent_i)
    pieces, end = [], (stop, False)
    while end[0] > start:
        begin = back[end]
        piece = grid.run(begin[0], end[0], begin[1], end[1])
        if reader.seen[piece] is not None:
            pieces.append(piece)
        end = begin
    pieces = pieces[::-1]
    if _zigzag(reader, pieces):  # a scribble's teeth: one part, not some of its strokes
        return (_part_score(reader, grid.piece, tall, cut=False), [grid.piece]) if (start, stop) == (0, n - 1) \
            else (-np.inf, [])
    return best.get((stop, False), -np.inf), pieces


def _slant(page: _Page, piece: _Piece) -> float:
    """How far the piece's ink leans, in columns per row down (negative: "/", its top to the
    right), from the second moments of its pixels."""
    _, _, mask = page.own(piece)
    y, x = np.nonzero(mask)  # (m,) each
    dy, dx = y - y.mean(), x - x.mean()  # (m,) each
    return float((dx * dy).sum() / max((dy * dy).sum(), 1e-9))


def _zigzag(reader: _Reader, pieces: list[_Piece]) -> bool:
    """Whether, of the ``pieces`` of one part read as "1"s, three in a row lean one way, the other,
    then the first again, each by more than ``ZIGZAG``: the teeth of a zigzag or the strokes of a
    "W", not ones (ones written side by side lean the same way); or two in a row lean apart by
    more than ``V_LEAN`` each: a "V" or a "Λ"."""
    lean = [_slant(reader.page, p) for p in pieces if int(reader.seen[p][1].argmax()) == 1]
    if any(min(abs(a), abs(b)) > V_LEAN and a * b < 0 for a, b in zip(lean, lean[1:])):
        return True
    return any(min(abs(a), abs(b), abs(c)) > ZIGZAG and a * b < 0 and b * c < 0
               for a, b, c in zip(lean, lean[1:], lean[2:]))


@dataclass
class _Line:
    """The parts of one line of digits, left to right, each with its cut columns, the line
    height ``tall`` and the joins of neighbouring parts that may be one digit (``joins[k]``: the
    parts ``k - 1`` and ``k`` as one piece, or None when they lie too far apart); ``across``: the
    lines across digits; ``marks``: the parts lower than ``SMALL`` of the tallest."""

    page: _Page
    tall: int
    grids: list[_Lattice]
    joins: list[_Piece | None]
    across: list[_Piece]
    marks: set[_Piece]

    @property
    def lone(self) -> bool:
        """Whether the line is one part besides marks."""
        return len(self.grids) - len(self.marks) == 1

    def candidates(self) -> list[_Piece]:
        """Every piece to read: each run of each part, each join, each line across digits."""
        runs = [g.run(*r) for g in self.grids for r in g.runs(self.tall)]
        ends = [p for k in range(len(self.grids)) for _, _, p in self.end_joins(k)]
        return runs + [p for p in self.joins if p is not None] + ends + self.across

    def end_joins(self, k: int) -> list[tuple[int, int, _Piece]]:
        """The ink of part ``k - 1`` right of its cut ``i`` joined with that of part ``k`` left of
        its cut ``j``, for every such pair but the two whole parts (``joins[k]``): ``(i, j,
        piece)``. A stroke drawn apart from the rest of its digit may touch the next digit instead
        (the loop of a "6" that touches the "9" after it, the body of a "5" whose flag reaches the
        next digit, the lower stroke of a "2" whose top touches the "5" before it). On a page of
        strokes, of parts that may be joined (``joins[k]``), between strokes. In a picture, of
        parts whose columns overlap (the stroke lies over the columns of the rest of its digit; 2
        candidates more a 4-digit number, where parts that merely lie near would make 30), at
        straight cuts, at most ``MAX_WIDTH`` line heights wide. A mark is joined whole."""
        if k == 0 or self.joins[k] is None and self.page.by_stroke:
            return []
        a, b = self.grids[k - 1], self.grids[k]
        if not self.page.by_stroke and self.page.box(b.piece)[0] >= self.page.box(a.piece)[2]:
            return []
        last = len(b.columns) - 1
        starts = range(len(a.columns) - 1) if a.piece not in self.marks else [0]
        stops = range(1, last + 1) if b.piece not in self.marks else [last]
        width = self.page.gray.shape[1]
        ends = []
        for i in starts:
            for j in stops:
                if (i, j) == (0, last):
                    continue
                if self.page.by_stroke:
                    left = frozenset(a.strokes[i:]) if a.strokes else a.piece.labels
                    right = frozenset(b.strokes[:j]) if b.strokes else b.piece.labels
                    ends.append((i, j, _Piece(left | right, 0, width)))
                elif b.columns[j] - a.columns[i] <= MAX_WIDTH * self.tall:
                    ends.append((i, j, _Piece(a.piece.labels | b.piece.labels, a.columns[i] if i else 0,
                                              b.columns[j] if j < last else width)))
        return ends

    def bend_doubtful(self, reader: _Reader) -> None:
        """Try bent cuts as well (:func:`with_bends`) in each part that may be touching digits the
        straight cuts did not part well: one whose best straight cutting
        (:func:`split_touching`) reads more than one digit, or reads the whole part under
        ``log(BEND_DOUBT)``. Not in a drawing of one part: bent, a letter's strokes come apart
        as digits; nor where the line would then have more than ``MAX_PIECES`` candidates; nor on
        a page of strokes, cut between strokes. The line's pieces must already be read."""
        if self.lone or self.page.by_stroke:
            return
        straight, self.grids = self.grids, list(self.grids)
        for k, grid in enumerate(straight):
            if grid.piece in self.marks or len(grid.columns) == 2:
                continue
            score, pieces = split_touching(reader, grid, self.tall)
            if pieces != [grid.piece] or score < np.log(BEND_DOUBT):
                self.grids[k] = with_bends(self.page, grid, self.tall)
        if len(self.candidates()) > MAX_PIECES:  # too many to read in good time: straight cuts alone
            self.grids = straight

    def best(self, reader: _Reader, skip: bool) -> tuple[list[_Piece], set[_Piece]]:
        """The pieces of the best reading, left to right, and those of them left out as no digit:
        dynamic programming over the parts, each part cut (:func:`split_touching`), joined to its
        left neighbour at ``JOIN_COST`` (also the ink left of one of its cuts with the
        neighbour's right of one of its own, the rest of each cut: :meth:`end_joins`; not where
        either side's ink is left out of the join as a fragment of the other's), or, with
        ``skip`` and a detector, left out at ``SKIP_COST``. A mark is not read alone: it is
        joined, or left out at ``MARK_COST``."""
        n = len(self.grids)
        best: list[tuple[float, list[_Piece], set[_Piece]]] = [(0.0, [], set())]
        for k in range(n):
            whole = self.grids[k].piece
            if whole in self.marks:
                options = [(best[k][0] - MARK_COST, best[k][1] + [whole], best[k][2] | {whole})]
            else:
                score, pieces = split_touching(reader, self.grids[k], self.tall)
                options = [(best[k][0] + score, best[k][1] + pieces, best[k][2])]
            if k > 0 and self.joins[k] is not None:
                joined = _part_score(reader, self.joins[k], self.tall, cut=False) - JOIN_COST
                options.append((best[k - 1][0] + joined, best[k - 1][1] + [self.joins[k]], best[k - 1][2]))
            for i, j, ends in self.end_joins(k):
                if not (self.page.holds(ends, self.grids[k - 1].piece.labels)
                        and self.page.holds(ends, self.grids[k].piece.labels)):
                    continue
                head, before = split_touching(reader, self.grids[k - 1], self.tall, stop=i) if i else (0.0, [])
                tail, after = split_touching(reader, self.grids[k], self.tall, start=j)
                joined = head + _part_score(reader, ends, self.tall, cut=False) - JOIN_COST + tail
                options.append((best[k - 1][0] + joined, best[k - 1][1] + before + [ends] + after, best[k - 1][2]))
            if skip and reader.detector and reader.seen[whole] is not None and whole not in self.marks:
                no_digit = np.log(max(1.0 - reader.evidence(whole), 1e-12)) - SKIP_COST
                options.append((best[k][0] + no_digit, best[k][1] + [whole], best[k][2] | {whole}))
            best.append(max(options, key=lambda o: o[0]))
        return best[-1][1], best[-1][2]


def line(page: _Page, cut_min: float = CUT_MIN) -> _Line:
    """The blobs of ``page``, strokes of one digit merged, each with its straight cut columns
    (from ``cut_min`` line heights wide, :func:`lattice`) and the joins of neighbours less than
    ``JOIN_GAP`` line heights apart; lines across digits apart; the marks, which the line height
    (the median height of the other parts) leaves out. On a page of strokes, the parts are
    measured before the strokes that touch are joined (:func:`merge_touching`): a number written
    touching is one part, as high as the whole line, but its strokes are still a digit's height;
    a mark stays apart, to join either neighbour or be left out, even where it touches one (the
    flag of a "5" reaching the next digit)."""
    blobs = components(page)
    across = lines_across(page, blobs)
    pieces = [p for p in merge_overlapping(page, [b for b in blobs if b not in across]) if page.box(p) is not None]
    boxes = [page.box(p) for p in pieces]
    highest = max((b[3] - b[1] for b in boxes), default=0)
    marks = {p for p, b in zip(pieces, boxes) if b[3] - b[1] < SMALL * highest}
    tall = int(np.median([b[3] - b[1] for p, b in zip(pieces, boxes) if p not in marks])) if boxes else 0
    if page.by_stroke:
        pieces = sorted(merge_touching(page, [p for p in pieces if p not in marks]) + list(marks),
                        key=lambda p: page.box(p)[0])
        boxes = [page.box(p) for p in pieces]
    joins: list[_Piece | None] = [None]
    for (a, ab), (b, bb) in zip(zip(pieces, boxes), zip(pieces[1:], boxes[1:])):
        near = bb[0] - ab[2] <= JOIN_GAP * tall and max(ab[2], bb[2]) - ab[0] <= MAX_WIDTH * tall
        joins.append(_Piece(a.labels | b.labels, 0, page.gray.shape[1]) if near else None)
    return _Line(page, tall, [lattice(page, p, tall, cut_min) for p in pieces], joins, across, marks)


def _sure(reader: _Reader, piece: _Piece, bar: float) -> bool:
    """Whether the read ``piece`` is surely a digit: not refused, and read with at least ``bar``
    calibrated confidence."""
    answer = reader.seen.get(piece)
    return answer is not None and not answer[2] and answer[1].max() >= bar


def _surest_column(reader: _Reader, cut: _Lattice, tall: int, bar: float) -> int | None:
    """The column of ``cut`` whose two halves, both read, are both :func:`_sure` at ``bar`` and
    score best together (:func:`_part_score`, each as a part of its own: a "1" cut from the digit
    after it may be narrow, and a pixel lower than the line), or None where no column's are."""
    last = len(cut.columns) - 1
    halves = [(cut.columns[c], cut.run(0, c), cut.run(c, last)) for c in range(1, last)]
    scored = [(_part_score(reader, a, tall, cut=False) + _part_score(reader, b, tall, cut=False), x)
              for x, a, b in halves if _sure(reader, a, bar) and _sure(reader, b, bar)]
    return max(scored)[1] if scored else None


def split_strokes(reader: _Reader, tall: int) -> np.ndarray | None:
    """The page's stroke ids ``(H, W)`` with each stroke that writes two digits, the pen not
    lifted between them, split in two at a column; None where no stroke does. Such a stroke is
    wider than ``THROUGH_NARROW`` line heights ``tall``, the reject option refuses it read whole,
    and its best cutting by columns, as a picture's part is cut (:func:`column_lattice`,
    :func:`split_touching`), is two pieces. A stroke wider than ``THROUGH`` is split there where
    both pieces are :func:`_sure` at ``THROUGH_SURE``; a narrower one (a "1" and its neighbour) at
    the column whose halves are both sure at ``THROUGH_NARROW_SURE`` and score best
    (:func:`_surest_column`): the best cutting often leaves a bit of the joining line on the "1".
    The two halves are then strokes of their own, and the line is read with them as usual.

    The pieces that start at the stroke's left edge and those that end at its right edge are read
    first: two sure digits start with one of the first and end with one of the others, so where no
    sure one of the first lies left of a sure one of the others, the stroke is left whole without
    reading the runs between inner cuts, in as little as a third of the time."""
    page = reader.page
    labels, count = page.labels.copy(), len(page.slices)
    cols = np.arange(labels.shape[1])  # (W,)
    for k, (_, span) in enumerate(page.slices, start=1):
        whole = _Piece(frozenset([k]), 0, labels.shape[1])
        width = span.stop - span.start
        if width <= THROUGH_NARROW * tall:
            continue
        reader.read([whole])
        if reader.seen[whole] is None or not reader.seen[whole][2]:
            continue
        wide = width > THROUGH * tall
        bar = THROUGH_SURE if wide else THROUGH_NARROW_SURE
        cut = column_lattice(page, whole, tall, CUT_MIN_DETECTOR)
        last = len(cut.columns) - 1
        ends = {(i, j): cut.run(i, j) for i, j, _, _ in cut.runs(tall) if (i == 0) != (j == last)}
        reader.read(list(ends.values()))
        sure = [(i, j) for (i, j), piece in ends.items() if _sure(reader, piece, bar)]
        if min((j for i, j in sure if i == 0), default=last) > max((i for i, j in sure if j == last), default=0):
            continue
        reader.read([cut.run(*r) for r in cut.runs(tall)])
        _, pieces = split_touching(reader, cut, tall)
        if len(pieces) != 2:
            continue
        if wide:
            at = pieces[1].x0 if all(_sure(reader, p, bar) for p in pieces) else None
        else:
            at = _surest_column(reader, cut, tall, bar)
        if at is not None:
            count += 1
            labels[(page.labels == k) & (cols >= at)] = count  # (H, W) the right digit's own id
    return labels if count > len(page.slices) else None


def ink(image: Any) -> np.ndarray:
    """The image's ink, bright on 0, ``(H, W)`` float32; raises ``BlankImageError`` without any."""
    gray = normalise_polarity(to_grayscale(image))  # (H, W)
    check_ink(gray)
    return gray


def stroke_labels(strokes: Any, shape: tuple[int, int]) -> np.ndarray:
    """The stroke ids ``strokes (H, W)`` (0 for none) numbered 1, 2, ... in their order, ``(H, W)``
    int64; a :class:`ValueError` for ids of another shape than the image's, or not whole numbers
    of 0 or more."""
    ids = np.asarray(strokes)
    if ids.shape != shape:
        raise ValueError(f"the strokes' ids are {ids.shape}, the image {shape}")
    if ids.dtype.kind not in "iu" or (ids.size and ids.min() < 0):
        raise ValueError("stroke ids must be whole numbers, 0 where no stroke painted")
    found, index = np.unique(ids, return_inverse=True)  # ids in order, and each pixel's place among them
    return (index.reshape(shape) + (found[0] != 0)).astype(np.int64)  # (H, W) 0 stays 0


def read(net: Any, meta: dict[str, Any], image: Any, use_reject: bool = True, strokes: np.ndarray | None = None
         ) -> Reading:
    """Read the number in ``image`` (anything :func:`digitnet.preprocess.to_grayscale` takes).

    ``strokes (H, W)``, where the pen's path is known (the app's pad), says which stroke painted
    each pixel (1, 2, ..., 0 for none): the parts are then the strokes (joined where their columns
    overlap), and a part is cut between its strokes (:func:`stroke_lattice`), through one only
    where it writes two sure digits without the pen lifted (:func:`split_strokes`).

    With ``use_reject``, a part is refused ("not a digit") when the model's reject option refuses
    it (:func:`digitnet.reject.classify`); but in a line of several parts, a part of a digit's size
    (its longer side at least ``CUT_HEIGHT`` of the line height, at most ``MAX_WIDTH`` wide) is
    held to a lower bar: the top calibrated probability :data:`READ_THRESHOLD`, or for a model with
    a detector (``net.detector``, which then decides alone, :meth:`_Reader.evidence`)
    :data:`READ_EVIDENCE` of the detector's threshold. A drawing of one part (and marks) has no
    other digits to be the size of: it is held to the model's own bar, and when it is cut into
    pieces of which one is refused, it is read as one part (a letter cut into a "1" and a refused
    rest is not a digit). A part the best reading leaves out (:meth:`_Line.best`) is not a digit
    either; nor is a mark left out or a line across digits, with the reject option or without.
    """
    gray = ink(image)
    page = _Page(gray, None if strokes is None else stroke_labels(strokes, gray.shape))
    reader = _Reader(net, meta, page)
    found = line(page, CUT_MIN_DETECTOR if reader.detector else CUT_MIN)
    if page.by_stroke:
        split = split_strokes(reader, found.tall)
        if split is not None:
            page = _Page(gray, split)
            reader = _Reader(net, meta, page)
            found = line(page, CUT_MIN_DETECTOR if reader.detector else CUT_MIN)
    reader.whole = {g.piece for g in found.grids} | {p for p in found.joins if p is not None}
    straight = found.candidates()
    if len(straight) > MAX_PIECES:
        raise ValueError(f"too many ways to cut this into digits ({len(straight):,}, at most "
                         f"{MAX_PIECES:,}): write fewer digits, larger and apart")
    reader.read(straight)
    found.bend_doubtful(reader)
    reader.read(found.candidates())
    tall, lone = found.tall, found.lone
    pieces, skipped = found.best(reader, use_reject)
    digits = [p for p in pieces if p not in skipped]
    if use_reject and lone and len(digits) > 1 and any(reader.seen[p][2] for p in digits):
        pieces, skipped = [g.piece for g in found.grids], set(found.marks)
    reading = Reading()
    for piece in pieces + found.across:
        answer = reader.seen[piece]
        if answer is None:  # a mark or a line across with nothing left once prepared: left out
            reading.parts.append(Part(page.box(piece), None, 0.0, reject.REASON))
            continue
        box, scores, refused, _ = answer
        digit, confidence = int(scores.argmax()), float(scores.max())
        sized = not lone and _size(box) >= CUT_HEIGHT * tall and box[2] - box[0] <= MAX_WIDTH * tall
        if reader.detector:
            kept = sized and reader.evidence(piece) >= READ_EVIDENCE * reader.threshold
        else:  # refused on the top probability alone
            kept = sized and confidence >= READ_THRESHOLD
        no_digit = piece in found.marks or piece in found.across  # with the reject option or without
        if no_digit or (use_reject and ((refused and not kept) or piece in skipped)):
            digit = None
        reading.parts.append(Part(box, digit, confidence, None if digit is not None else reject.REASON))
    reading.parts.sort(key=lambda part: part.box[0])
    return reading
