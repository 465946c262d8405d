"""The pad's strokes as the model reads them: painted again with a pen in proportion to the
drawing, so that a digit drawn small is its pen path and not a blob; real MNIST digits redrawn
from their pen paths at the size of a small drawing, read by the shipped model; numbers read
with the pen's strokes, cut between strokes, and through one only where it writes two sure
digits."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from scipy.ndimage import label

pytest.importorskip("streamlit")  # the app extra; CI installs it
from digitnet import segment  # noqa: E402
from digitnet.app import canvas, number  # noqa: E402
from digitnet.data import load_dataset  # noqa: E402
from digitnet.models import default_model_path  # noqa: E402
from digitnet.persistence import load_model  # noqa: E402
from digitnet.preprocess import to_mnist  # noqa: E402
from digitnet.strokes import digit_skeletons, pen_points  # noqa: E402
from test_e2e_browser import STROKES  # noqa: E402
from test_e2e_number import CROSS, written  # noqa: E402


@pytest.fixture(scope="module")
def shipped():
    return load_model(default_model_path())


def small(shape, height: float) -> list:
    """A drawing of the 280-unit pad shrunk about its centre to ``height`` units high."""
    ys = [y for stroke in shape for _, y in stroke]
    k = height / (max(ys) - min(ys))
    return [[(140 + (x - 140) * k, 140 + (y - 140) * k) for x, y in stroke] for stroke in shape]


def test_the_reading_pen_is_the_pads_unless_far_from_the_drawings_size():
    low, high = canvas.READ_PEN
    assert canvas.reading_pen(200) == canvas.PEN  # 9 % of the size: as drawn
    assert canvas.reading_pen(40) == pytest.approx(high * 40)  # a small digit: 8 units, not 18
    assert canvas.reading_pen(600) == pytest.approx(low * 600)  # larger than the pad holds: 36 units
    assert canvas.reading_pen(0) == 1.0  # a dot
    assert canvas.extent([[[10, 20], [50, 30]], [[30, 120]]]) == (40.0, 100.0)
    assert canvas.extent([]) == (0.0, 0.0)


def test_a_small_zero_keeps_its_hole():
    """A "0" 24 units high: the pad's 18-unit pen fills its middle, the reading pen does not."""
    zero = small(STROKES[0], 24)
    as_drawn = canvas.rasterize(zero)
    as_read = canvas.rasterize(zero, pen=canvas.reading_pen(max(canvas.extent(zero))))
    assert as_drawn[140, 140, 0] == 255 and as_read[140, 140, 0] == 0


def test_mnist_digits_drawn_small_on_the_pad_are_read(shipped, mnist_dir):
    """300 MNIST test digits redrawn from their pen paths 40 units high (a seventh of the pad):
    read with the reading pen at least 97 % right. With the pad's own pen they are blobs whose
    loops are filled, worn down by ``to_mnist`` to their outline's shape: fewer are read (93.7 %),
    but most."""
    net, _ = shipped
    test = load_dataset("mnist", mnist_dir, validation=0).test
    y = test.y[:300]
    drawings = [[[p] for p in pen_points(s, 40, (140, 140))]
                for s in digit_skeletons(test.X[:300].reshape(-1, 28, 28))]
    right = {}
    for pen in (None, canvas.PEN):
        X = np.array([to_mnist(canvas.rasterize(d, pen=pen or canvas.reading_pen(max(canvas.extent(d)))))
                      for d in drawings])
        right[pen] = np.mean(net.predict(X) == y)
    assert right[None] >= 0.97 and 0.9 <= right[canvas.PEN] < right[None]


def test_a_number_written_small_is_read_and_boxed_around_its_ink(shipped):
    """Four digits 70 units high on the number pad: read right, each box around the ink the pad
    shows (grown back by half the difference between the pad's pen and the reading pen)."""
    net, meta = shipped
    strokes = written(*(small(STROKES[d], 70) for d in (7, 0, 4, 1)), step=90, scale=1.0)
    reading, problem = number.read_strokes(net, meta, threading.Lock(), strokes)
    assert problem is None and reading.number == "7041"
    for _, y0, _, y1 in (part.box for part in reading.parts):
        assert y1 - y0 == pytest.approx(70 + canvas.PEN, abs=2)  # the digit and the pad's pen around it


def test_boxes_grow_within_the_pad():
    reading = number.segment.Reading([number.segment.Part((2, 5, 50, 100), 1, 0.9)])
    assert number.as_drawn(reading, 4).parts[0].box == (0, 1, 54, 104)
    assert number.as_drawn(reading, 0).parts[0].box == (2, 5, 50, 100)


def test_stroke_ids_say_which_stroke_painted_each_pixel():
    strokes = [[(20, 140), (260, 140)], [(140, 20), (140, 260)], [(40, 40)]]
    ids = canvas.stroke_ids(strokes, pen=10)  # (280, 280)
    assert ids.dtype == np.int32 and ((ids > 0) == (canvas.rasterize(strokes, pen=10)[..., 0] > 0)).all()
    assert (ids[140, 30], ids[140, 140], ids[40, 40]) == (1, 2, 3)  # where two cross, the later one
    assert set(np.unique(canvas.stroke_ids(strokes, pen=10, ids=[5, 5, 9]))) == {0, 5, 9}


