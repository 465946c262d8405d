"""The pad's strokes as the model reads them: painted again with a pen in proportion to the
drawing, so that a digit drawn small is its pen path and not a blob; real MNIST digits redrawn
from their pen paths at the size of a small drawing, read by the shipped model."""

from __future__ import annotations

import threading

import numpy as np
import pytest

pytest.importorskip("streamlit")  # the app extra; CI installs it
from digitnet.app import canvas, number  # noqa: E402
from digitnet.data import load_dataset  # noqa: E402
from digitnet.models import default_model_path  # noqa: E402
from digitnet.persistence import load_model  # noqa: E402
from digitnet.preprocess import to_mnist  # noqa: E402
from digitnet.strokes import digit_skeletons, pen_points  # noqa: E402
from test_e2e_browser import STROKES  # noqa: E402
from test_e2e_number import written  # noqa: E402


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
