"""Styled digits (slashed zeros, crossed sevens, flagged ones) and fat-brush drawings: drawn where
each style puts its stroke or with a brush 22-50 % of the digit's height, appended to a training
split by ``with_styles``, ``with_fat_strokes``, ``digitnet train --styles`` and ``--fat-strokes``,
and counted as digits by the detector of a model trained with them (real MNIST)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from digitnet import cli, reject
from digitnet.data import Split, load_dataset
from digitnet.models import default_model_path
from digitnet.persistence import load_model, save_model
from digitnet.preprocess import to_mnist
from digitnet.strokes import redraw_digits
from digitnet.styles import (FAT_WIDTHS, OTHER_STYLES, STYLES, backslash, draw_style, fat_drawn, flag, slash,
                             with_fat_strokes, with_styles)


@pytest.fixture(scope="module")
def mnist(mnist_dir):
    return load_dataset("mnist", mnist_dir, validation=10_000, progress=False)


def _first(split, digit: int) -> np.ndarray:
    return split.X[split.y == digit][0].reshape(28, 28)  # (28, 28)


def test_the_slash_crosses_the_zero_beyond_its_box_and_the_flag_leaves_the_top_of_the_one(mnist):
    rng = np.random.default_rng(0)
    zero, one = _first(mnist.train, 0), _first(mnist.train, 1)
    rows, cols = np.flatnonzero(zero.max(axis=1) > 0.3), np.flatnonzero(zero.max(axis=0) > 0.3)
    (r0, c0), (r1, c1) = slash(zero, rng)
    assert r0 > rows[-1] and r1 < rows[0] and c0 < c1  # from below-left to above-right, past the box
    top = np.flatnonzero(one.max(axis=1) > 0.3)[0]
    (r0, c0), (r1, c1) = flag(one, rng)
    assert r0 == top and r1 > r0 and c1 < c0  # down and to the left from the top


def test_the_backslash_is_the_slash_in_a_mirror(mnist):
    zero = _first(mnist.train, 0)
    (r0, c0), (r1, c1) = slash(zero, np.random.default_rng(4))
    (b0, d0), (b1, d1) = backslash(zero, np.random.default_rng(4))
    cols = np.flatnonzero(zero.max(axis=0) > 0.3)
    middle = (cols[0] + cols[-1]) / 2
    assert (b0, b1) == (r1, r0) and b0 < b1 and d0 < d1  # from above-left to below-right
    assert (d0 + c1, d1 + c0) == pytest.approx((2 * middle, 2 * middle))  # mirrored about the box's middle


@pytest.mark.parametrize("style", [*STYLES, *OTHER_STYLES])
def test_a_styled_digit_is_the_digit_with_more_ink_prepared_as_mnist(mnist, style):
    digit, _ = {**STYLES, **OTHER_STYLES}[style]
    X = mnist.train.X[mnist.train.y == digit][:20]  # (20, 784)
    a = draw_style(X, style, np.random.default_rng(5))
    assert a.shape == (20, 784) and a.dtype == np.float32 and 0 <= a.min() and a.max() <= 1
    assert np.array_equal(a, draw_style(X, style, np.random.default_rng(5)))  # the seed fixes the drawing
    plain = np.array([to_mnist(x.reshape(28, 28)) for x in X])  # (20, 784)
    assert (np.abs(a - plain).sum(axis=1) > 1).all()  # every one carries its extra stroke


def test_with_styles_appends_n_of_each_style_and_leaves_the_split_as_it_was(mnist):
    small = dataclasses.replace(mnist, train=Split(mnist.train.X[:500], mnist.train.y[:500]))
    more = with_styles(small, 4, seed=2)
    assert len(more.train.X) == 512 and np.array_equal(more.train.X[:500], small.train.X)
    assert more.train.y[500:].tolist() == [0] * 4 + [7] * 4 + [1] * 4
    assert more.validation is small.validation and more.test is small.test
    assert np.array_equal(more.train.X, with_styles(small, 4, seed=2).train.X)
    assert with_styles(small, 0, seed=2) is small


@pytest.mark.parametrize("flag, images", [("--styles", 330), ("--fat-strokes", 310)])
def test_digitnet_train_adds_styled_or_fat_digits_and_records_it(tmp_path, mnist_dir, capsys, flag, images):
    """``--styles 10`` adds 10 digits of each of the 3 styles; ``--fat-strokes 10``, 10 drawings."""
    out = tmp_path / "extra.npz"
    assert cli.main(["train", "--sizes", "784,16,10", "--epochs", "1", "--limit", "300", "--validation", "1000",
                     flag, "10", "--data-dir", str(mnist_dir), "-o", str(out), "--no-progress"]) == 0
    assert f"{images} training images" in capsys.readouterr().out
    _, meta = load_model(out)
    assert meta["training"][flag[2:].replace("-", "_")] == 10 and f"{flag} 10" in meta["training"]["command"]


def test_the_detector_of_a_model_trained_with_styles_keeps_slashed_zeros(tmp_path, mnist_dir, mnist):
    """``digitnet detector`` for a model whose record says ``--styles`` counts the styled digits as
    digits and keeps the slashed zeros; for the same classifier recorded without styles, the
    detector learns MNIST's zeros only and refuses many of them (the classifier's features, which
    learnt them, still lie near a zero's)."""
    net, meta = load_model(default_model_path())
    zeros = draw_style(mnist.test.X[mnist.test.y == 0][:100], "slashed zero", np.random.default_rng(9))
    net.detector = None
    kept = {}
    for styles in (0, 400):
        base, out = tmp_path / f"base-{styles}.npz", tmp_path / f"with-detector-{styles}.npz"
        save_model(base, net, {"training": {**meta["training"], "styles": styles}, "dataset": meta["dataset"]})
        assert cli.main(["detector", str(base), "-o", str(out), "--limit", "3000", "--outliers", "1500",
                         "--data-dir", str(mnist_dir)]) == 0
        new, new_meta = load_model(out)
        digits, _, _ = reject.classify(new, new_meta, zeros.reshape(-1, *new.input_shape))
        kept[styles] = np.mean([d is not None for d in digits])
    assert kept[400] > 0.9 and kept[0] < kept[400] - 0.3, kept


