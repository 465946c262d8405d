"""Cutting a drawing into digits: blobs, strokes of one digit joined, touching digits split,
specks dropped, non-digits reported; numbers composed from real MNIST test digits."""

import numpy as np
import pytest

from digitnet.data import load_dataset
from digitnet.models import default_model_path
from digitnet.persistence import load_model
from digitnet.preprocess import BlankImageError
from digitnet import segment
from digitnet.segment import _Page, components, merge_overlapping, read, valleys


@pytest.fixture(scope="module")
def model():
    return load_model(default_model_path())


@pytest.fixture(scope="module")
def mnist(mnist_dir):
    test = load_dataset("mnist", mnist_dir, validation=0).test
    return test.X.reshape(-1, 28, 28), test.y


def crop(img):
    cols = np.flatnonzero(img.max(axis=0) > 0.1)
    return img[:, cols[0]:cols[-1] + 1]


def line(images, gaps, top=4):
    """Digits side by side, ``gaps[k]`` px between digit k and k + 1 (negative: pushed together)."""
    crops = [crop(i) for i in images]
    width = 16 + sum(c.shape[1] for c in crops) + sum(gaps)
    canvas = np.zeros((28 + 2 * top, width), np.float32)
    x = 8
    for k, c in enumerate(crops):
        region = canvas[top:top + 28, x:x + c.shape[1]]
        np.maximum(region, c, out=region)
        x += c.shape[1] + (gaps[k] if k < len(gaps) else 0)
    return canvas


def test_separate_digits_are_separate_blobs_read_left_to_right(model, mnist):
    X, y = mnist
    reading = read(*model, line(X[:5], [6, 6, 6, 6]))
    assert reading.number == "".join(map(str, y[:5])) == "72104"
    boxes = [p.box for p in reading.digits]
    assert boxes == sorted(boxes) and all(b[2] <= c[0] for b, c in zip(boxes, boxes[1:]))


def test_strokes_of_one_digit_that_do_not_touch_are_merged():
    """A "5" drawn in two strokes: the flag above, not touching the body, over the same columns."""
    img = np.zeros((40, 40), np.float32)
    img[8:10, 12:28] = 1.0  # the flag
    img[12:30, 12:14] = 1.0  # the body, two rows below
    img[20:22, 12:26] = 1.0
    img[20:30, 25:27] = 1.0
    page = _Page(img)
    blobs = components(page)
    assert len(blobs) == 2
    (merged,) = merge_overlapping(page, blobs)
    assert page.box(merged) == (12, 8, 28, 30)


def test_a_small_stroke_beside_a_digit_joins_it_but_a_far_one_does_not():
    img = np.zeros((40, 80), np.float32)
    img[8:30, 10:12] = 1.0  # a tall stroke
    img[8:10, 13:18] = 1.0  # a flag one pixel to its right, not touching
    img[8:30, 50:52] = 1.0  # another digit far away
    page = _Page(img)
    pieces = merge_overlapping(page, components(page))
    assert [page.box(p) for p in pieces] == [(10, 8, 18, 30), (50, 8, 52, 30)]


def test_specks_are_noise():
    img = np.zeros((40, 60), np.float32)
    img[8:30, 10:14] = 1.0
    img[35, 50] = 1.0  # one pixel of dust
    page = _Page(img)
    assert len(components(page)) == 1


def test_valleys_find_the_least_ink_columns_in_the_middle():
    profile = np.array([9, 9, 8, 7, 6, 1, 6, 7, 8, 9, 9, 9], float)
    assert valleys(profile)[0] == 5
    assert all(2 <= c <= len(profile) - 3 for c in valleys(profile))


def test_touching_digits_are_split(model, mnist):
    """Pairs of real digits pushed together until their strokes touch are read as two digits."""
    X, y = mnist
    rng = np.random.default_rng(0)
    right, tried = 0, 0
    for _ in range(30):
        i, j = rng.integers(len(X), size=2)
        img = line(X[[i, j]], [-1])
        page = _Page(img)
        if len(components(page)) != 1:  # they must really touch
            continue
        tried += 1
        right += read(*model, img).number == f"{y[i]}{y[j]}"
    assert tried >= 10 and right / tried >= 0.7


def test_parts_the_model_refuses_are_reported_with_their_boxes_not_read(model, mnist, monkeypatch):
    """With thresholds no part reaches, every part is reported as not a digit, in place."""
    X, _ = mnist
    net, meta = model
    strict = {**meta, "reject": {**meta["reject"], "threshold": 1.01}}
    monkeypatch.setattr(segment, "READ_THRESHOLD", 1.01)
    img = line(X[:3], [6, 6])
    reading = read(net, strict, img)
    assert reading.number == "" and len(reading.rejected) == 3
    assert all(p.reason == "not a digit" and p.digit is None for p in reading.rejected)
    assert [p.box for p in reading.rejected] == [p.box for p in read(net, meta, img).digits]
    assert read(net, strict, img, use_reject=False).number == "721"


def test_a_blank_image_is_refused():
    with pytest.raises(BlankImageError):
        read(None, {}, np.zeros((40, 40), np.float32))