LETTERS = {
    "A": [[(70, 230), (140, 50), (210, 230)], [(100, 160), (180, 160)]],
    "V": [[(70, 50), (140, 230)], [(140, 230), (210, 50)]],
    "W": [[(50, 50), (90, 230)], [(90, 230), (140, 80)], [(140, 80), (190, 230)], [(190, 230), (230, 50)]],
    "N": [[(70, 230), (70, 50)], [(70, 50), (210, 230)], [(210, 230), (210, 50)]],
    "H": [[(70, 50), (70, 230)], [(210, 50), (210, 230)], [(70, 140), (210, 140)]],
}
"""Letters of straight strokes, each stroke alone a "1" (or a bar), all touching."""


def test_a_cross_or_a_letter_written_alone_is_not_cut_into_digits(shipped):
    """An "x" and letters of straight strokes: on the number pad, where the reader has the
    strokes, strokes that touch are one part, as their ink is, cut between strokes and never
    through one; its strokes read as "1"s leaning apart are no ones. None is read as a number:
    each is read whole and refused (the bar of the "H", a line across its two strokes, is
    reported apart); with each stroke a part of its own, "V", "W", "N" and "H" read "11", "1111",
    "1" and "11"."""
    net, meta = shipped
    for shape in (CROSS, *LETTERS.values()):
        reading, problem = number.read_strokes(net, meta, threading.Lock(), written(shape))
        assert problem is None and reading.number == "" and len(reading.rejected) == 1 + (shape is LETTERS["H"])


@pytest.fixture(scope="module")
def bench(benchmark_script):
    return benchmark_script("bench_pad_read")


def test_mnist_numbers_written_touching_are_read_with_their_strokes(shipped, mnist_dir, bench):
    """40 numbers of four MNIST test digits written on the number pad from their pen paths, every
    pair of neighbours overlapping by 5 units (``bench_pad_read``): read with the pen's strokes at
    least 38 right, and more than from the picture alone, which cuts through strokes."""
    net, meta = shipped
    test = load_dataset("mnist", mnist_dir, validation=0, progress=False).test
    X, y = test.X[:160].reshape(40, 4, 28, 28), test.y[:160].reshape(40, 4)
    rng = np.random.default_rng(0)
    right = np.zeros(2)
    for digits, truth in zip(X, y):
        paths = [bench.written(s, 150, rng) for s in digit_skeletons(digits)]
        readings = bench.reads(net, meta, *bench.layout(paths, canvas.reading_pen(150), rng, gap=-5))
        right += [r == "".join(map(str, truth)) for r in readings]
    picture, strokes = right
    assert strokes >= 38 and strokes > picture


def test_the_benchmark_writes_two_digits_in_one_stroke(mnist_dir, bench):
    """``bench_pad_read.layout(..., joined=k)``: path ``k`` and the one before it are one stroke,
    their dots and the line drawn between their nearest points sharing one id, and their ink is
    one blob however far apart they are written; the paths around them keep ids of their own.
    With ``join="bottom-top"`` the line runs from the lowest dot of one to the highest of the next."""
    test = load_dataset("mnist", mnist_dir, validation=0, progress=False).test
    rng = np.random.default_rng(0)
    paths = [bench.written(s, 150, rng) for s in digit_skeletons(test.X[:3].reshape(3, 28, 28))]
    pen = canvas.reading_pen(150)
    dots, ids = bench.layout(paths, pen, rng, gap=30, joined=2)
    firsts = len(paths[0][0])
    assert len(set(ids[:firsts])) == len(set(paths[0][1])) and set(ids[:firsts]).isdisjoint(ids[firsts:])
    assert len(set(ids[firsts:])) == 1 and len(dots) > sum(len(p[0]) for p in paths)  # the joining line's dots
    painted = canvas.stroke_ids(dots, number.WIDTH, pen, ids)
    joined = painted == ids[-1]
    _, n = label(joined, structure=np.ones((3, 3)))
    assert n == 1 and joined[:, :300].sum() < joined.sum()
    dots, _ = bench.layout(paths, pen, rng, gap=30, joined=2, join="bottom-top")
    points = np.array([d[0] for d in dots])  # (n, 2) each path's dots in turn, then the joining line's
    second, third = firsts + len(paths[1][0]), firsts + len(paths[1][0]) + len(paths[2][0])
    line = points[third:]  # from the second path's lowest dot (y grows downwards) to the third's highest
    assert line[0, 1] == points[firsts:second, 1].max() and line[-1, 1] == points[second:third, 1].min()


ONE_STROKE = {
    "W": [[(20, 50), (70, 230), (140, 80), (210, 230), (260, 50)]],
    "M": [[(30, 230), (30, 50), (140, 180), (250, 50), (250, 230)]],
    "zigzag": [[(10, 60), (60, 220), (110, 60), (160, 220), (210, 60), (260, 220)]],
    "spiral": [[(140 + 8 * t * np.cos(t), 140 + 8 * t * np.sin(t)) for t in np.linspace(0, 15, 120)]],
}
"""Shapes written in one stroke, wider than a digit."""