@pytest.mark.parametrize("key", ["styles", "fat_strokes"])
def test_digitnet_detector_refuses_a_model_whose_styles_record_is_not_a_count(tmp_path, mnist_dir, capsys, key):
    net, meta = load_model(default_model_path())
    net.detector = None
    base = tmp_path / "odd.npz"
    save_model(base, net, {"training": {**meta["training"], key: "many"}, "dataset": meta["dataset"]})
    assert cli.main(["detector", str(base), "-o", str(tmp_path / "out.npz"), "--data-dir", str(mnist_dir)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"training.{key}" in err and not (tmp_path / "out.npz").exists()


def test_a_fat_drawing_is_the_digit_redrawn_with_a_fat_brush_and_worn_down_to_mnist(mnist):
    """Each drawing is ``to_mnist`` of the digit's skeleton painted with a brush of a width in
    ``FAT_WIDTHS``: wider strokes than MNIST's, worn down to a normal width, so the drawing has as
    much ink as the plain digit prepared the same way (within a half), not a blob's."""
    X, y = mnist.train.X[:60].copy(), mnist.train.y[:60].copy()
    y[:20] = 10  # non-digits (as with --outliers) are never redrawn
    a, labels = fat_drawn(X, y, 30, np.random.default_rng(3))
    assert a.shape == (30, 784) and a.dtype == np.float32 and 0 <= a.min() and a.max() <= 1
    b, again = fat_drawn(X, y, 30, np.random.default_rng(3))
    assert np.array_equal(a, b) and np.array_equal(labels, again)  # the seed fixes the drawing
    rng = np.random.default_rng(3)
    which = rng.choice(np.arange(20, 60), 30, replace=False)
    widths = rng.uniform(*FAT_WIDTHS, 30)
    assert np.array_equal(labels, y[which]) and (labels < 10).all()
    drawn = redraw_digits(X[which].reshape(-1, 28, 28), widths)  # (30, 152, 152)
    assert np.array_equal(a, np.array([to_mnist(d) for d in drawn]))
    plain = np.array([to_mnist(x.reshape(28, 28)) for x in X[which]])  # (30, 784)
    ratio = a.sum(axis=1) / plain.sum(axis=1)  # (30,)
    assert np.median(ratio) == pytest.approx(1, abs=0.5), ratio


def test_with_fat_strokes_appends_n_drawings_and_leaves_the_split_as_it_was(mnist):
    small = dataclasses.replace(mnist, train=Split(mnist.train.X[:300], mnist.train.y[:300]))
    more = with_fat_strokes(small, 6, seed=2)
    assert len(more.train.X) == 306 and np.array_equal(more.train.X[:300], small.train.X)
    assert np.array_equal(more.train.X, with_fat_strokes(small, 6, seed=2).train.X)
    assert more.validation is small.validation and with_fat_strokes(small, 0, seed=2) is small