def test_a_letter_or_a_scribble_in_one_stroke_is_not_split_into_digits(shipped):
    """A stroke as wide as two digits, refused read whole, is split only where both halves are
    sure digits (``segment.THROUGH_SURE``): cut by columns, the "M" reads "14" (a "1" at 1.0, a
    "4" at 0.87), no pair of sure digits, so it is read whole and refused, as are the others."""
    net, meta = shipped
    for shape in ONE_STROKE.values():
        for scale in (0.8, 0.5):
            reading, problem = number.read_strokes(net, meta, threading.Lock(), written(shape, scale=scale))
            assert problem is None and reading.number == "" and len(reading.rejected) == 1


NARROW_PAIRS = {
    "12": [[(60, 40), (60, 240), (110, 80), (140, 45), (190, 45), (220, 85), (205, 140), (110, 240), (235, 240)]],
    "17": [[(60, 40), (60, 240), (110, 45), (230, 45), (150, 240)]],
    "21": [[(40, 80), (70, 45), (120, 45), (150, 85), (135, 140), (40, 240), (165, 240), (210, 40), (210, 240)]],
    "10": [[(60, 40), (60, 240)] + [(170 + 55 * np.sin(t), 140 - 100 * np.cos(t))
                                    for t in np.linspace(0, 2 * np.pi, 40)]],
}
"""A "1" and another digit written in one stroke, the pen going on from one to the other: 0.85 to
0.9 times as wide as high, narrower than ``segment.THROUGH`` line heights."""


def test_a_one_written_on_into_its_neighbour_in_one_stroke_is_split(shipped, monkeypatch):
    """Each pair of ``NARROW_PAIRS`` is read as its two digits: the stroke, refused whole, is
    split at the column whose halves both read with ``segment.THROUGH_NARROW_SURE`` (the best
    cutting leaves a bit of the line to the "2" on the "1", read at 0.80 and refused). Without
    the narrow rule, each is refused whole."""
    net, meta = shipped
    for narrow in (segment.THROUGH_NARROW, segment.THROUGH):
        monkeypatch.setattr(segment, "THROUGH_NARROW", narrow)
        for digits, shape in NARROW_PAIRS.items():
            reading, problem = number.read_strokes(net, meta, threading.Lock(), written(shape))
            split = narrow < segment.THROUGH
            assert problem is None and reading.number == (digits if split else "") and len(reading.parts) == 1 + split


def test_a_stroke_with_no_sure_digit_at_its_ends_is_left_whole_before_its_inner_cuts_are_read(shipped, monkeypatch):
    """The "W" written small is wider than ``segment.THROUGH`` line heights and refused whole, so
    it is cut by columns; but no piece from its left edge reads as a sure digit left of a sure one
    ending at its right edge, so no cutting of it is scored (``split_touching``), and it is refused."""
    net, meta = shipped
    cut, scored = [], []
    column_lattice, split_touching = segment.column_lattice, segment.split_touching
    monkeypatch.setattr(segment, "column_lattice", lambda *a, **k: cut.append(1) or column_lattice(*a, **k))
    monkeypatch.setattr(segment, "split_touching", lambda reader, grid, *a, **k:
                        scored.append(grid.strokes is None) or split_touching(reader, grid, *a, **k))
    reading, problem = number.read_strokes(net, meta, threading.Lock(), written(ONE_STROKE["W"], scale=0.5))
    assert problem is None and reading.number == "" and len(reading.rejected) == 1
    assert cut == [1] and not any(scored)


def test_two_digits_written_in_one_stroke_are_split(shipped, mnist_dir, bench, monkeypatch):
    """30 pairs of MNIST test digits written on the pad, each pair in one stroke, the pen drawing a
    line between them (``bench_pad_read.layout(..., joined=1)``): read with the strokes, at least
    12 pairs are read exactly, the stroke split in two; never split, none is."""
    net, meta = shipped
    test = load_dataset("mnist", mnist_dir, validation=0, progress=False).test
    X, y = test.X[:60].reshape(30, 2, 28, 28), test.y[:60].reshape(30, 2)
    right = {}
    for widths in ((segment.THROUGH_NARROW, segment.THROUGH), (np.inf, np.inf)):
        monkeypatch.setattr(segment, "THROUGH_NARROW", widths[0])
        monkeypatch.setattr(segment, "THROUGH", widths[1])
        rng = np.random.default_rng(0)
        right[widths] = 0
        for digits, truth in zip(X, y):
            paths = [bench.written(s, 150, rng) for s in digit_skeletons(digits)]
            _, with_strokes = bench.reads(net, meta, *bench.layout(paths, canvas.reading_pen(150), rng, 30, joined=1))
            right[widths] += with_strokes == "".join(map(str, truth))
    assert list(right.values())[0] >= 12 and right[np.inf, np.inf] == 0
